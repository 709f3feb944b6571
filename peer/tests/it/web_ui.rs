//! The web UI in a real browser: bob makes his account on his daemon's page, signs out and in,
//! asks to join alice's group, opens it once accepted, downloads her files and watches the live
//! progress reach complete, finds them on his sharing screen and sees the cluster's leader;
//! he shares a file of his own and unpublishes it (the button shows on his file only); he copies
//! a file's link, downloads from it (a bad link refused inline) and finds the file by SHA-1.
//! Needs Debian's `chromium` and `chromium-driver`; without them the test says how to install
//! them and passes, unless `P2P_REQUIRE_BROWSER` is set (as `.ci/run` does).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::util::{random_file, same_bytes, start_cluster, Peer};
use super::webdriver::{Browser, BrowserPaths};

/// The file bob watches download (a few seconds at alice's capped upload).
const FILE: &str = "holiday.bin";
const FILE_BYTES: usize = 12 << 20;
/// A file bob shares and then unpublishes in the page.
const MINE: &str = "mine.bin";
/// A small file bob downloads first.
const NOTES: &str = "notes.txt";
const NOTES_BYTES: usize = 200_000;
/// A file name that would be markup if the page inserted it as HTML (the tracker allows it).
const HOSTILE: &str = "<img src=x onerror=document.title=1>.txt";
const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bob_downloads_through_the_web_ui() {
    let Some(paths) = BrowserPaths::find() else {
        let msg = "web UI test: chromium or chromedriver not found; install them with \
                   `apt-get install -y chromium chromium-driver` (or set CHROMIUM, CHROMEDRIVER)";
        assert!(
            std::env::var_os("P2P_REQUIRE_BROWSER").is_none(),
            "{msg} (P2P_REQUIRE_BROWSER is set)"
        );
        println!("{msg}; skipped");
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let cluster = start_cluster(&root.path().join("cluster")).await;
    let mut alice = Peer::signup(root.path(), "alice", &cluster);
    alice.ok(&["group", "create", "g"]);
    // Capped upload: the download lasts a few seconds, so the page shows it running.
    alice.start_daemon(&["--upload-limit", "3M"]).await;
    let src = root.path().join(FILE);
    random_file(&src, FILE_BYTES, 16);
    alice.ok(&["upload", "g", src.to_str().unwrap()]);
    let notes = root.path().join(NOTES);
    random_file(&notes, NOTES_BYTES, 17);
    alice.ok(&["upload", "g", notes.to_str().unwrap()]);
    let hostile = root.path().join("hostile.txt");
    random_file(&hostile, 1000, 18);
    alice.ok(&["upload", "g", hostile.to_str().unwrap(), "--name", HOSTILE]);

    // bob has no account yet: his daemon starts without a session, and the page makes one.
    let mut bob = Peer::fresh(root.path(), "bob", &cluster);
    let ca = cluster.ca_file().display().to_string();
    bob.start_daemon(&["--ca", &ca]).await;
    let link = ui_link(&bob).await;
    let mine = root.path().join(MINE);
    random_file(&mine, 50_000, 19);
    let by_link = bob.home.join("notes-by-link.txt");

    let shots = root.path().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let result = tokio::task::block_in_place(|| {
        let browser = Browser::start(&paths, root.path())?;
        let r = drive(&browser, &link, &alice, &shots, &mine, &by_link);
        if r.is_err() {
            let _ = browser.screenshot(&shots.join("failure.png"));
            eprintln!("browser console: {:#?}", browser.console());
        }
        r
    });
    let dests = match result {
        Ok(dests) => dests,
        Err(e) => {
            // Keep the directory: the screenshots and logs are what explain the failure.
            let kept = root.keep();
            panic!(
                "{e:#}\nkept {}: screenshots/, bob/daemon.log, chromedriver.log",
                kept.display()
            )
        }
    };
    println!("web UI screenshots: {}", shots.display());
    let listed = alice.ok(&["files", "g"]);
    assert!(
        !listed.contains(MINE),
        "unpublished in the UI but listed: {listed}"
    );
    assert!(
        same_bytes(&notes, &by_link),
        "downloaded from the link to {}, not the same bytes",
        by_link.display()
    );
    for (orig, dest) in [&src, &notes].into_iter().zip(&dests) {
        assert!(
            dest.starts_with(&bob.home),
            "the default destination {} is outside bob's home",
            dest.display()
        );
        assert!(
            same_bytes(orig, dest),
            "{} differs from {}",
            dest.display(),
            orig.display()
        );
    }
    // Keep the screenshots when asked (to look at them, or to refresh docs/ui.png).
    if let Some(keep) = std::env::var_os("P2P_UI_SCREENSHOTS") {
        let keep = Path::new(&keep);
        std::fs::create_dir_all(keep).unwrap();
        for e in std::fs::read_dir(&shots).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), keep.join(e.file_name())).unwrap();
        }
        println!("copied to {}", keep.display());
    }
    drop(cluster);
}

/// The link `peer ui` prints once the daemon has written its address.
async fn ui_link(p: &Peer) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let out = p.run(&["ui", "--json"]);
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let url = v["url"].as_str().unwrap().to_string();
            assert!(url.contains("?token="), "{url}");
            return url;
        }
        assert!(
            Instant::now() < deadline,
            "`peer ui` gave no link: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every step bob takes in the browser; alice accepts him from her command line. Returns where
/// the downloads screen says the two files went (FILE, NOTES).
fn drive(
    b: &Browser,
    link: &str,
    alice: &Peer,
    shots: &Path,
    mine: &Path,
    by_link: &Path,
) -> anyhow::Result<[PathBuf; 2]> {
    // The link sets the cookie and lands on `/` without the token in the address.
    b.goto(link)?;
    b.wait_for("#login-user", WAIT)?;
    anyhow::ensure!(!b.url()?.contains("token="), "token left in {}", b.url()?);
    b.screenshot(&shots.join("sign-in.png"))?;

    // Create an account: a taken name is refused inline with the tracker's message, then bob's.
    b.click_css("#tab-create", WAIT)?;
    b.type_into("#login-user", "alice")?;
    b.type_into("#login-password", "pw-someone-123")?;
    b.click_css("#login-submit", WAIT)?;
    b.wait_until(
        "the create-account error",
        "return document.querySelector('#login-error').textContent.includes('already exists')",
        WAIT,
    )?;
    b.type_into("#login-user", "bob")?;
    b.type_into("#login-password", "pw-bob-123")?;
    b.type_into("#login-display-name", "Bob Builder")?;
    b.click_css("#login-submit", WAIT)?;
    // The header shows the display name the account was made with, the username beside it.
    b.wait_until(
        "signed in as bob after creating the account",
        "const w = document.querySelector('#whoami'); return !!w && w.textContent === 'Bob Builder' \
           && w.parentElement.textContent.includes('signed in as bob')",
        WAIT,
    )?;

    // Sign out, then in: a wrong password first, answered inline.
    b.click_css("#sign-out", WAIT)?;
    b.type_into("#login-user", "bob")?;
    b.type_into("#login-password", "not-his-password")?;
    b.click_css("#login-submit", WAIT)?;
    b.wait_until(
        "the sign-in error",
        "return document.querySelector('#login-error').textContent.includes('bad credentials')",
        WAIT,
    )?;
    b.type_into("#login-password", "pw-bob-123")?;
    b.click_css("#login-submit", WAIT)?;
    b.wait_until(
        "signed in as bob",
        "const w = document.querySelector('#whoami'); return !!w && w.textContent === 'Bob Builder'",
        WAIT,
    )?;

    // Ask to join; the card moves to "waiting for approval".
    b.click_css("[data-action=join][data-group=g]", WAIT)?;
    b.wait_for("[data-action=withdraw][data-group=g]", WAIT)?;
    alice.ok(&["group", "accept", "g", "bob"]);

    // Back to the group list (now a member), into the group, download.
    b.click_css("a.nav-item[href='#/downloads']", WAIT)?;
    b.click_css("a.nav-item[href='#/groups']", WAIT)?;
    b.click_css("a.group-card[data-group=g]", WAIT)?;
    // The small file first: its row turns into "downloaded" in place.
    b.click_css(
        &format!("[data-action=download][data-file='{NOTES}']"),
        WAIT,
    )?;
    b.wait_for(&format!("tr[data-file='{NOTES}'] .badge.complete"), WAIT)?;
    // A name with markup in it shows as text: no element made of it.
    let as_text = format!(
        "const rows = [...document.querySelectorAll('#files tr[data-file]')]; \
         return rows.some((r) => r.dataset.file === {name} && r.textContent.includes({name})) \
           && document.querySelector('#files img') === null && document.title === 'peer'",
        name = serde_json::json!(HOSTILE)
    );
    b.wait_until("the hostile name shown as text", &as_text, WAIT)?;
    b.click_css(&format!("[data-action=download][data-file='{FILE}']"), WAIT)?;
    let inline = format!("tr[data-file='{FILE}'] .mini, tr[data-file='{FILE}'] .badge.complete");
    b.wait_for(&inline, WAIT)?;
    clear_toasts(b);
    b.screenshot(&shots.join("files-downloading.png"))?;

    // Live progress on the downloads screen, then complete.
    b.click_css("a.nav-item[href='#/downloads']", WAIT)?;
    let row = format!("[data-download][data-name='{FILE}']");
    b.wait_for(&row, WAIT)?;
    let running = format!(
        "const r = document.querySelector(\"{row}\"); \
         return !!r && (r.dataset.state === 'complete' || \
           (r.dataset.state === 'running' && parseFloat(r.querySelector('.bar > i').style.width) > 5))"
    );
    b.wait_until("progress above 5%", &running, Duration::from_secs(60))?;
    clear_toasts(b);
    b.screenshot(&shots.join("downloading.png"))?;
    let complete = format!(
        "const r = document.querySelector(\"{row}\"); return !!r && r.dataset.state === 'complete'"
    );
    b.wait_until("the download complete", &complete, Duration::from_secs(90))?;
    anyhow::ensure!(
        b.text(&format!("{row} .stats b")) == "100.0%",
        "complete but shows {}",
        b.text(&format!("{row} .stats b"))
    );
    // The events stream carried the progress (not the polling fallback).
    anyhow::ensure!(
        b.text("[data-live]") == "Live",
        "live indicator says {:?}",
        b.text("[data-live]")
    );
    b.screenshot(&shots.join("downloads.png"))?;
    let notes_row = format!("[data-download][data-name='{NOTES}']");
    anyhow::ensure!(
        b.text(&format!("{notes_row} .badge")) == "complete",
        "{NOTES} shows {:?}",
        b.text(&format!("{notes_row} .badge"))
    );
    let dest_of = |row: &str| PathBuf::from(b.text(&format!("{row} .sub-line .mono")));
    let dests = [dest_of(&row), dest_of(&notes_row)];

    // The group's files screen shows it downloaded; the cluster screen shows a leader.
    b.click_css("a.nav-item[href='#/groups']", WAIT)?;
    b.click_css("a.group-card[data-group=g]", WAIT)?;
    b.wait_for(&format!("tr[data-file='{FILE}'] .badge.complete"), WAIT)?;
    b.screenshot(&shots.join("files.png"))?;
    // bob is neither the uploader nor the owner of alice's files: no Unpublish on them. He
    // shares one of his own, which has the button; confirmed, it leaves the list.
    let no_button = format!(
        "return !!document.querySelector(\"tr[data-file='{FILE}'] [data-action=sources]\") \
           && document.querySelector('[data-action=unpublish]') === null"
    );
    b.wait_until("no Unpublish on alice's files", &no_button, WAIT)?;
    b.type_into("#share-path", &mine.display().to_string())?;
    b.click_css("#share-path ~ button[type=submit]", WAIT)?;
    let unpublish = format!("[data-action=unpublish][data-file='{MINE}']");
    b.wait_for(&unpublish, WAIT)?;
    b.execute("window.confirm = () => true")?;
    b.click_css(&unpublish, WAIT)?;
    let gone = format!(
        "return document.querySelector(\"tr[data-file='{MINE}']\") === null \
           && !!document.querySelector(\"tr[data-file='{FILE}']\")"
    );
    b.wait_until("the unpublished file gone from the list", &gone, WAIT)?;
    // Both daemons are online peers of the group; the file's sources name alice, online.
    b.wait_for("#peers tr[data-user=alice]", WAIT)?;
    b.wait_for("#peers tr[data-user=bob]", WAIT)?;
    b.click_css(&format!("[data-action=sources][data-file='{FILE}']"), WAIT)?;
    let alice_source = format!("tr.sources[data-sources-of='{FILE}'] tr[data-user=alice]");
    b.wait_for(&alice_source, WAIT)?;
    anyhow::ensure!(
        b.text(&alice_source).contains("online"),
        "alice's row: {}",
        b.text(&alice_source)
    );
    b.screenshot(&shots.join("sources.png"))?;
    link_and_find(b, shots, by_link)?;
    // bob now seeds what he downloaded, from where it went.
    b.click_css("a.nav-item[href='#/sharing']", WAIT)?;
    let share = format!("tr[data-share='{FILE}'][data-group=g] .sub-line.mono");
    b.wait_for(&share, WAIT)?;
    anyhow::ensure!(
        Path::new(&b.text(&share)) == dests[0],
        "shared from {:?}, downloaded to {}",
        b.text(&share),
        dests[0].display()
    );
    b.screenshot(&shots.join("sharing.png"))?;
    b.click_css("a.nav-item[href='#/cluster']", WAIT)?;
    b.wait_until(
        "a leader on the cluster screen",
        "const l = document.querySelector('#leader'); return !!l && l.textContent.startsWith('node ')",
        WAIT,
    )?;
    b.screenshot(&shots.join("cluster.png"))?;
    Ok(dests)
}

/// bob copies NOTES's link from its row (the clipboard stubbed to keep what is written), pastes
/// a bad link into "Download from link" (refused inline with the parser's message), then the
/// copied one with `by_link` as the destination, and waits (bounded) for the file there; he
/// finds NOTES by the SHA-1 in the link. Ends on the group list.
fn link_and_find(b: &Browser, shots: &Path, by_link: &Path) -> anyhow::Result<()> {
    b.execute(
        "window.__copied = null; Object.defineProperty(navigator, 'clipboard', \
           { configurable: true, value: { writeText: async (t) => { window.__copied = t; } } })",
    )?;
    clear_toasts(b);
    b.click_css(
        &format!("[data-action=copy-link][data-file='{NOTES}']"),
        WAIT,
    )?;
    b.wait_until(
        "the link copied",
        "return typeof window.__copied === 'string' && window.__copied.startsWith('p2p:?g=g&n=')",
        WAIT,
    )?;
    let copied = b.execute("return window.__copied")?;
    let link = copied.as_str().unwrap_or_default().to_string();
    let sha1 = link
        .split('&')
        .find_map(|kv| kv.strip_prefix("h="))
        .unwrap_or_default()
        .to_string();
    anyhow::ensure!(sha1.len() == 40, "no SHA-1 in the copied link {link}");

    b.click_css("a.nav-item[href='#/groups']", WAIT)?;
    b.type_into("#link-input", "https://example.invalid/notes")?;
    clear_toasts(b);
    b.click_css("#link-download", WAIT)?;
    b.wait_until(
        "the bad link refused inline",
        "return document.querySelector('#link-error').textContent.includes('not a file link')",
        WAIT,
    )?;
    b.type_into("#link-input", &link)?;
    b.type_into("#link-dest", &by_link.display().to_string())?;
    clear_toasts(b);
    b.click_css("#link-download", WAIT)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !by_link.exists() {
        let said = b.text("#link-error");
        anyhow::ensure!(said.is_empty(), "the link download was refused: {said}");
        anyhow::ensure!(
            Instant::now() < deadline,
            "nothing at {} from the link",
            by_link.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    b.type_into("#find-sha1", &sha1.to_uppercase())?;
    clear_toasts(b);
    b.click_css("#find-button", WAIT)?;
    let found = format!("#find-results tr[data-group=g][data-file='{NOTES}']");
    b.wait_for(&found, WAIT)?;
    anyhow::ensure!(
        b.text(&found).contains("195 KiB"),
        "the found row: {}",
        b.text(&found)
    );
    clear_toasts(b);
    b.screenshot(&shots.join("find.png"))?;
    Ok(())
}

/// Removes the passing notices, so a screenshot shows only the screen.
fn clear_toasts(b: &Browser) {
    let _ = b.execute("document.getElementById('toasts').replaceChildren()");
}
