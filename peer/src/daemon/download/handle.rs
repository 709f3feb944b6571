//! [`DownloadHandle`]: a running or finished download as the seeder, the control server and
//! the download's own tasks see it, and [`DownloadRecord`], what `partial/<id>.json` holds.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use proto::ticket::SignedTicket;
use proto::tracker_msg::FileManifest;

use crate::control::{DownloadInfo, DownloadState};
use crate::error::DownloadError;
use crate::hashing::{chunk_range, sha1};
use crate::scheduler::{PeerKey, Progress, Scheduler, SharedScheduler};

use super::source_meter::SourceStats;
use super::speed::SpeedMeter;

/// What `partial/<id>.json` holds.
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
    /// Which chunk to ask which peer for, and which chunks are held.
    pub(super) sched: SharedScheduler,
    /// Running, complete or failed.
    state: Mutex<DownloadState>,
    /// Wakes the coordinator and idle peer tasks.
    pub(super) changed: Notify,
    /// Verified bytes.
    pub(super) bytes_done: AtomicU64,
    /// Source peers connected now.
    pub(super) peers_connected: AtomicU32,
    /// Samples of `bytes_done` for the speed figure (taken by the coordinator).
    speed: Mutex<SpeedMeter>,
    /// What each source's connections measured, for the listing.
    pub(super) sources: Mutex<BTreeMap<PeerKey, SourceStats>>,
    /// Chunks verified since the last resume flush.
    pub(super) unflushed: AtomicU32,
    /// Latest download ticket from the tracker (refreshed with the sources).
    pub(super) ticket: Mutex<Option<SignedTicket>>,
    /// Sources whose seeder presented another key than the tracker listed, with the listed key:
    /// not dialled again until the tracker lists a new key for them.
    pub(super) wrong_keys: Mutex<HashMap<PeerKey, [u8; 32]>>,
    /// The first error one of the download's tasks hit that ends the download (a chunk write
    /// that failed); the coordinator takes it and ends the download with it.
    failure: Mutex<Option<DownloadError>>,
}

/// Download id: stable for (group, name, dest).
pub fn download_id(group: &str, name: &str, dest: &std::path::Path) -> String {
    let key = format!("{group}\0{name}\0{}", dest.display());
    proto::tracker_msg::to_hex(&sha1(key.as_bytes())[..8])
}

impl DownloadHandle {
    /// The handle of `record`; `have[i]` marks chunks already verified on disk.
    pub(super) fn new(record: &DownloadRecord, have: &[bool]) -> Self {
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
            speed: Mutex::new(SpeedMeter::default()),
            sources: Mutex::new(BTreeMap::new()),
            unflushed: AtomicU32::new(0),
            ticket: Mutex::new(None),
            wrong_keys: Mutex::new(HashMap::new()),
            failure: Mutex::new(None),
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

    /// Sets the state and wakes everyone waiting for news.
    pub(super) fn set_state(&self, s: DownloadState) {
        if let Ok(mut st) = self.state.lock() {
            *st = s;
        }
        self.changed.notify_waiters();
    }

    /// Ends the download with `why` (the first such error wins): wakes the coordinator, which
    /// stops the download and reports it.
    pub(super) fn fail(&self, why: DownloadError) {
        if let Ok(mut f) = self.failure.lock() {
            f.get_or_insert(why);
        }
        self.changed.notify_waiters();
    }

    /// The error [`Self::fail`] recorded, if any (taken: the coordinator reports it once).
    pub(super) fn take_failure(&self) -> Option<DownloadError> {
        self.failure.lock().ok()?.take()
    }

    /// Stops a running download at the user's request: the coordinator ends it as
    /// [`DownloadState::Cancelled`] and removes its `.part` file. Returns whether it was running.
    pub fn cancel(&self) -> bool {
        if self.state() != DownloadState::Running {
            return false;
        }
        self.fail(DownloadError::Cancelled);
        true
    }

    /// Records the verified byte count now, for the speed figure (the coordinator calls this on
    /// every turn of its loop).
    pub(super) fn sample_speed(&self) {
        let done = self.bytes_done.load(Ordering::Relaxed);
        if let Ok(mut m) = self.speed.lock() {
            m.sample(Instant::now(), done);
        }
    }

    /// Updates what the listing shows of `peer` (created empty on first use).
    pub(super) fn update_source(&self, peer: PeerKey, update: impl FnOnce(&mut SourceStats)) {
        if let Ok(mut sources) = self.sources.lock() {
            update(sources.entry(peer).or_default());
        }
    }

    /// A listing row.
    pub fn info(&self) -> DownloadInfo {
        let Progress {
            chunks_done,
            by_peer,
        } = self.sched.progress();
        let bytes_done = self.bytes_done.load(Ordering::Relaxed);
        let state = self.state();
        let bytes_per_sec = match (&state, self.speed.lock()) {
            (DownloadState::Running, Ok(m)) => m.bytes_per_sec(Instant::now()),
            _ => 0,
        };
        let chunks_of = |peer: PeerKey| {
            by_peer
                .iter()
                .find(|(k, _)| *k == peer)
                .map_or(0, |(_, n)| *n)
        };
        let running = state == DownloadState::Running;
        let sources = match self.sources.lock() {
            Ok(sources) => sources
                .iter()
                .map(|(&peer, stats)| {
                    let mut info = stats.info(peer, chunks_of(peer));
                    if !running {
                        info.bytes_per_sec = 0;
                        info.connected = false;
                    }
                    info
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        DownloadInfo {
            sources,
            id: self.id.clone(),
            group: self.group.clone(),
            name: self.name.clone(),
            dest: self.dest.clone(),
            state,
            bytes_done,
            total_bytes: self.manifest.size_bytes,
            chunks_done: u32::try_from(chunks_done).unwrap_or(u32::MAX),
            chunk_count: u32::try_from(self.manifest.chunk_hashes.len()).unwrap_or(u32::MAX),
            peers: self.peers_connected.load(Ordering::Relaxed),
            bytes_per_sec,
            chunks_by_peer: by_peer,
        }
    }

    /// What to write to `partial/<id>.json`.
    pub(super) fn record(&self) -> DownloadRecord {
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
