//! The certificate checks of the peer port, where no CA is involved: every daemon presents a
//! self-signed certificate for its own Ed25519 key, and a key is the identity.
//!
//! - [`PinnedSeeder`] (the downloader's server verifier) accepts a seeder only if the key of its
//!   end-entity certificate is the one the tracker listed for that source; dates, names and
//!   issuers do not matter, since the key is what the tracker vouched for.
//! - [`AnyEd25519Client`] (the seeder's client verifier) requires a client certificate and accepts
//!   any whose key is Ed25519; which key may download is the ticket's business, checked after the
//!   handshake against [`ed25519_key_of`] of the client's certificate.
//!
//! Neither verifies a signature itself: the handshake signature, the proof that the other side
//! holds the certificate's secret key, is checked by rustls's `verify_tls13_signature` with the
//! `ring` provider's Ed25519 algorithm, the only one offered or accepted. The key is read from the
//! certificate by webpki's X.509 parser; what is compared is the RFC 8410 encoding of the key.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// The DER of an Ed25519 SubjectPublicKeyInfo before its 32 key bytes (RFC 8410, section 4:
/// SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING with no unused bits }).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The only signature algorithm of the peer port.
pub(crate) static ED25519_ONLY: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[webpki::ring::ED25519],
    mapping: &[(SignatureScheme::ED25519, &[webpki::ring::ED25519])],
};

/// The Ed25519 public key of a certificate, or `None` if it is not a parseable X.509 certificate
/// or its key is of another kind.
pub fn ed25519_key_of(cert: &CertificateDer<'_>) -> Option<[u8; 32]> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    let spki = parsed.subject_public_key_info();
    let key = spki.as_ref().strip_prefix(&ED25519_SPKI_PREFIX[..])?;
    key.try_into().ok()
}

/// A seeder presented a key other than the one the tracker registered for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the seeder's key {} is not the key {} the tracker registered for it",
    short_hex(presented),
    short_hex(expected)
)]
pub struct PeerKeyMismatch {
    /// The key the tracker listed.
    pub expected: [u8; 32],
    /// The key of the certificate presented (all zeros if it was not an Ed25519 certificate).
    pub presented: [u8; 32],
}

/// The first 8 bytes of a key in hex, enough to tell keys apart in a log line.
fn short_hex(key: &[u8; 32]) -> String {
    let mut s = crate::types::to_hex(key.get(..8).unwrap_or(&[]));
    s.push('…');
    s
}

/// The handshake signature, checked by rustls with the Ed25519 algorithm only.
fn verify_signature(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    verify_tls13_signature(message, cert, dss, &ED25519_ONLY)
}

/// TLS 1.2 is never negotiated (the configurations offer TLS 1.3 only); refused if asked.
fn refuse_tls12() -> Result<HandshakeSignatureValid, rustls::Error> {
    Err(rustls::Error::General(
        "TLS 1.2 is not offered on the peer port".into(),
    ))
}

/// The downloader's check of a seeder: its certificate's key must be `expected`.
#[derive(Debug)]
pub struct PinnedSeeder {
    /// The key the tracker listed for the source.
    pub expected: [u8; 32],
}

impl ServerCertVerifier for PinnedSeeder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match ed25519_key_of(end_entity) {
            Some(key) if key == self.expected => Ok(ServerCertVerified::assertion()),
            presented => Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                rustls::OtherError(Arc::new(PeerKeyMismatch {
                    expected: self.expected,
                    presented: presented.unwrap_or([0; 32]),
                })),
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        refuse_tls12()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// The seeder's check of a downloader: a client certificate is required, and its key must be
/// Ed25519 (whose key it is, the ticket decides after the handshake).
#[derive(Debug)]
pub struct AnyEd25519Client;

impl ClientCertVerifier for AnyEd25519Client {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match ed25519_key_of(end_entity) {
            Some(_) => Ok(ClientCertVerified::assertion()),
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        refuse_tls12()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate of a fresh key made with `alg`, and the key's raw public bytes.
    fn cert_of(alg: &'static rcgen::SignatureAlgorithm) -> (CertificateDer<'static>, Vec<u8>) {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["peer".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.der().clone(), key.public_key_raw().to_vec())
    }

    fn name() -> ServerName<'static> {
        ServerName::try_from("peer").unwrap()
    }

    #[test]
    fn the_key_is_read_from_an_ed25519_certificate_and_nothing_else() {
        let (cert, raw) = cert_of(&rcgen::PKCS_ED25519);
        assert_eq!(ed25519_key_of(&cert).map(|k| k.to_vec()), Some(raw));
        let (p256, _) = cert_of(&rcgen::PKCS_ECDSA_P256_SHA256);
        assert_eq!(ed25519_key_of(&p256), None);
        assert_eq!(
            ed25519_key_of(&CertificateDer::from(vec![0x30, 0x03])),
            None
        );
    }

    #[test]
    fn a_seeder_is_accepted_only_with_the_pinned_key() {
        let (cert, raw) = cert_of(&rcgen::PKCS_ED25519);
        let expected: [u8; 32] = raw.as_slice().try_into().unwrap();
        let right = PinnedSeeder { expected };
        assert!(right
            .verify_server_cert(&cert, &[], &name(), &[], UnixTime::now())
            .is_ok());
        // Another key: refused, naming both.
        let (other, other_raw) = cert_of(&rcgen::PKCS_ED25519);
        let refused = right
            .verify_server_cert(&other, &[], &name(), &[], UnixTime::now())
            .unwrap_err();
        let rustls::Error::InvalidCertificate(CertificateError::Other(o)) = refused else {
            panic!("{refused:?}");
        };
        let mismatch = o.0.downcast_ref::<PeerKeyMismatch>().unwrap();
        assert_eq!(mismatch.expected, expected);
        assert_eq!(mismatch.presented.to_vec(), other_raw);
        assert!(mismatch.to_string().contains("not the key"), "{mismatch}");
        // A certificate of another kind of key: refused too.
        let (p256, _) = cert_of(&rcgen::PKCS_ECDSA_P256_SHA256);
        assert!(right
            .verify_server_cert(&p256, &[], &name(), &[], UnixTime::now())
            .is_err());
        assert_eq!(right.supported_verify_schemes(), [SignatureScheme::ED25519]);
    }

    #[test]
    fn a_downloader_needs_an_ed25519_certificate() {
        let v = AnyEd25519Client;
        assert!(v.client_auth_mandatory());
        let (cert, _) = cert_of(&rcgen::PKCS_ED25519);
        assert!(v.verify_client_cert(&cert, &[], UnixTime::now()).is_ok());
        let (p256, _) = cert_of(&rcgen::PKCS_ECDSA_P256_SHA256);
        assert!(v.verify_client_cert(&p256, &[], UnixTime::now()).is_err());
    }
}
