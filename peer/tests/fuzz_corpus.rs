//! Replays the fuzz corpora and regression inputs of this crate's decoders (`fuzz/corpus/<target>/`
//! and `fuzz/regressions/<target>/` at the repository root) through the entry points the fuzz
//! targets call, on stable: every input returns, decoded or refused, without a panic and within a
//! second, and some input of each target decodes (the corpus still holds valid messages).

fn replay(target: &str, entry: fn(&[u8]) -> bool) {
    proto::fuzz_entry::assert_replays(env!("CARGO_MANIFEST_DIR"), target, entry);
}

#[test]
fn peer_home_corpus_replays() {
    replay("peer_home", peer::fuzz_entry::peer_home);
}
