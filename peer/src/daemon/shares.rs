//! Files this peer seeds from where they lie: uploads (checked against the size and
//! modification time recorded at upload) and finished downloads. Persisted in `HOME/shares.json`.
//! In memory only: which chunks of each file were found to hash right under its current size
//! and modification time ([`VerifiedChunks`]), so the seeder hashes each chunk once, not on
//! every request.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use proto::tracker_msg::FileManifest;

use crate::error::ShareChanged;
use crate::home::{check_stored_manifest, read_json, write_json_private, Home, HomeError};

/// Identity of a shared file: (group, name).
pub type ShareKey = (String, String);

/// One seeded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareEntry {
    /// Group.
    pub group: String,
    /// Name in the group.
    pub name: String,
    /// Where the bytes are.
    pub path: PathBuf,
    /// What the bytes must be.
    pub manifest: FileManifest,
    /// Size and modification time (ns since the epoch) when registered.
    pub fingerprint: Fingerprint,
}

/// What identifies an unchanged file cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Size in bytes.
    pub size_bytes: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: u128,
}

impl Fingerprint {
    /// Reads the fingerprint of `path`.
    ///
    /// # Errors
    /// If the file is gone or unreadable.
    pub fn of(path: &Path) -> std::io::Result<Self> {
        Self::of_metadata(&std::fs::metadata(path)?)
    }

    /// The fingerprint of an open file (`fstat`: cheap enough to check before every chunk).
    ///
    /// # Errors
    /// If the file cannot be queried.
    pub fn of_file(file: &File) -> std::io::Result<Self> {
        Self::of_metadata(&file.metadata()?)
    }

    fn of_metadata(meta: &std::fs::Metadata) -> std::io::Result<Self> {
        let mtime_ns = meta
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Ok(Fingerprint {
            size_bytes: meta.len(),
            mtime_ns,
        })
    }
}

/// Which chunks of a shared file hashed right while it had `fingerprint`.
pub struct VerifiedChunks {
    fingerprint: Fingerprint,
    chunks: Vec<AtomicBool>,
}

impl VerifiedChunks {
    fn new(fingerprint: Fingerprint, chunk_count: usize, all: bool) -> Self {
        VerifiedChunks {
            fingerprint,
            chunks: (0..chunk_count).map(|_| AtomicBool::new(all)).collect(),
        }
    }

    /// Whether chunk `index` hashed right under this fingerprint.
    pub fn contains(&self, index: u32) -> bool {
        self.chunks
            .get(index as usize)
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Records that chunk `index` hashed right.
    pub fn insert(&self, index: u32) {
        if let Some(c) = self.chunks.get(index as usize) {
            c.store(true, Ordering::Relaxed);
        }
    }
}

impl ShareEntry {
    /// `Ok` if the file is still the registered one (same size and modification time).
    ///
    /// # Errors
    /// [`ShareChanged::Gone`] or [`ShareChanged::Modified`].
    pub fn check_unchanged(&self) -> Result<(), ShareChanged> {
        match Fingerprint::of(&self.path) {
            Err(source) => Err(ShareChanged::Gone {
                path: self.path.clone(),
                source,
            }),
            Ok(now) => self.check_fingerprint(now),
        }
    }

    /// `Ok` if `now` is the registered fingerprint.
    ///
    /// # Errors
    /// [`ShareChanged::Modified`], saying what changed.
    pub fn check_fingerprint(&self, now: Fingerprint) -> Result<(), ShareChanged> {
        if now == self.fingerprint {
            return Ok(());
        }
        Err(ShareChanged::Modified {
            path: self.path.clone(),
            was_bytes: self.fingerprint.size_bytes,
            now_bytes: now.size_bytes,
        })
    }
}

/// The registry, shared by the seeder, the downloader and the control server.
pub struct Shares {
    home: Home,
    entries: Mutex<BTreeMap<ShareKey, Arc<ShareEntry>>>,
    verified: Mutex<HashMap<ShareKey, Arc<VerifiedChunks>>>,
}

impl Shares {
    /// Loads `HOME/shares.json` (empty if absent).
    ///
    /// # Errors
    /// If the file exists but cannot be read.
    pub fn load(home: &Home) -> Result<Self, HomeError> {
        let path = home.dir.join("shares.json");
        let list: Vec<ShareEntry> = if path.exists() {
            read_json(&path)?
        } else {
            Vec::new()
        };
        for entry in &list {
            check_stored_manifest(&path, &entry.manifest)?;
        }
        let entries = list
            .into_iter()
            .map(|e| ((e.group.clone(), e.name.clone()), Arc::new(e)))
            .collect();
        Ok(Shares {
            home: home.clone(),
            entries: Mutex::new(entries),
            verified: Mutex::default(),
        })
    }

    fn save(&self, entries: &BTreeMap<ShareKey, Arc<ShareEntry>>) -> Result<(), HomeError> {
        let list: Vec<&ShareEntry> = entries.values().map(|e| e.as_ref()).collect();
        write_json_private(&self.home.dir.join("shares.json"), &list)
    }

    /// The entry for (group, name).
    pub fn get(&self, group: &str, name: &str) -> Option<Arc<ShareEntry>> {
        let entries = self.entries.lock().ok()?;
        entries.get(&(group.to_string(), name.to_string())).cloned()
    }

    /// Every entry.
    pub fn all(&self) -> Vec<Arc<ShareEntry>> {
        self.entries
            .lock()
            .map(|e| e.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Adds or replaces an entry and persists; none of its chunks count as verified yet.
    ///
    /// # Errors
    /// If `shares.json` cannot be written.
    pub fn insert(&self, entry: ShareEntry) -> Result<(), HomeError> {
        self.insert_checked(entry, false)
    }

    /// Adds or replaces an entry whose every chunk was just hashed and found right under its
    /// fingerprint (a file hashed for upload, or a download verified in full), and persists.
    ///
    /// # Errors
    /// If `shares.json` cannot be written.
    pub fn insert_verified(&self, entry: ShareEntry) -> Result<(), HomeError> {
        self.insert_checked(entry, true)
    }

    fn insert_checked(&self, entry: ShareEntry, all_verified: bool) -> Result<(), HomeError> {
        let Ok(mut entries) = self.entries.lock() else {
            return Ok(());
        };
        let key = (entry.group.clone(), entry.name.clone());
        let marks = VerifiedChunks::new(
            entry.fingerprint,
            entry.manifest.chunk_hashes.len(),
            all_verified,
        );
        if let Ok(mut v) = self.verified.lock() {
            v.insert(key.clone(), Arc::new(marks));
        }
        entries.insert(key, Arc::new(entry));
        self.save(&entries)
    }

    /// The verified chunks of `entry` under its recorded fingerprint (none if the file was
    /// registered with another fingerprint since).
    pub fn verified(&self, entry: &ShareEntry) -> Arc<VerifiedChunks> {
        let fresh = || {
            Arc::new(VerifiedChunks::new(
                entry.fingerprint,
                entry.manifest.chunk_hashes.len(),
                false,
            ))
        };
        let Ok(mut v) = self.verified.lock() else {
            return fresh();
        };
        let key = (entry.group.clone(), entry.name.clone());
        match v.get(&key) {
            Some(marks) if marks.fingerprint == entry.fingerprint => marks.clone(),
            _ => {
                let marks = fresh();
                v.insert(key, marks.clone());
                marks
            }
        }
    }

    /// Removes an entry and persists; returns whether it existed.
    ///
    /// # Errors
    /// If `shares.json` cannot be written.
    pub fn remove(&self, group: &str, name: &str) -> Result<bool, HomeError> {
        let Ok(mut entries) = self.entries.lock() else {
            return Ok(false);
        };
        let key = (group.to_string(), name.to_string());
        if let Ok(mut v) = self.verified.lock() {
            v.remove(&key);
        }
        let existed = entries.remove(&key).is_some();
        if existed {
            self.save(&entries)?;
        }
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dir: &Path, fingerprint: Fingerprint) -> ShareEntry {
        ShareEntry {
            group: "g".into(),
            name: "f".into(),
            path: dir.join("f"),
            manifest: FileManifest {
                name: "f".into(),
                size_bytes: 10,
                chunk_size_bytes: 4,
                chunk_hashes: vec![[0; 20]; 3],
                file_hash: [0; 20],
            },
            fingerprint,
        }
    }

    #[test]
    fn verified_chunks_follow_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let shares = Shares::load(&Home::open(dir.path()).unwrap()).unwrap();
        let fp = |mtime_ns| Fingerprint {
            size_bytes: 10,
            mtime_ns,
        };
        shares.insert_verified(entry(dir.path(), fp(1))).unwrap();
        let e = shares.get("g", "f").unwrap();
        assert!((0..3).all(|i| shares.verified(&e).contains(i)));
        assert!(!shares.verified(&e).contains(3), "out of range");

        // Registered again (say, after a restart): nothing counts as hashed until it is.
        shares.insert(entry(dir.path(), fp(1))).unwrap();
        let marks = shares.verified(&shares.get("g", "f").unwrap());
        assert!(!marks.contains(1));
        marks.insert(1);
        assert!(shares.verified(&e).contains(1), "marks are shared");

        // Another fingerprint never inherits marks.
        let changed = entry(dir.path(), fp(2));
        assert!(!shares.verified(&changed).contains(1));
        shares.remove("g", "f").unwrap();
        assert!(!shares.verified(&e).contains(1));
    }
}
