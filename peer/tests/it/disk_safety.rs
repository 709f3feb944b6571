//! The download's files on disk against a hostile or full destination: a symbolic link planted
//! at `DEST.part` (before the download, or while the daemon is down) is refused and its target
//! untouched, a file that appears at `DEST` during the download is not replaced, and a full disk (a small tmpfs) ends the download at once with
//! "disk full at DEST", claiming only chunks that are really on disk.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use peer::control::{self, ControlRequest, ControlResponse, DownloadInfo, DownloadState};
use peer::daemon::download::download_id;
use peer::home::Home;

use super::util::{group_with, random_file, same_bytes, Peer};

const MIB: usize = 1 << 20;
const CHUNK: usize = 256 << 10;

/// The daemon's view of the download to `dest` (several downloads of one file may be listed).
async fn info_at(p: &Peer, dest: &Path) -> Option<DownloadInfo> {
    let home = Home::open(&p.home).unwrap();
    match control::call(&home, &ControlRequest::Downloads, Duration::from_secs(5)).await {
        Ok(ControlResponse::Downloads(list)) => list.into_iter().find(|d| d.dest == dest),
        _ => None,
    }
}

/// Waits until the download to `dest` has some bytes.
async fn wait_started(p: &Peer, dest: &Path, limit: Duration) {
    let start = Instant::now();
    while info_at(p, dest).await.is_none_or(|d| d.bytes_done == 0) {
        assert!(
            start.elapsed() < limit,
            "the download to {} did not start",
            dest.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the download to `dest` fails; returns why (fails the test if it completes).
async fn wait_failed(p: &Peer, dest: &Path, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        if let Some(DownloadInfo { state, .. }) = info_at(p, dest).await {
            match state {
                DownloadState::Failed(why) => return why,
                DownloadState::Complete | DownloadState::Cancelled => {
                    panic!("the download to {} should have failed", dest.display())
                }
                DownloadState::Running => {}
            }
        }
        assert!(
            start.elapsed() < limit,
            "the download to {} did not fail in {limit:?}",
            dest.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlinked_part_or_destination_is_refused_and_never_replaced() {
    let root = tempfile::tempdir().unwrap();
    let (_cluster, mut alice, mut peers) = group_with(root.path(), &["bob"]).await;
    let bob = &mut peers[0];
    let src = root.path().join("f.bin");
    random_file(&src, 8 * MIB, 31);
    alice.start_daemon(&["--upload-limit", "2M"]).await;
    bob.start_daemon(&[]).await;
    let chunk = CHUNK.to_string();
    alice.ok(&["upload", "g", src.to_str().unwrap(), "--chunk-size", &chunk]);

    // A link at DEST.part to a file of bob's: refused, the file keeps its bytes.
    let downloads = root.path().join("shared-dir");
    std::fs::create_dir(&downloads).unwrap();
    let victim = root.path().join("bob-notes.txt");
    std::fs::write(&victim, b"bob's own notes").unwrap();
    let dest = downloads.join("f.bin");
    let part = downloads.join("f.bin.part");
    std::os::unix::fs::symlink(&victim, &part).unwrap();
    let err = bob.fails(&["download", "g", "f.bin", dest.to_str().unwrap()]);
    assert!(err.contains("is a symbolic link"), "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"bob's own notes");
    assert_eq!(std::fs::read_link(&part).unwrap(), victim);
    assert!(std::fs::symlink_metadata(&dest).is_err(), "nothing at DEST");

    // A dangling link at DEST is something at DEST: refused, and nothing made at its target.
    let nowhere = root.path().join("nowhere");
    let dest2 = downloads.join("g.bin");
    std::os::unix::fs::symlink(&nowhere, &dest2).unwrap();
    let err = bob.fails(&["download", "g", "f.bin", dest2.to_str().unwrap()]);
    assert!(err.contains("already exists"), "{err}");
    assert!(!nowhere.exists());

    // A file that appears at DEST while downloading stays; the download stays at DEST.part.
    let dest3 = downloads.join("h.bin");
    bob.ok(&[
        "download",
        "g",
        "f.bin",
        dest3.to_str().unwrap(),
        "--detach",
    ]);
    wait_started(bob, &dest3, Duration::from_secs(60)).await;
    std::fs::write(&dest3, b"theirs").unwrap();
    let why = wait_failed(bob, &dest3, Duration::from_secs(60)).await;
    let part3 = downloads.join("h.bin.part");
    assert_eq!(
        why,
        format!(
            "{} already exists; the download is kept at {}",
            dest3.display(),
            part3.display()
        )
    );
    assert_eq!(std::fs::read(&dest3).unwrap(), b"theirs");
    assert!(
        same_bytes(&src, &part3),
        "the verified download is kept whole"
    );

    // A link put in place of DEST.part while the daemon is down: the resumed download fails
    // on it, and its target keeps its bytes.
    let dest4 = downloads.join("i.bin");
    let part4 = downloads.join("i.bin.part");
    bob.ok(&[
        "download",
        "g",
        "f.bin",
        dest4.to_str().unwrap(),
        "--detach",
    ]);
    wait_started(bob, &dest4, Duration::from_secs(60)).await;
    bob.kill_daemon();
    std::fs::remove_file(&part4).unwrap();
    std::os::unix::fs::symlink(&victim, &part4).unwrap();
    bob.restart_daemon().await;
    let why = wait_failed(bob, &dest4, Duration::from_secs(30)).await;
    assert!(why.contains("is a symbolic link"), "{why}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"bob's own notes");
    assert!(
        std::fs::symlink_metadata(&dest4).is_err(),
        "nothing at DEST"
    );
}

/// A tmpfs of `bytes` mounted at a directory (unmounted on drop), or why it cannot be.
struct SmallFs(CString);

impl SmallFs {
    fn mount(dir: &Path, bytes: usize) -> Result<SmallFs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let target = CString::new(dir.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
        let opts = CString::new(format!("size={bytes},mode=0755")).map_err(|e| e.to_string())?;
        // SAFETY: every pointer is a NUL-terminated string that outlives the call.
        let rc = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                opts.as_ptr().cast(),
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        Ok(SmallFs(target))
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        // SAFETY: a NUL-terminated path; MNT_DETACH also works while a file is still open.
        unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_ends_the_download_at_once_and_claims_only_what_is_on_disk() {
    let root = tempfile::tempdir().unwrap();
    let small_dir: PathBuf = root.path().join("small");
    let small = match SmallFs::mount(&small_dir, 3 * MIB) {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!("skipped: cannot mount a small tmpfs here ({why}); the unit tests in peer/src/daemon/download/store_test.rs cover the write path");
            return;
        }
    };
    let (_cluster, mut alice, mut peers) = group_with(root.path(), &["bob"]).await;
    let bob = &mut peers[0];
    let src = root.path().join("f.bin");
    random_file(&src, 8 * MIB, 37);
    alice.start_daemon(&[]).await;
    bob.start_daemon(&[]).await;
    let chunk = CHUNK.to_string();
    alice.ok(&["upload", "g", src.to_str().unwrap(), "--chunk-size", &chunk]);

    let dest = small_dir.join("f.bin");
    let started = Instant::now();
    let err = bob.fails(&["download", "g", "f.bin", dest.to_str().unwrap()]);
    let took = started.elapsed();
    assert!(
        err.contains(&format!("disk full at {}", dest.display())),
        "{err}"
    );
    assert!(
        took < Duration::from_secs(30),
        "a full disk must end it at once, took {took:?}"
    );
    assert!(!dest.exists());

    // The resume state claims no chunk that is not on disk with the right bytes.
    let id = download_id("g", "f.bin", &dest);
    let home = Home::open(&bob.home).unwrap();
    let bits = std::fs::read(home.partial_dir().join(format!("{id}.bits"))).unwrap();
    let part = std::fs::read(small_dir.join("f.bin.part")).unwrap();
    let want = std::fs::read(&src).unwrap();
    let mut claimed = 0;
    for i in 0..want.len() / CHUNK {
        if bits.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0) {
            claimed += 1;
            let at = i * CHUNK;
            assert_eq!(
                &part[at..at + CHUNK],
                &want[at..at + CHUNK],
                "chunk {i} claimed"
            );
        }
    }
    assert!(
        claimed < want.len() / CHUNK,
        "not everything fits: {claimed} claimed"
    );
    bob.kill_daemon();
    drop(small);
}
