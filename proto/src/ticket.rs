//! Download tickets: a tracker's signed statement that a user may fetch one file of one group
//! during a time window. Seeders verify them offline with the cluster's public key, so any
//! tracker can issue them (the signing key is replicated) and a seeder needs no tracker to check.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::types::Sha1Digest;

/// What a ticket allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The user allowed to download.
    pub username: String,
    /// The group the file belongs to.
    pub group: String,
    /// The file's name in the group.
    pub file_name: String,
    /// The file's SHA-1, so a ticket for an old file of the same name is useless.
    pub file_hash: Sha1Digest,
    /// Valid from (ms since the Unix epoch).
    pub not_before_ms: u64,
    /// Valid until (ms since the Unix epoch).
    pub expires_at_ms: u64,
    /// The Ed25519 public key the downloader's daemon registered with the tracker: a seeder
    /// serves the ticket only over a TLS connection whose client certificate carries this key, so
    /// a copied ticket is worthless without the daemon's secret key.
    pub downloader_key: [u8; 32],
}

/// A ticket with the cluster's Ed25519 signature over its encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTicket {
    /// The encoded [`Ticket`] (what was signed).
    pub ticket_bytes: Vec<u8>,
    /// 64-byte Ed25519 signature.
    pub signature: Vec<u8>,
}

/// Why a ticket is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// Bytes or signature malformed.
    #[error("malformed ticket")]
    Malformed,
    /// Not signed by this cluster.
    #[error("ticket signature is not the cluster's")]
    BadSignature,
    /// Outside its window.
    #[error("ticket expired or not yet valid")]
    Expired,
    /// For another file.
    #[error("ticket is for another file")]
    WrongFile,
}

impl SignedTicket {
    /// Signs `ticket` with the cluster's secret key.
    ///
    /// # Errors
    /// [`TicketError::Malformed`] if the ticket cannot be encoded.
    pub fn sign(ticket: &Ticket, secret: &[u8; 32]) -> Result<Self, TicketError> {
        let ticket_bytes = crate::frame::encode(ticket).map_err(|_| TicketError::Malformed)?;
        let key = SigningKey::from_bytes(secret);
        let signature = key.sign(&ticket_bytes).to_bytes().to_vec();
        Ok(SignedTicket {
            ticket_bytes,
            signature,
        })
    }

    /// Checks the signature against `public_key` and the window against `now_ms`; returns the
    /// ticket if both hold.
    ///
    /// # Errors
    /// Any [`TicketError`].
    pub fn verify(&self, public_key: &[u8; 32], now_ms: u64) -> Result<Ticket, TicketError> {
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| TicketError::Malformed)?;
        let sig_bytes: [u8; 64] = self
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| TicketError::Malformed)?;
        key.verify(&self.ticket_bytes, &Signature::from_bytes(&sig_bytes))
            .map_err(|_| TicketError::BadSignature)?;
        let ticket: Ticket =
            crate::frame::decode(&self.ticket_bytes).map_err(|_| TicketError::Malformed)?;
        if now_ms < ticket.not_before_ms || now_ms >= ticket.expires_at_ms {
            return Err(TicketError::Expired);
        }
        Ok(ticket)
    }
}

/// The public key of a secret key.
pub fn public_key_of(secret: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(secret).verifying_key().to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket() -> Ticket {
        Ticket {
            username: "u".into(),
            group: "g".into(),
            file_name: "f".into(),
            file_hash: [3; 20],
            not_before_ms: 1000,
            expires_at_ms: 2000,
            downloader_key: [5; 32],
        }
    }

    #[test]
    fn sign_verify_and_every_refusal() {
        let secret = [7u8; 32];
        let public = public_key_of(&secret);
        let signed = SignedTicket::sign(&ticket(), &secret).unwrap();
        assert_eq!(signed.verify(&public, 1500), Ok(ticket()));
        assert_eq!(signed.verify(&public, 999), Err(TicketError::Expired));
        assert_eq!(signed.verify(&public, 2000), Err(TicketError::Expired));
        let other = public_key_of(&[8u8; 32]);
        assert_eq!(signed.verify(&other, 1500), Err(TicketError::BadSignature));
        let mut forged = signed.clone();
        let mut t = ticket();
        t.username = "mallory".into();
        forged.ticket_bytes = crate::frame::encode(&t).unwrap();
        assert_eq!(forged.verify(&public, 1500), Err(TicketError::BadSignature));
        let mut short = signed;
        short.signature.pop();
        assert_eq!(short.verify(&public, 1500), Err(TicketError::Malformed));
    }
}
