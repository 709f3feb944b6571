//! Entry points of the fuzz targets (`fuzz/` at the repository root) and of the corpus replay
//! tests (`tests/fuzz_corpus.rs`): each takes arbitrary bytes, runs one decoder of this crate
//! over them as the node would on receiving or reopening them, and returns whether they
//! decoded. Hidden from the docs: they exist for those two callers only.

use openraft::{Entry, EntryPayload, LogId, StoredMembership, Vote};

use crate::domain::kv::{decode_record, Table};
use crate::domain::records::{ClientRec, FileRec, GroupRec, PeerRec, SessionRec, UserRec};
use crate::raft_net::msg::{RaftReply, RaftRequest};
use crate::raft_types::{NodeId, NodeInfo, TypeConfig};
use crate::store::{image, snapshot, undo};

/// Decodes the commands of every normal entry, as `apply` does; whether all decoded.
fn entries_decode(entries: &[Entry<TypeConfig>]) -> bool {
    entries.iter().all(|e| match &e.payload {
        EntryPayload::Normal(batch) => batch.decode().is_ok(),
        EntryPayload::Blank | EntryPayload::Membership(_) => true,
    })
}

/// A frame on the Raft port, as a request ([`RaftRequest`], the commands of appended entries
/// included) and as a reply ([`RaftReply`]).
pub fn raft_frame(data: &[u8]) -> bool {
    let request = match proto::frame::decode::<RaftRequest>(data) {
        Ok(RaftRequest::AppendEntries(append)) => entries_decode(&append.entries),
        Ok(_) => true,
        Err(_) => false,
    };
    let reply = proto::frame::decode::<RaftReply>(data).is_ok();
    request || reply
}

/// A stored record: the first byte picks which kind the rest is read as (a data table's record,
/// the applied state, or the log store's entries and meta values).
pub fn store_record(data: &[u8]) -> bool {
    let Some((&kind, bytes)) = data.split_first() else {
        return false;
    };
    match kind % 11 {
        0 => decode_record::<UserRec>(Table::Users, bytes).is_ok(),
        1 => decode_record::<SessionRec>(Table::Sessions, bytes).is_ok(),
        2 => decode_record::<GroupRec>(Table::Groups, bytes).is_ok(),
        3 => decode_record::<FileRec>(Table::Files, bytes).is_ok(),
        4 => decode_record::<PeerRec>(Table::Peers, bytes).is_ok(),
        5 => decode_record::<ClientRec>(Table::Clients, bytes).is_ok(),
        6 => decode_record::<LogId<NodeId>>(Table::Meta, bytes).is_ok(),
        7 => decode_record::<StoredMembership<NodeId, NodeInfo>>(Table::Meta, bytes).is_ok(),
        8 => proto::frame::decode::<Entry<TypeConfig>>(bytes)
            .is_ok_and(|e| entries_decode(std::slice::from_ref(&e))),
        9 => proto::frame::decode::<Vote<NodeId>>(bytes).is_ok(),
        _ => proto::frame::decode::<Option<LogId<NodeId>>>(bytes).is_ok(),
    }
}

/// The undo record of a drain, as recovery reads it ([`undo`]).
pub fn undo_record(data: &[u8]) -> bool {
    undo::decode(data).is_ok()
}

/// A stored snapshot (meta and image, as reopening reads it) and the bytes as a received image
/// ([`image::parse`], as an install checks it).
pub fn snapshot(data: &[u8]) -> bool {
    let stored = snapshot::decode_snapshot(data).is_ok_and(|s| image::parse(&s.data).is_ok());
    let image = image::parse(data).is_ok();
    stored || image
}
