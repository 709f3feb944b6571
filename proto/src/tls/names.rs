//! Whether the certificate a peer presented is valid for a name. rustls has already verified the
//! chain to the cluster CA when these run; they check the end-entity certificate's subject
//! alternative names with webpki, the same check a TLS client makes of a server.

use rustls::pki_types::{CertificateDer, ServerName};

/// Whether `chain`'s end-entity certificate (the first) is valid for the DNS name `name`. `None`
/// (no certificate presented) and unparsable certificates are not valid for anything.
pub fn is_valid_for(chain: Option<&[CertificateDer<'_>]>, name: &str) -> bool {
    let Some(leaf) = chain.and_then(<[_]>::first) else {
        return false;
    };
    let Ok(name) = ServerName::try_from(name) else {
        return false;
    };
    webpki::EndEntityCert::try_from(leaf)
        .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(&name).is_ok())
}
