//! Replays the fuzz corpora and regression inputs of this crate's decoders (`fuzz/corpus/<target>/`
//! and `fuzz/regressions/<target>/` at the repository root) through the entry points the fuzz
//! targets call, on stable: every input returns, decoded or refused, without a panic and within a
//! second, and some input of each target decodes (the corpus still holds valid messages).

use std::path::PathBuf;
use std::time::Duration;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn replay(target: &str, entry: fn(&[u8]) -> bool) {
    let seen = proto::fuzz_entry::replay(&fuzz_dir(), target, entry)
        .unwrap_or_else(|e| panic!("cannot read the corpus of {target}: {e}"));
    assert!(seen.inputs > 0, "no corpus for {target}");
    assert!(seen.decoded > 0, "no input of {target} decodes: {seen:?}");
    assert!(
        seen.slowest < Duration::from_secs(1),
        "an input of {target} took {:?}",
        seen.slowest
    );
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
