//! Availability entries (which chunks a peer holds of a file, [`Table::Avail`]) written and
//! deleted through one place, which keeps each peer's index of them ([`Table::PeerAvail`]:
//! `peer id | group NUL file`), so forgetting a peer deletes its entries without a scan of every
//! file's ([`remove_peer`]).

use super::kv::{KvWrite, StoreError, Table};
use super::records::{avail_key, file_key, peer_of_avail_key};

/// Key of a peer's index entry for the file under `file_key` (`group NUL file`).
fn index_key(peer_id: u64, file_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + file_key.len());
    k.extend_from_slice(&peer_id.to_be_bytes());
    k.extend_from_slice(file_key);
    k
}

/// Stores a new entry (or replaces one): `peer_id` holds `bits` of file `name` of `group`.
pub fn insert(kv: &mut impl KvWrite, group: &str, name: &str, peer_id: u64, bits: Vec<u8>) {
    kv.put_raw(Table::Avail, avail_key(group, name, peer_id), bits);
    kv.put_raw(
        Table::PeerAvail,
        index_key(peer_id, &file_key(group, name)),
        Vec::new(),
    );
}

/// Replaces the bits of an entry that is stored already (its index entry is too).
pub fn update(kv: &mut impl KvWrite, group: &str, name: &str, peer_id: u64, bits: Vec<u8>) {
    kv.put_raw(Table::Avail, avail_key(group, name, peer_id), bits);
}

/// Deletes `peer_id`'s entry for file `name` of `group`, if any.
pub fn remove(kv: &mut impl KvWrite, group: &str, name: &str, peer_id: u64) {
    kv.delete(Table::Avail, avail_key(group, name, peer_id));
    kv.delete(Table::PeerAvail, index_key(peer_id, &file_key(group, name)));
}

/// Deletes the entry stored under `key` (a key of [`Table::Avail`], as a scan returned it).
pub fn remove_key(kv: &mut impl KvWrite, key: Vec<u8>) {
    // `group NUL name NUL peer id`: the file's key is what precedes the NUL and the 8 bytes.
    if let (Some(peer_id), Some(file)) = (
        peer_of_avail_key(&key),
        key.len().checked_sub(9).and_then(|end| key.get(..end)),
    ) {
        kv.delete(Table::PeerAvail, index_key(peer_id, file));
    }
    kv.delete(Table::Avail, key);
}

/// Deletes every entry of `peer_id`; returns how many.
///
/// # Errors
/// Storage errors.
pub fn remove_peer(kv: &mut impl KvWrite, peer_id: u64) -> Result<usize, StoreError> {
    let prefix = peer_id.to_be_bytes();
    let entries = kv.scan_raw(Table::PeerAvail, &prefix)?;
    let count = entries.len();
    for (k, _) in entries {
        if let Some(file) = k.get(8..) {
            let mut key = file.to_vec();
            key.push(0);
            key.extend_from_slice(&prefix);
            kv.delete(Table::Avail, key);
        }
        kv.delete(Table::PeerAvail, k);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kv::KvRead;
    use crate::domain::mem_kv::MemKv;

    #[test]
    fn a_peers_entries_are_indexed_and_removed_with_it() {
        let mut kv = MemKv::new();
        insert(&mut kv, "g", "f", 7, vec![1]);
        insert(&mut kv, "g", "f2", 7, vec![1]);
        insert(&mut kv, "h", "f", 7, vec![1]);
        insert(&mut kv, "g", "f", 8, vec![3]);
        update(&mut kv, "g", "f", 7, vec![3]);
        assert_eq!(kv.len(Table::PeerAvail), 4);
        assert_eq!(remove_peer(&mut kv, 7).unwrap(), 3);
        assert_eq!(kv.len(Table::Avail), 1);
        assert_eq!(kv.len(Table::PeerAvail), 1);
        assert_eq!(
            kv.get_raw(Table::Avail, &avail_key("g", "f", 8)).unwrap(),
            Some(vec![3])
        );
        remove(&mut kv, "g", "f", 8);
        assert_eq!(kv.len(Table::Avail) + kv.len(Table::PeerAvail), 0);
    }

    #[test]
    fn removing_by_key_drops_the_index_entry_too() {
        let mut kv = MemKv::new();
        insert(&mut kv, "g", "f", 7, vec![1]);
        remove_key(&mut kv, avail_key("g", "f", 7));
        assert_eq!(kv.len(Table::Avail) + kv.len(Table::PeerAvail), 0);
        // A key too short to name a peer is still deleted.
        kv.put_raw(Table::Avail, b"x".to_vec(), vec![1]);
        remove_key(&mut kv, b"x".to_vec());
        assert_eq!(kv.len(Table::Avail), 0);
    }
}
