//! When each offline peer was marked offline ([`Table::PeersOffline`]: peer id -> ms, both big
//! endian), the replicated "last seen" the leader forgets stale peers by. The time is the
//! marking entry's `now_ms`, chosen by the leader that proposed it; a peer that comes back
//! (marked online, or registered again) loses its stamp.

use super::kv::{KvRead, KvWrite, StoreError, Table};
use super::records::peer_key;

/// Records that `peer_id` went offline at `now_ms`.
pub fn stamp(kv: &mut impl KvWrite, peer_id: u64, now_ms: u64) {
    kv.put_raw(
        Table::PeersOffline,
        peer_key(peer_id),
        now_ms.to_be_bytes().to_vec(),
    );
}

/// Forgets `peer_id`'s stamp (it is online, or gone).
pub fn clear(kv: &mut impl KvWrite, peer_id: u64) {
    kv.delete(Table::PeersOffline, peer_key(peer_id));
}

/// When `peer_id` was marked offline, if it is stamped.
///
/// # Errors
/// Storage errors, or a stamp that is not 8 bytes.
pub fn since(kv: &impl KvRead, peer_id: u64) -> Result<Option<u64>, StoreError> {
    match kv.get_raw(Table::PeersOffline, &peer_key(peer_id))? {
        None => Ok(None),
        Some(bytes) => decode_stamp(&bytes).map(Some),
    }
}

/// A stamp's time.
///
/// # Errors
/// [`StoreError::Corrupt`] if it is not 8 bytes.
pub fn decode_stamp(bytes: &[u8]) -> Result<u64, StoreError> {
    let b: [u8; 8] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        table: Table::PeersOffline,
        reason: format!("an offline stamp of {} bytes", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(b))
}
