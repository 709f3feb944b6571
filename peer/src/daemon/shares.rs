//! Files this peer seeds from where they lie: uploads (checked against the size and
//! modification time recorded at upload) and finished downloads. Persisted in `HOME/shares.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use proto::tracker_msg::FileManifest;

use crate::home::{read_json, write_json_private, Home, HomeError};

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
        let meta = std::fs::metadata(path)?;
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

impl ShareEntry {
    /// `Ok` if the file is still the registered one (same size and modification time).
    ///
    /// # Errors
    /// A message saying what changed.
    pub fn check_unchanged(&self) -> Result<(), String> {
        match Fingerprint::of(&self.path) {
            Err(e) => Err(format!(
                "{} is gone or unreadable: {e}",
                self.path.display()
            )),
            Ok(f) if f != self.fingerprint => Err(format!(
                "{} changed since it was shared (size {} -> {}, modified again)",
                self.path.display(),
                self.fingerprint.size_bytes,
                f.size_bytes
            )),
            Ok(_) => Ok(()),
        }
    }
}

/// The registry, shared by the seeder, the downloader and the control server.
pub struct Shares {
    home: Home,
    entries: Mutex<BTreeMap<ShareKey, Arc<ShareEntry>>>,
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
        let entries = list
            .into_iter()
            .map(|e| ((e.group.clone(), e.name.clone()), Arc::new(e)))
            .collect();
        Ok(Shares {
            home: home.clone(),
            entries: Mutex::new(entries),
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

    /// Adds or replaces an entry and persists.
    ///
    /// # Errors
    /// If `shares.json` cannot be written.
    pub fn insert(&self, entry: ShareEntry) -> Result<(), HomeError> {
        let Ok(mut entries) = self.entries.lock() else {
            return Ok(());
        };
        entries.insert((entry.group.clone(), entry.name.clone()), Arc::new(entry));
        self.save(&entries)
    }

    /// Removes an entry and persists; returns whether it existed.
    ///
    /// # Errors
    /// If `shares.json` cannot be written.
    pub fn remove(&self, group: &str, name: &str) -> Result<bool, HomeError> {
        let Ok(mut entries) = self.entries.lock() else {
            return Ok(false);
        };
        let existed = entries
            .remove(&(group.to_string(), name.to_string()))
            .is_some();
        if existed {
            self.save(&entries)?;
        }
        Ok(existed)
    }
}
