//! Tests of the `.part` file's safety: links and strangers' files are refused, nothing outside
//! is written, and the move into place never replaces what appeared at the destination.

use std::fs::File;
use std::os::unix::fs::symlink;

use super::*;

#[test]
fn a_fresh_part_is_created_exclusively_and_sized() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("f.part");
    create_fresh(&part, 10_000).unwrap();
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 10_000);
    let again = create_fresh(&part, 10_000).unwrap_err();
    assert!(matches!(again, DownloadError::PartExists { .. }), "{again}");
    assert!(again
        .to_string()
        .contains("remove it or choose another destination"));
    remove_stale(&part).unwrap();
    remove_stale(&part).unwrap();
    create_fresh(&part, 5).unwrap();
}

#[test]
fn a_symlinked_part_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("victim");
    std::fs::write(&target, b"precious").unwrap();
    let part = dir.path().join("f.part");
    symlink(&target, &part).unwrap();
    let created = create_fresh(&part, 1 << 20).unwrap_err();
    assert!(
        matches!(created, DownloadError::PartIsSymlink { .. }),
        "{created}"
    );
    assert!(
        created.to_string().contains("is a symbolic link"),
        "{created}"
    );
    for write in [true, false] {
        let opened = open_checked(&part, write).map(|_| ()).unwrap_err();
        assert!(
            matches!(opened, DownloadError::PartIsSymlink { .. }),
            "{opened}"
        );
    }
    // A dangling link is refused the same way, and nothing is created at its target.
    let gone = dir.path().join("not-there");
    let dangling = dir.path().join("g.part");
    symlink(&gone, &dangling).unwrap();
    assert!(matches!(
        create_fresh(&dangling, 10),
        Err(DownloadError::PartIsSymlink { .. })
    ));
    assert!(!gone.exists());
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    // Removing the stale link removes the link, not its target.
    remove_stale(&part).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
}

#[test]
fn a_resumed_part_must_be_a_plain_file_with_one_link() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("f.part");
    create_fresh(&part, 100).unwrap();
    open_checked(&part, true).unwrap();
    let other = dir.path().join("hard");
    std::fs::hard_link(&part, &other).unwrap();
    let linked = open_checked(&part, true).map(|_| ()).unwrap_err();
    assert!(
        matches!(linked, DownloadError::PartNotOurs { .. }),
        "{linked}"
    );
    assert!(linked.to_string().contains("2 links"), "{linked}");
    std::fs::remove_file(&other).unwrap();
    let a_dir = dir.path().join("d.part");
    std::fs::create_dir(&a_dir).unwrap();
    let not_file = open_checked(&a_dir, false).map(|_| ()).unwrap_err();
    assert!(
        matches!(
            not_file,
            DownloadError::PartNotOurs { .. } | DownloadError::OpenPart { .. }
        ),
        "{not_file}"
    );
}

#[test]
fn a_part_of_another_user_is_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: changing a file's owner needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("f.part");
    create_fresh(&part, 100).unwrap();
    std::os::unix::fs::chown(&part, Some(65534), None).unwrap();
    let err = open_checked(&part, true).map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("owned by uid 65534"), "{err}");
}

#[test]
fn moving_into_place_never_replaces_the_destination() {
    let dir = tempfile::tempdir().unwrap();
    let (part, dest) = (dir.path().join("f.part"), dir.path().join("f"));
    std::fs::write(&part, b"new").unwrap();
    let open = File::open(&part).unwrap();
    std::fs::write(&dest, b"theirs").unwrap();
    let err = move_into_place(&part, &open, &dest).unwrap_err();
    assert!(
        matches!(err, DownloadError::DestinationAppeared { .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{} already exists; the download is kept at {}",
            dest.display(),
            part.display()
        )
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"theirs");
    assert_eq!(std::fs::read(&part).unwrap(), b"new");
    // A link at the destination (even a dangling one) is not replaced nor followed.
    std::fs::remove_file(&dest).unwrap();
    let target = dir.path().join("target");
    symlink(&target, &dest).unwrap();
    assert!(matches!(
        move_into_place(&part, &open, &dest),
        Err(DownloadError::DestinationAppeared { .. })
    ));
    assert!(!target.exists());
    std::fs::remove_file(&dest).unwrap();
    move_into_place(&part, &open, &dest).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"new");
    assert!(!part.exists());
}

#[test]
fn the_link_fallback_never_replaces_either() {
    let dir = tempfile::tempdir().unwrap();
    let (part, dest) = (dir.path().join("f.part"), dir.path().join("f"));
    std::fs::write(&part, b"new").unwrap();
    std::fs::write(&dest, b"theirs").unwrap();
    assert!(matches!(
        link_then_unlink(&part, &dest),
        Err(DownloadError::DestinationAppeared { .. })
    ));
    assert_eq!(std::fs::read(&dest).unwrap(), b"theirs");
    std::fs::remove_file(&dest).unwrap();
    link_then_unlink(&part, &dest).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"new");
    assert!(!part.exists());
}

#[test]
fn a_part_swapped_before_the_move_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (part, dest) = (dir.path().join("f.part"), dir.path().join("f"));
    std::fs::write(&part, b"ours").unwrap();
    let open = File::open(&part).unwrap();
    std::fs::remove_file(&part).unwrap();
    std::fs::write(&part, b"planted").unwrap();
    let err = move_into_place(&part, &open, &dest).unwrap_err();
    assert!(matches!(err, DownloadError::PartReplaced { .. }), "{err}");
    assert!(!dest.exists());
}
