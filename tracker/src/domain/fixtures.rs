//! Test fixtures: records written straight into an in-memory KV, so each rule's test starts from
//! the state it needs without going through other rules.

use proto::tracker_msg::FileManifest;

use super::kv::{KvWrite, Table};
use super::mem_kv::MemKv;
use super::records::{file_key, peer_key, FileRec, GroupRec, PeerRec, SessionRec, UserRec};
use crate::cmd::TokenBytes;

/// When fixture sessions expire (ms).
pub const EXPIRES_AT_MS: u64 = 1_000_000;

/// Creates `user` (if new) with a session whose token is `[tag; 32]`; returns the token.
pub fn signed_in(kv: &mut MemKv, user: &str, tag: u8) -> TokenBytes {
    let rec = UserRec {
        password_hash: "hash".into(),
        created_at_ms: 0,
        display_name: None,
        last_login_ms: None,
    };
    kv.put(Table::Users, user.as_bytes().to_vec(), &rec)
        .unwrap();
    let token = [tag; 32];
    let session = SessionRec {
        username: user.into(),
        expires_at_ms: EXPIRES_AT_MS,
    };
    kv.put(Table::Sessions, token.to_vec(), &session).unwrap();
    token
}

/// Stores group `name` owned by `owner`, with `others` as further members (in that order).
pub fn group_of(kv: &mut MemKv, name: &str, owner: &str, others: &[&str]) {
    let mut members = vec![owner.to_string()];
    members.extend(others.iter().map(|m| m.to_string()));
    let rec = GroupRec {
        owner: owner.into(),
        members,
        requests: Vec::new(),
        created_at_ms: 0,
        open: false,
    };
    kv.put(Table::Groups, name.as_bytes().to_vec(), &rec)
        .unwrap();
}

/// A valid Ed25519 public key, different for each `id`.
pub fn peer_public_key(id: u64) -> [u8; 32] {
    let mut secret = [0u8; 32];
    secret[..8].copy_from_slice(&id.to_be_bytes());
    proto::ticket::public_key_of(&secret)
}

/// Stores online peer `id` owned by `user`.
pub fn peer_of(kv: &mut MemKv, id: u64, user: &str) {
    let rec = PeerRec {
        username: user.into(),
        addr: format!("127.0.0.1:{id}"),
        online: true,
        public_key: peer_public_key(id),
    };
    kv.put(Table::Peers, peer_key(id), &rec).unwrap();
}

/// A valid manifest of `chunks` chunks of 4 KiB.
pub fn manifest(name: &str, chunks: usize) -> FileManifest {
    FileManifest {
        name: name.into(),
        size_bytes: 4096 * chunks as u64,
        chunk_size_bytes: 4096,
        chunk_hashes: vec![[1; 20]; chunks],
        file_hash: [2; 20],
    }
}

/// Stores file `manifest` in `group`, uploaded by `user`.
pub fn file_in(kv: &mut MemKv, group: &str, manifest: FileManifest, user: &str) {
    let key = file_key(group, &manifest.name);
    let rec = FileRec {
        manifest,
        uploader: user.into(),
        registered_at_ms: 0,
    };
    kv.put(Table::Files, key, &rec).unwrap();
}
