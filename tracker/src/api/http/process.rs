//! This process's resource use for `GET /metrics`, read from `/proc/self` at scrape time (no
//! crate): resident memory, CPU seconds, open file descriptors, and the size of a directory tree
//! (the data directory). Each reader returns `None` where the file is missing or unreadable
//! (not Linux), and the scrape leaves that metric out.

use std::path::Path;

/// Most bytes read from one `/proc` file.
const MAX_PROC_FILE_BYTES: u64 = 64 * 1024;
/// Most directory entries [`dir_bytes`] looks at, and how deep it goes.
const MAX_DIR_ENTRIES: usize = 100_000;
const MAX_DIR_DEPTH: usize = 4;

/// Resource use of this process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessSample {
    /// Resident set size in bytes.
    pub resident_bytes: Option<u64>,
    /// User plus system CPU time in seconds.
    pub cpu_seconds: Option<f64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
}

/// Reads this process's sample.
pub fn sample() -> ProcessSample {
    ProcessSample {
        resident_bytes: read_small("/proc/self/statm")
            .and_then(|s| resident_bytes(&s, page_size())),
        cpu_seconds: read_small("/proc/self/stat").and_then(|s| cpu_seconds(&s, clock_ticks())),
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| u64::try_from(d.count()).unwrap_or(u64::MAX)),
    }
}

/// A `/proc` file's text, at most [`MAX_PROC_FILE_BYTES`].
fn read_small(path: &str) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_PROC_FILE_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(n).ok().filter(|n| *n > 0).unwrap_or(4096)
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let n = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(n).ok().filter(|n| *n > 0).unwrap_or(100)
}

/// Resident bytes from `/proc/self/statm` (its second field, in pages).
fn resident_bytes(statm: &str, page: u64) -> Option<u64> {
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages.saturating_mul(page))
}

/// CPU seconds from `/proc/self/stat`: utime and stime, the 14th and 15th fields, counted after
/// the command name in parentheses (which may itself hold spaces and parentheses).
fn cpu_seconds(stat: &str, ticks_per_second: u64) -> Option<f64> {
    let after_name = stat.get(stat.rfind(')')? + 1..)?;
    // The fields after the name start at the 3rd (state).
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime.saturating_add(stime) as f64 / ticks_per_second as f64)
}

/// Bytes of the regular files under `root` (at most [`MAX_DIR_ENTRIES`] entries,
/// [`MAX_DIR_DEPTH`] levels; links are not followed). `None` if `root` cannot be read.
pub fn dir_bytes(root: &Path) -> Option<u64> {
    let mut total = 0u64;
    let mut seen = 0usize;
    let mut pending = vec![(root.to_path_buf(), 0usize)];
    std::fs::read_dir(root).ok()?;
    while let Some((dir, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_DIR_ENTRIES {
                return Some(total);
            }
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_file() {
                total = total.saturating_add(meta.len());
            } else if meta.is_dir() && depth < MAX_DIR_DEPTH {
                pending.push((entry.path(), depth + 1));
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_statm_and_stat_and_refuses_garbage() {
        assert_eq!(resident_bytes("100 25 3 1 0 20 0\n", 4096), Some(25 * 4096));
        assert_eq!(resident_bytes("100", 4096), None);
        let stat = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(cpu_seconds(stat, 100), Some(3.0));
        assert_eq!(cpu_seconds("42 (tracker S 1", 100), None);
        assert_eq!(cpu_seconds("", 100), None);
    }

    #[test]
    fn this_process_has_memory_cpu_and_descriptors() {
        let s = sample();
        assert!(s.resident_bytes.unwrap() > 0);
        assert!(s.cpu_seconds.unwrap() >= 0.0);
        assert!(s.open_fds.unwrap() >= 3);
    }

    #[test]
    fn dir_bytes_adds_up_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 5]).unwrap();
        assert_eq!(dir_bytes(dir.path()), Some(15));
        assert_eq!(dir_bytes(&dir.path().join("missing")), None);
    }
}
