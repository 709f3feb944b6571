//! Replays the fuzz corpora and regression inputs of this crate's decoders (`fuzz/corpus/<target>/`
//! and `fuzz/regressions/<target>/` at the repository root) through the entry points the fuzz
//! targets call, on stable: every input returns, decoded or refused, without a panic and within a
//! second, and some input of each target decodes (the corpus still holds valid messages).

fn replay(target: &str, entry: fn(&[u8]) -> bool) {
    proto::fuzz_entry::assert_replays(env!("CARGO_MANIFEST_DIR"), target, entry);
}

#[test]
fn raft_frame_corpus_replays() {
    replay("raft_frame", tracker::fuzz_entry::raft_frame);
}

#[test]
fn store_record_corpus_replays() {
    replay("store_record", tracker::fuzz_entry::store_record);
}

#[test]
fn undo_record_corpus_replays() {
    replay("undo_record", tracker::fuzz_entry::undo_record);
}

#[test]
fn snapshot_corpus_replays() {
    replay("snapshot", tracker::fuzz_entry::snapshot);
}
