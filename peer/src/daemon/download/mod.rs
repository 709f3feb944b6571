//! One download: fetches the manifest, sources and a ticket from the tracker, connects to every
//! online peer that holds chunks, pipelines requests (queue depth follows each peer's measured
//! throughput), checks each chunk's SHA-1 off the executor, writes it at its offset into a
//! preallocated `.part` file (direct I/O where possible, see [`crate::chunk_store`]), serves and
//! reports it at once, and when every chunk is in, syncs the file and renames it into place.
//!
//! Every byte of the file belongs to exactly one chunk and every chunk is checked against the
//! SHA-1 the tracker holds for it before it is written, so the file is verified once the last
//! chunk is. The whole-file SHA-1 of the manifest is not computed again: that would be a second
//! SHA-1 pass over the file (plus reading it back), which cost as much CPU as the rest of the
//! download and, with chunks arriving in random order, ran mostly after the last chunk.
//!
//! Resume: `partial/<id>.json` holds the download and `partial/<id>.bits` the verified chunks;
//! the bits are written only after the data they claim was fsynced, and re-verified on restart.
//! A chunk is served and reported before that fsync; `store` says why that is safe.
//!
//! # Layout
//! - `handle`: the download as others see it, and its record on disk.
//! - `lookup`: the manifest, sources and ticket from the tracker.
//! - `start`: starting a download; resuming the unfinished ones.
//! - `part`: the `.part` file: created exclusively, reopened only if still ours, moved into
//!   place without replacing anything.
//! - `resume_file`: a download's record read back and checked.
//! - `drive`: the coordinator of one download.
//! - `fetch`: one task per source peer (reconnects with a backoff) and the handshake.
//! - `source`: one live connection to a source: the request pipeline and one step per event.
//! - `source_meter`: a source's measured throughput and round trip, and its listing row.
//! - `store`: verify, write, mark held and announce a chunk; the resume flush.
//! - `speed`: the speed over the last few seconds and the ETA.

mod drive;
mod fetch;
mod handle;
mod lookup;
mod part;
mod resume_file;
mod source;
mod source_meter;
mod speed;
mod start;
mod store;

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::chunk_store::ChunkFile;
use crate::io_buf::BufPool;

pub use handle::{download_id, part_path, DownloadHandle, DownloadRecord};
pub use part::open_checked as open_part;
pub use resume_file::decode_resume_record;
pub use speed::eta_secs;
pub use start::{default_dest, resume_all, start};

/// What a download's tasks share to move chunk bytes: the `.part` file, the buffer pool and
/// the verify slots.
struct DataPath {
    file: ChunkFile,
    pool: BufPool,
    slots: Arc<Semaphore>,
}

/// Encodes booleans as a bitfield (LSB first), as `partial/<id>.bits` and the tracker hold it.
fn bits_to_bytes(bits: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; bits.len().div_ceil(8)];
    for (i, &b) in bits.iter().enumerate() {
        if b {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

/// Decodes a bitfield (LSB first) into `n` booleans; missing bytes are zeros.
pub fn bytes_to_bits(bytes: &[u8], n: usize) -> Vec<bool> {
    (0..n)
        .map(|i| bytes.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0))
        .collect()
}
