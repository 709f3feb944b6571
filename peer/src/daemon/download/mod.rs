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
//! Resume: `downloads/<id>.json` holds the download and `downloads/<id>.bits` the verified chunks;
//! the bits are written only after the data they claim was fsynced, and re-verified on restart.
//! A chunk is served and reported before that fsync; `store` says why that is safe.
//!
//! # Layout
//! - `fetch`: one task per source peer (reconnects with a backoff) and the handshake.
//! - `source`: one live connection to a source: the request pipeline and one step per event.
//! - `store`: verify, write, mark held and announce a chunk; the resume flush.

mod fetch;
mod source;
mod store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};

use proto::ticket::SignedTicket;
use proto::tracker_msg::{FileManifest, ReadRequest, Response, Source};

use super::reporter::Have;
use super::shares::{Fingerprint, ShareEntry};
use super::Daemon;
use crate::chunk_store::ChunkFile;
use crate::control::{DownloadInfo, DownloadState};
use crate::error::DownloadError;
use crate::hashing::{chunk_range, sha1};
use crate::home::{read_json, write_json_private, write_private};
use crate::io_buf::{AlignedBuf, BufPool};
use crate::scheduler::{PeerKey, Progress, Scheduler, SharedScheduler};

/// How often sources (and the chunks partial seeders hold) are refreshed from the tracker: stale
/// holdings make downloaders ask the original seeder for chunks the swarm already has.
const REFRESH_EVERY: Duration = Duration::from_millis(250);
/// Give up after this long without any source or progress.
const STALL_LIMIT: Duration = Duration::from_secs(120);
/// Chunks being hashed and written at once (bounds memory).
const VERIFY_SLOTS: usize = 8;
/// Free chunk buffers kept for reuse: enough for the verify slots and the chunks being received.
const POOLED_BUFFERS: usize = VERIFY_SLOTS + 8;

/// What a download's tasks share to move chunk bytes: the `.part` file, the buffer pool and
/// the verify slots.
struct DataPath {
    file: ChunkFile,
    pool: BufPool,
    slots: Arc<Semaphore>,
}

/// What `downloads/<id>.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DownloadRecord {
    /// Id.
    pub id: String,
    /// Group.
    pub group: String,
    /// File name.
    pub name: String,
    /// Destination.
    pub dest: PathBuf,
    /// Manifest, once known.
    pub manifest: FileManifest,
    /// Final state.
    pub state: DownloadState,
}

/// A running or finished download, shared with the seeder and the control server.
pub struct DownloadHandle {
    /// Id.
    pub id: String,
    /// Group.
    pub group: String,
    /// File name.
    pub name: String,
    /// Destination.
    pub dest: PathBuf,
    /// Temporary file (renamed to `dest` when verified).
    pub part: PathBuf,
    /// What the file is.
    pub manifest: FileManifest,
    sched: SharedScheduler,
    state: Mutex<DownloadState>,
    /// Wakes the coordinator and idle peer tasks.
    changed: Notify,
    bytes_done: AtomicU64,
    peers_connected: AtomicU32,
    /// (time, bytes_done) samples for the speed figure.
    speed: Mutex<(Instant, u64, u64)>,
    /// Chunks verified since the last resume flush.
    unflushed: AtomicU32,
    /// Latest download ticket from the tracker (refreshed with the sources).
    ticket: Mutex<Option<SignedTicket>>,
}

/// Download id: stable for (group, name, dest).
pub fn download_id(group: &str, name: &str, dest: &std::path::Path) -> String {
    let key = format!("{group}\0{name}\0{}", dest.display());
    proto::tracker_msg::to_hex(&sha1(key.as_bytes())[..8])
}

impl DownloadHandle {
    fn new(record: &DownloadRecord, have: &[bool]) -> Self {
        let part = part_path(&record.dest);
        let seed = rand::Rng::gen::<u64>(&mut rand::thread_rng());
        let sched = Scheduler::new(record.manifest.chunk_hashes.len(), have, seed);
        let done_bytes: u64 = (0..record.manifest.chunk_hashes.len())
            .filter(|&i| have.get(i).copied().unwrap_or(false))
            .filter_map(|i| chunk_range(&record.manifest, u32::try_from(i).ok()?))
            .map(|(_, l)| l as u64)
            .sum();
        DownloadHandle {
            id: record.id.clone(),
            group: record.group.clone(),
            name: record.name.clone(),
            dest: record.dest.clone(),
            part,
            manifest: record.manifest.clone(),
            sched: SharedScheduler::new(sched),
            state: Mutex::new(record.state.clone()),
            changed: Notify::new(),
            bytes_done: AtomicU64::new(done_bytes),
            peers_connected: AtomicU32::new(0),
            speed: Mutex::new((Instant::now(), done_bytes, 0)),
            unflushed: AtomicU32::new(0),
            ticket: Mutex::new(None),
        }
    }

    /// Whether chunk `i` is verified on disk (the seeder serves it).
    pub fn has_chunk(&self, i: u32) -> bool {
        self.sched.has(i)
    }

    /// Current state.
    pub fn state(&self) -> DownloadState {
        self.state
            .lock()
            .map(|s| s.clone())
            .unwrap_or(DownloadState::Failed("poisoned".into()))
    }

    fn set_state(&self, s: DownloadState) {
        if let Ok(mut st) = self.state.lock() {
            *st = s;
        }
        self.changed.notify_waiters();
    }

    /// A listing row.
    pub fn info(&self) -> DownloadInfo {
        let Progress {
            chunks_done,
            by_peer,
        } = self.sched.progress();
        let bytes_done = self.bytes_done.load(Ordering::Relaxed);
        let bytes_per_sec = match self.speed.lock() {
            Ok(mut sp) => {
                let elapsed = sp.0.elapsed();
                if elapsed >= Duration::from_millis(500) {
                    let rate = (bytes_done.saturating_sub(sp.1)) as f64 / elapsed.as_secs_f64();
                    *sp = (Instant::now(), bytes_done, rate as u64);
                }
                sp.2
            }
            Err(_) => 0,
        };
        DownloadInfo {
            id: self.id.clone(),
            group: self.group.clone(),
            name: self.name.clone(),
            dest: self.dest.clone(),
            state: self.state(),
            bytes_done,
            total_bytes: self.manifest.size_bytes,
            chunks_done: u32::try_from(chunks_done).unwrap_or(u32::MAX),
            chunk_count: u32::try_from(self.manifest.chunk_hashes.len()).unwrap_or(u32::MAX),
            peers: self.peers_connected.load(Ordering::Relaxed),
            bytes_per_sec,
            chunks_by_peer: by_peer,
        }
    }

    fn record(&self) -> DownloadRecord {
        DownloadRecord {
            id: self.id.clone(),
            group: self.group.clone(),
            name: self.name.clone(),
            dest: self.dest.clone(),
            manifest: self.manifest.clone(),
            state: self.state(),
        }
    }
}

/// `dest` with `.part` appended.
pub fn part_path(dest: &std::path::Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

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

/// Fetches the manifest, sources and a ticket.
async fn fetch_sources(
    daemon: &Daemon,
    group: &str,
    name: &str,
) -> Result<(FileManifest, Vec<Source>, SignedTicket), DownloadError> {
    let token = daemon.token()?;
    match daemon
        .tracker
        .read(ReadRequest::FileSources {
            token,
            group: group.to_string(),
            name: name.to_string(),
        })
        .await
    {
        Ok(Response::Sources {
            manifest,
            sources,
            ticket: Some(ticket),
        }) => Ok((manifest, sources, ticket)),
        Ok(other) => Err(DownloadError::UnexpectedAnswer {
            answer: format!("{other:?}"),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Starts a new download (or returns the running one for the same destination).
///
/// # Errors
/// [`DownloadError`], whose message is for the user (unknown file, no access, bad destination).
pub async fn start(
    daemon: &Arc<Daemon>,
    group: String,
    name: String,
    dest: PathBuf,
) -> Result<String, DownloadError> {
    proto_check_name(&name)?;
    let id = download_id(&group, &name, &dest);
    if let Some(h) = daemon.download_by_id(&id) {
        if h.state() == DownloadState::Running || h.state() == DownloadState::Complete {
            return Ok(id);
        }
    }
    if dest.exists() {
        return Err(DownloadError::DestinationExists { path: dest });
    }
    let (manifest, _, _) = fetch_sources(daemon, &group, &name).await?;
    let record = DownloadRecord {
        id: id.clone(),
        group,
        name,
        dest,
        manifest,
        state: DownloadState::Running,
    };
    let part = part_path(&record.dest);
    let size = record.manifest.size_bytes;
    let p = part.clone();
    tokio::task::spawn_blocking(move || {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)?;
        f.set_len(size)?;
        Ok::<_, std::io::Error>(())
    })
    .await?
    .map_err(|source| DownloadError::CreatePart { path: part, source })?;
    let chunk_count = record.manifest.chunk_hashes.len();
    let home = daemon.home.clone();
    write_private(
        &home.downloads_dir().join(format!("{id}.bits")),
        &bits_to_bytes(&vec![false; chunk_count]),
    )?;
    write_json_private(&home.downloads_dir().join(format!("{id}.json")), &record)?;
    let handle = Arc::new(DownloadHandle::new(&record, &[]));
    daemon.add_download(handle.clone());
    tokio::spawn(run(daemon.clone(), handle));
    Ok(id)
}

fn proto_check_name(name: &str) -> Result<(), DownloadError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(DownloadError::NameNotAllowed {
            name: name.to_string(),
        });
    }
    Ok(())
}

/// Restarts unfinished downloads recorded in the home, re-verifying the chunks on disk.
pub async fn resume_all(daemon: &Arc<Daemon>) {
    let dir = daemon.home.downloads_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let record: DownloadRecord = match read_json(&path) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%e, "skipping an unreadable download record");
                continue;
            }
        };
        if record.state != DownloadState::Running {
            let h = Arc::new(DownloadHandle::new(
                &record,
                &vec![true; record.manifest.chunk_hashes.len()],
            ));
            daemon.add_download(h);
            continue;
        }
        let bits_path = dir.join(format!("{}.bits", record.id));
        let claimed = bytes_to_bits(
            &std::fs::read(&bits_path).unwrap_or_default(),
            record.manifest.chunk_hashes.len(),
        );
        let part = part_path(&record.dest);
        let manifest = record.manifest.clone();
        let have = tokio::task::spawn_blocking(move || reverify(&part, &manifest, &claimed))
            .await
            .unwrap_or_default();
        let good = have.iter().filter(|b| **b).count();
        tracing::info!(id = %record.id, name = %record.name, chunks = good, "resuming download");
        let handle = Arc::new(DownloadHandle::new(&record, &have));
        daemon.add_download(handle.clone());
        for (i, &h) in have.iter().enumerate() {
            if h {
                daemon.report(Have {
                    group: record.group.clone(),
                    name: record.name.clone(),
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                });
            }
        }
        tokio::spawn(run(daemon.clone(), handle));
    }
}

/// Which of the claimed chunks really hash right on disk (read direct where possible: a
/// download's data is written direct, so the page cache does not hold it).
fn reverify(part: &std::path::Path, m: &FileManifest, claimed: &[bool]) -> Vec<bool> {
    let Ok(file) = ChunkFile::open_read(part) else {
        return vec![false; claimed.len()];
    };
    let mut buf = AlignedBuf::new(usize::try_from(m.chunk_size_bytes).unwrap_or(usize::MAX));
    claimed
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            c && u32::try_from(i)
                .ok()
                .and_then(|idx| chunk_range(m, idx))
                .is_some_and(|(offset, len)| {
                    file.read_at(buf.data_mut(len), offset).is_ok()
                        && m.chunk_hashes.get(i) == Some(&sha1(buf.data(len)))
                })
        })
        .collect()
}

/// Drives one download to completion or failure.
async fn run(daemon: Arc<Daemon>, handle: Arc<DownloadHandle>) {
    let outcome = drive(&daemon, &handle).await;
    match outcome {
        Ok(()) => {
            tracing::info!(id = %handle.id, name = %handle.name, "download complete and verified");
            handle.set_state(DownloadState::Complete);
        }
        Err(why) => {
            tracing::warn!(id = %handle.id, name = %handle.name, %why, "download failed");
            handle.set_state(DownloadState::Failed(why.to_string()));
        }
    }
    let path = daemon
        .home
        .downloads_dir()
        .join(format!("{}.json", handle.id));
    if let Err(e) = write_json_private(&path, &handle.record()) {
        tracing::warn!(%e, "cannot record the download's final state");
    }
}

async fn drive(daemon: &Arc<Daemon>, h: &Arc<DownloadHandle>) -> Result<(), DownloadError> {
    let file = ChunkFile::open_rw(&h.part).map_err(|source| DownloadError::OpenPart {
        path: h.part.clone(),
        source,
    })?;
    let chunk_bytes = usize::try_from(h.manifest.chunk_size_bytes).unwrap_or(usize::MAX);
    let io = Arc::new(DataPath {
        file,
        pool: BufPool::new(chunk_bytes, POOLED_BUFFERS),
        slots: Arc::new(Semaphore::new(VERIFY_SLOTS)),
    });
    let mut peer_tasks: HashMap<PeerKey, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut last_progress = (Instant::now(), h.bytes_done.load(Ordering::Relaxed));
    let mut next_refresh = Instant::now();
    let mut last_flush = Instant::now();
    loop {
        if h.sched.is_complete() {
            break;
        }
        if Instant::now() >= next_refresh {
            next_refresh = Instant::now() + REFRESH_EVERY;
            match fetch_sources(daemon, &h.group, &h.name).await {
                Ok((manifest, sources, t)) => {
                    if manifest != h.manifest {
                        return Err(DownloadError::FileReplaced);
                    }
                    if let Ok(mut slot) = h.ticket.lock() {
                        *slot = Some(t);
                    }
                    for src in sources {
                        if src.peer_id == daemon.peer_id {
                            continue;
                        }
                        let bits = bytes_to_bits(&src.bitfield, h.manifest.chunk_hashes.len());
                        let useful = h.sched.set_peer_bitfield(src.peer_id, bits);
                        let running = peer_tasks
                            .get(&src.peer_id)
                            .is_some_and(|t| !t.is_finished());
                        tracing::debug!(
                            peer = src.peer_id,
                            held = src.bitfield.iter().map(|b| b.count_ones()).sum::<u32>(),
                            useful,
                            running,
                            "source"
                        );
                        if useful && !running {
                            let task = tokio::spawn(fetch::task_peer(
                                daemon.clone(),
                                h.clone(),
                                io.clone(),
                                src.peer_id,
                                src.addr.clone(),
                            ));
                            peer_tasks.insert(src.peer_id, task);
                        }
                    }
                    h.changed.notify_waiters();
                }
                Err(e) => tracing::warn!(%e, "could not refresh sources"),
            }
        }
        if last_flush.elapsed() >= Duration::from_secs(1) && h.unflushed.load(Ordering::Relaxed) > 0
        {
            store::flush_resume(daemon, h, &io).await;
            last_flush = Instant::now();
        }
        let done = h.bytes_done.load(Ordering::Relaxed);
        if done != last_progress.1 {
            last_progress = (Instant::now(), done);
        } else if last_progress.0.elapsed() > STALL_LIMIT {
            return Err(DownloadError::Stalled { after: STALL_LIMIT });
        }
        let _ = tokio::time::timeout(Duration::from_millis(250), h.changed.notified()).await;
    }
    for (_, t) in peer_tasks {
        t.abort();
    }
    // Wait for in-flight verifications to finish writing.
    let _ = io.slots.acquire_many(VERIFY_SLOTS as u32).await;
    h.changed.notify_waiters();
    let disk = io.clone();
    tokio::task::spawn_blocking(move || disk.file.sync_all())
        .await?
        .map_err(|source| DownloadError::SyncPart {
            path: h.part.clone(),
            source,
        })?;
    store::flush_resume(daemon, h, &io).await;
    std::fs::rename(&h.part, &h.dest).map_err(|source| DownloadError::MoveIntoPlace {
        path: h.dest.clone(),
        source,
    })?;
    let fingerprint =
        Fingerprint::of(&h.dest).map_err(|source| DownloadError::ReadDestination {
            path: h.dest.clone(),
            source,
        })?;
    daemon.shares.insert_verified(ShareEntry {
        group: h.group.clone(),
        name: h.name.clone(),
        path: h.dest.clone(),
        manifest: h.manifest.clone(),
        fingerprint,
    })?;
    Ok(())
}
