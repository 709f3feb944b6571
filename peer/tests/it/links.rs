//! The download folder and file links on a live swarm: `peer download GROUP NAME` without DEST
//! lands in the daemon's download folder and a second one refuses to overwrite; old resume state
//! in `HOME/downloads` moves to `HOME/partial` at start; a link printed by one member is
//! downloaded by another with `peer download LINK`, also from a home that has no tracker list
//! (the link's trackers), and a link whose size or SHA-1 was tampered with is refused.

use serde_json::Value;

use super::util::{group_with, random_file, same_bytes, Peer};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: not JSON: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_without_dest_land_in_the_folder_and_links_download_and_are_checked() {
    let root = tempfile::tempdir().unwrap();
    let (_cluster, mut alice, mut members) = group_with(root.path(), &["bob", "carol"]).await;
    let mut carol = members.remove(1);
    let mut bob = members.remove(0);
    // An old daemon's resume state in HOME/downloads: moved to HOME/partial at start.
    let old = bob.home.join("downloads");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("00112233445566ff.bits"), [0u8]).unwrap();
    alice.start_daemon(&[]).await;
    bob.start_daemon(&[]).await;
    assert!(!old.join("00112233445566ff.bits").exists());
    assert!(bob.home.join("partial/00112233445566ff.bits").exists());
    let folder = root.path().join("carol-folder");
    let folder_flag = format!("--download-dir={}", folder.display());
    carol.start_daemon(&[&folder_flag]).await;

    let src = root.path().join("f.bin");
    random_file(&src, 700_000, 5);
    alice.ok(&["upload", "g", src.to_str().unwrap()]);

    // No DEST: HOME/downloads/NAME (the default folder); again: refused, the file untouched.
    let out = bob.ok(&["download", "g", "f.bin"]);
    let landed = bob.home.join("downloads/f.bin");
    assert!(out.contains(&landed.display().to_string()), "{out}");
    assert!(same_bytes(&src, &landed));
    let refused = bob.fails(&["download", "g", "f.bin"]);
    assert!(
        refused.contains(&landed.display().to_string())
            && refused.contains("already exists")
            && refused.contains("pass DEST"),
        "{refused}"
    );
    assert!(same_bytes(&src, &landed));
    // Only the finished file is in the folder: the resume state is in HOME/partial.
    let listed: Vec<String> = std::fs::read_dir(bob.home.join("downloads"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, ["f.bin"]);

    // A link from alice: its fields, and carol downloads by it into her --download-dir.
    let made = json(&alice.ok(&["--json", "link", "g", "f.bin"]));
    let link = made["link"].as_str().unwrap().to_string();
    assert_eq!(made["size_bytes"], 700_000);
    assert_eq!(made["sha1"].as_str().unwrap().len(), 40);
    assert!(!made["trackers"].as_array().unwrap().is_empty(), "{made}");
    assert_eq!(alice.ok(&["link", "g", "f.bin"]).trim(), link);
    assert!(link.starts_with("p2p:?g=g&n=f.bin&s=700000&h="), "{link}");
    carol.ok(&["download", &link]);
    assert!(same_bytes(&src, &folder.join("f.bin")));
    // With DEST, from a home whose tracker list is gone: the link's trackers are used.
    std::fs::remove_file(carol.home.join("trackers")).unwrap();
    let dest = root.path().join("carol-copy.bin");
    let out = carol.run_without_trackers(&["download", &link, dest.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(same_bytes(&src, &dest));

    // Tampered size or SHA-1: refused, saying the file changed; nothing written.
    let sha = made["sha1"].as_str().unwrap();
    let flipped: String = sha
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                if c == '0' {
                    '1'
                } else {
                    '0'
                }
            } else {
                c
            }
        })
        .collect();
    for bad in [
        link.replace("s=700000", "s=700001"),
        link.replace(sha, &flipped),
    ] {
        let dest = root.path().join("tampered.bin");
        let refused = bob.fails(&["download", &bad, dest.to_str().unwrap()]);
        assert!(
            refused.contains("not the file the link describes") && refused.contains("new link"),
            "{refused}"
        );
        assert!(!dest.exists());
    }
    // Malformed: a clear error.
    let refused = bob.fails(&["download", "p2p:?g=g&n=f.bin&s=1"]);
    assert!(refused.contains("malformed link"), "{refused}");
    // Not a member: the link does not open the group.
    let dave = Peer::signup(root.path(), "dave", &_cluster);
    let refused = dave.fails(&["link", "g", "f.bin"]);
    assert!(refused.contains("member"), "{refused}");
}
