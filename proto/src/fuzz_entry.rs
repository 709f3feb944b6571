//! Entry points of the fuzz targets (`fuzz/` at the repository root) and of the corpus replay
//! tests (`tests/fuzz_corpus.rs`): each takes arbitrary bytes, runs one decoder of this crate
//! over them as a receiver would, and returns whether they decoded. Hidden from the docs: they
//! exist for those two callers only.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::frame::{decode, encode};
use crate::peer_msg::{read_frame_start, FrameStart, PeerFrame};
use crate::ticket::{SignedTicket, Ticket};
use crate::tracker_msg::{ClientFrame, ServerFrame};

/// Runs a future over an in-memory reader, which is never pending, to its end.
///
/// # Panics
/// If the future is pending (a reader that waits: a bug of the caller, not of the decoder).
fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("an in-memory read was pending"),
    }
}

/// A frame a tracker receives from a client ([`ClientFrame`]). Whatever decodes encodes again
/// and decodes to the same encoding.
pub fn client_frame(data: &[u8]) -> bool {
    let Ok(frame) = decode::<ClientFrame>(data) else {
        return false;
    };
    round_trips(&frame);
    true
}

/// A frame a client receives from a tracker ([`ServerFrame`]).
pub fn server_frame(data: &[u8]) -> bool {
    let Ok(frame) = decode::<ServerFrame>(data) else {
        return false;
    };
    round_trips(&frame);
    true
}

/// Encodes `value`, decodes that, and checks the second encoding is the first.
fn round_trips<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) {
    let Ok(bytes) = encode(value) else {
        panic!("a decoded message does not encode");
    };
    let Ok(again) = decode::<T>(&bytes) else {
        panic!("an encoded message does not decode");
    };
    assert!(
        encode(&again).ok() == Some(bytes),
        "the encoding is not stable"
    );
}

/// A peer frame: the body decoder ([`PeerFrame::decode`]), and the stream reader
/// ([`read_frame_start`]) over the same bytes taken as a stream (length prefix first). A decoded
/// frame encodes and decodes to itself.
pub fn peer_frame(data: &[u8]) -> bool {
    let decoded = PeerFrame::decode(data.to_vec());
    if let Ok(frame) = &decoded {
        let Ok(body) = frame.encode() else {
            panic!("a decoded peer frame does not encode");
        };
        assert!(
            PeerFrame::decode(body).ok().as_ref() == Some(frame),
            "a peer frame does not round-trip"
        );
    }
    let mut stream = data;
    if let Ok(Some(FrameStart::Chunk { data_len, .. })) = run_ready(read_frame_start(&mut stream)) {
        assert!(
            data_len <= crate::peer_msg::MAX_PEER_FRAME_BYTES,
            "a chunk over the frame limit"
        );
    }
    decoded.is_ok()
}

/// A download ticket as a seeder receives it ([`SignedTicket`]), checked against a fixed key, and
/// its inner [`Ticket`] decoded whatever the signature.
pub fn ticket(data: &[u8]) -> bool {
    let inner = decode::<Ticket>(data).is_ok();
    let Ok(signed) = decode::<SignedTicket>(data) else {
        return inner;
    };
    let _ = decode::<Ticket>(&signed.ticket_bytes);
    let _ = signed.verify(&crate::ticket::public_key_of(&[7; 32]), 1 << 40);
    true
}

/// What [`replay`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Inputs run.
    pub inputs: usize,
    /// Inputs that decoded.
    pub decoded: usize,
    /// The longest one input took.
    pub slowest: std::time::Duration,
}

/// Runs every file of `fuzz_dir/corpus/<target>/` and `fuzz_dir/regressions/<target>/` (either
/// may be missing) through `entry`, for the replay tests on stable.
///
/// # Errors
/// A directory or file that exists but cannot be read.
pub fn replay(
    fuzz_dir: &std::path::Path,
    target: &str,
    entry: fn(&[u8]) -> bool,
) -> std::io::Result<Replayed> {
    let mut seen = Replayed {
        inputs: 0,
        decoded: 0,
        slowest: std::time::Duration::ZERO,
    };
    for kind in ["corpus", "regressions"] {
        let dir = fuzz_dir.join(kind).join(target);
        if !dir.is_dir() {
            continue;
        }
        let mut paths: Vec<_> = std::fs::read_dir(&dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path)?;
            let started = std::time::Instant::now();
            seen.decoded += usize::from(entry(&bytes));
            seen.slowest = seen.slowest.max(started.elapsed());
            seen.inputs += 1;
        }
    }
    Ok(seen)
}

/// The check every replay test makes: replays `target` (see [`replay`]) from the `fuzz/` folder
/// beside `crate_dir` (a crate's `CARGO_MANIFEST_DIR`) and panics unless there is a corpus, some
/// input of it decodes, and no input took a second or more.
///
/// # Panics
/// On any of those, or if the corpus cannot be read: it is meant for tests.
pub fn assert_replays(crate_dir: &str, target: &str, entry: fn(&[u8]) -> bool) {
    let fuzz_dir = std::path::Path::new(crate_dir).join("../fuzz");
    let seen = match replay(&fuzz_dir, target, entry) {
        Ok(seen) => seen,
        Err(e) => panic!("cannot read the corpus of {target}: {e}"),
    };
    assert!(seen.inputs > 0, "no corpus for {target}");
    assert!(seen.decoded > 0, "no input of {target} decodes: {seen:?}");
    assert!(
        seen.slowest < std::time::Duration::from_secs(1),
        "an input of {target} took {:?}",
        seen.slowest
    );
}
