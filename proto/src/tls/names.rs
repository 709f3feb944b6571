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

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf_for(names: &[&str]) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let cert = rcgen::CertificateParams::new(names)
            .unwrap()
            .self_signed(&key)
            .unwrap();
        cert.der().clone()
    }

    #[test]
    fn only_the_leaf_names_count() {
        let admin = leaf_for(&["admin.tracker"]);
        let node = leaf_for(&["tracker", "node-2.raft"]);
        assert!(is_valid_for(
            Some(std::slice::from_ref(&admin)),
            "admin.tracker"
        ));
        assert!(!is_valid_for(Some(std::slice::from_ref(&admin)), "tracker"));
        assert!(is_valid_for(
            Some(std::slice::from_ref(&node)),
            "node-2.raft"
        ));
        assert!(!is_valid_for(
            Some(std::slice::from_ref(&node)),
            "node-22.raft"
        ));
        assert!(!is_valid_for(
            Some(std::slice::from_ref(&node)),
            "admin.tracker"
        ));
        // A name further down the chain is not the client's.
        assert!(!is_valid_for(Some(&[node, admin]), "admin.tracker"));
    }

    #[test]
    fn nothing_or_garbage_is_valid_for_nothing() {
        assert!(!is_valid_for(None, "admin.tracker"));
        assert!(!is_valid_for(Some(&[]), "admin.tracker"));
        let garbage = CertificateDer::from(vec![0x30, 0x03, 1, 2, 3]);
        assert!(!is_valid_for(Some(&[garbage]), "admin.tracker"));
        let node = leaf_for(&["tracker"]);
        assert!(!is_valid_for(Some(&[node]), "not a name!"));
    }
}
