//! Replays the fuzz corpora and regression inputs of this crate's decoders (`fuzz/corpus/<target>/`
//! and `fuzz/regressions/<target>/` at the repository root) through the entry points the fuzz
//! targets call, on stable: every input returns, decoded or refused, without a panic and within a
//! second, and some input of each target decodes (the corpus still holds valid messages).

fn replay(target: &str, entry: fn(&[u8]) -> bool) {
    proto::fuzz_entry::assert_replays(env!("CARGO_MANIFEST_DIR"), target, entry);
}

#[test]
fn client_frame_corpus_replays() {
    replay("client_frame", proto::fuzz_entry::client_frame);
}

#[test]
fn server_frame_corpus_replays() {
    replay("server_frame", proto::fuzz_entry::server_frame);
}

#[test]
fn peer_frame_corpus_replays() {
    replay("peer_frame", proto::fuzz_entry::peer_frame);
}

#[test]
fn ticket_corpus_replays() {
    replay("ticket", proto::fuzz_entry::ticket);
}
