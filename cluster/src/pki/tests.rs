//! The PKI's files, their modes, their reuse, and the names each certificate is valid for.

use std::os::unix::fs::PermissionsExt;

use proto::tls::{names::is_valid_for, pem, raft_name, NodeTls, ADMIN_NAME, TRACKER_NAME};

use super::Pki;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn creates_every_file_with_private_keys() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::open_or_create(dir.path()).unwrap();
    let node = pki
        .ensure_node(1, &["127.0.0.1:7000", "[::1]:7001"])
        .unwrap();
    let (admin_cert, admin_key) = pki.ensure_admin().unwrap();
    for key in [dir.path().join("ca.key"), node.key.clone(), admin_key] {
        assert_eq!(mode(&key), 0o600, "{}", key.display());
    }
    for cert in [dir.path().join("ca.pem"), node.cert.clone(), admin_cert] {
        assert_eq!(mode(&cert), 0o644, "{}", cert.display());
    }
    assert_eq!(node.cert, dir.path().join("node-1.pem"));
    assert_eq!(node.ca, dir.path().join("ca.pem"));
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_second_open_reuses_the_ca_and_every_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    {
        let pki = Pki::open_or_create(dir.path()).unwrap();
        pki.ensure_node(1, &["127.0.0.1:7000"]).unwrap();
        pki.ensure_admin().unwrap();
    }
    let before: Vec<Vec<u8>> = ["ca.pem", "ca.key", "node-1.pem", "node-1.key", "admin.pem"]
        .iter()
        .map(|n| read(n))
        .collect();
    let pki = Pki::open_or_create(dir.path()).unwrap();
    pki.ensure_node(1, &["127.0.0.1:7000"]).unwrap();
    pki.ensure_admin().unwrap();
    // A node added later is issued by the same CA, from ca.key alone.
    let node2 = pki.ensure_node(2, &["127.0.0.1:7002"]).unwrap();
    let after: Vec<Vec<u8>> = ["ca.pem", "ca.key", "node-1.pem", "node-1.key", "admin.pem"]
        .iter()
        .map(|n| read(n))
        .collect();
    assert_eq!(before, after);
    NodeTls::load(2, &node2.cert, &node2.key, &dir.path().join("ca.pem")).unwrap();
}

#[test]
fn each_certificate_is_valid_for_its_own_names_only() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::open_or_create(dir.path()).unwrap();
    let node = pki.ensure_node(3, &["127.0.0.1:7000"]).unwrap();
    let (admin_cert, _) = pki.ensure_admin().unwrap();
    let node_chain = pem::certs(&node.cert, "node").unwrap();
    let admin_chain = pem::certs(&admin_cert, "admin").unwrap();
    assert!(is_valid_for(Some(&node_chain), TRACKER_NAME));
    assert!(is_valid_for(Some(&node_chain), &raft_name(3)));
    assert!(!is_valid_for(Some(&node_chain), &raft_name(4)));
    assert!(!is_valid_for(Some(&node_chain), ADMIN_NAME));
    assert!(is_valid_for(Some(&admin_chain), ADMIN_NAME));
    assert!(!is_valid_for(Some(&admin_chain), &raft_name(3)));
    assert!(!is_valid_for(Some(&admin_chain), TRACKER_NAME));
    assert!(!is_valid_for(None, ADMIN_NAME));
}

#[test]
fn a_node_certificate_of_another_ca_does_not_load() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    Pki::open_or_create(ours.path()).unwrap();
    let foreign = Pki::open_or_create(theirs.path())
        .unwrap()
        .ensure_node(1, &[])
        .unwrap();
    let e = NodeTls::load(1, &foreign.cert, &foreign.key, &ours.path().join("ca.pem"))
        .err()
        .unwrap();
    assert!(e.to_string().contains("node-1.pem"), "{e}");
}

#[test]
fn a_ca_certificate_without_its_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    Pki::open_or_create(dir.path()).unwrap();
    std::fs::remove_file(dir.path().join("ca.key")).unwrap();
    let e = Pki::open_or_create(dir.path()).err().unwrap();
    assert!(e.to_string().contains("ca.key"), "{e}");
}
