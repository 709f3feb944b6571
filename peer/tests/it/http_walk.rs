//! The walk a browser makes through the daemon's API, against a real cluster and two daemons:
//! sign up and log in on a daemon started before any account, a group with files, a join
//! refused and one accepted, an open group joined at once and a member removed, a download byte for byte, a cancelled one, the event stream, the metrics,
//! a file's link and a download by it, finding a file by SHA-1, leaving and logging out. Every reply is checked against the OpenAPI document, and the walk
//! must meet every documented operation with a success.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::http_client::{read_stream, send, Reply, Req};
use super::openapi_check::{assert_status, Api, LIMIT};
use super::util::{random_file, same_bytes, start_cluster, Peer};

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_walk_from_sign_up_to_download_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_cluster(&dir.path().join("cluster")).await;
    let ca = cluster.ca_file().display().to_string();
    let mut alice = Peer::signup(dir.path(), "alice", &cluster);
    alice.start_daemon(&[]).await;
    let a = Api::of(&alice);
    // bob's daemon starts before bob has an account: the UI signs him up and in.
    let mut bob = Peer::fresh(dir.path(), "bob", &cluster);
    bob.start_daemon(&["--ca", &ca, "--download-limit", "2M"])
        .await;
    let b = Api::of(&bob);

    sign_up_and_in(&b, &bob).await;
    let (film, slow) = (dir.path().join("film.bin"), dir.path().join("slow.bin"));
    random_file(&film, 3 << 20, 7);
    random_file(&slow, 24 << 20, 8);
    let film_row = group_with_files(&a, &b, &[&film, &slow]).await;
    let dest = download(&b, &bob, &film).await;
    swarm_views(&a, &b).await;
    let events = cancel_while_watching(&b, &bob).await;
    counters(&a, &b, &bob, &dest, &film_row).await;
    link_and_find(&b, &bob, &film, &film_row).await;
    account_and_unpublish(&a, &b).await;
    leave_and_log_out(&a, &b).await;

    // Every documented operation met a success (the event stream was read and checked in
    // `cancel_while_watching`), and every status met is documented (checked on each reply).
    let mut seen: Vec<(String, String, u16)> = a.seen.lock().unwrap().clone();
    seen.extend(b.seen.lock().unwrap().iter().cloned());
    seen.push(("GET".into(), "/api/v1/events".into(), events.status));
    for (method, template) in a.doc.operations() {
        let ok = seen
            .iter()
            .any(|(m, t, status)| *m == method && *t == template && (200..300).contains(status));
        assert!(ok, "the walk never met {method} {template} with a success");
    }
}

/// bob has no account: he makes one (twice: the second is a conflict), fails a login with a
/// wrong password, logs in, and the CLI on his home sees the session.
async fn sign_up_and_in(b: &Api, bob: &Peer) {
    let r = b.get("/api/v1/session").await;
    assert_eq!(r.json()["logged_in"], false);
    assert_eq!(r.json()["trackers"].as_array().unwrap().len(), 3);
    let r = b.get("/api/v1/groups").await;
    assert_status(&r, 401);
    assert_eq!(r.code(), "not_logged_in");
    let creds = json!({"user": "bob", "password": bob.password_text()});
    let named = json!({"user": "bob", "password": bob.password_text(), "display_name": " "});
    let r = b.post("/api/v1/users", named).await;
    assert_status(&r, 400);
    let why = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(why.contains("display name"), "{why}");
    let named = json!({"user": "bob", "password": bob.password_text(), "display_name": "Bob B."});
    let r = b.post("/api/v1/users", named).await;
    assert_status(&r, 201);
    assert_eq!(r.json()["display_name"], "Bob B.");
    let r = b.post("/api/v1/users", creds.clone()).await;
    assert_status(&r, 409);
    assert_eq!(r.code(), "conflict");
    let wrong = json!({"user": "bob", "password": "not-his-password"});
    let r = b.post("/api/v1/session/login", wrong).await;
    assert_status(&r, 401);
    assert_eq!(r.code(), "bad_credentials");
    assert_status(&b.post("/api/v1/session/login", creds).await, 200);
    let r = b.get("/api/v1/session").await;
    assert_eq!(r.json()["logged_in"], true);
    assert_eq!(r.json()["user"], "bob");
    assert_eq!(
        bob.ok(&["whoami"]).lines().next(),
        Some("bob (Bob B.)"),
        "the CLI shares the session"
    );
}

/// The role the group list gives `films`.
fn role(r: &Reply) -> Value {
    let groups = r.json()["groups"].as_array().unwrap().clone();
    let films = groups.iter().find(|g| g["name"] == "films").unwrap();
    films["role"].clone()
}

/// alice makes `films` and shares `paths` in it; bob asks to join and alice lets him in.
/// Returns bob's row of the first file.
async fn group_with_files(a: &Api, b: &Api, paths: &[&Path]) -> Value {
    assert_status(
        &a.post("/api/v1/groups", json!({"name": "films"})).await,
        201,
    );
    let files = "/api/v1/groups/films/files";
    for path in paths {
        assert_status(&a.post(files, json!({ "path": path })).await, 201);
    }
    let r = a.post(files, json!({"path": "relative.bin"})).await;
    assert_status(&r, 400);
    assert_status(&b.post_empty("/api/v1/groups/films/join").await, 202);
    assert_eq!(role(&b.get("/api/v1/groups").await), "pending");
    assert_status(&b.get(files).await, 403);
    let r = a.get("/api/v1/groups/films/requests").await;
    assert_eq!(r.json()["requests"], json!([{"user": "bob"}]));
    let reject = "/api/v1/groups/films/requests/bob/reject";
    assert_status(&b.post_empty(reject).await, 403);
    assert_status(&a.post_empty(reject).await, 204);
    assert_eq!(role(&b.get("/api/v1/groups").await), "none");
    let r = a.get("/api/v1/groups/films/requests").await;
    assert_eq!(r.json()["requests"], json!([]));
    let r = a.post_empty(reject).await;
    assert_status(&r, 404);
    assert_eq!(r.code(), "not_found");
    // Refused, bob may ask again.
    assert_status(&b.post_empty("/api/v1/groups/films/join").await, 202);
    let r = a
        .post_empty("/api/v1/groups/films/requests/bob/accept")
        .await;
    assert_status(&r, 204);
    assert_eq!(role(&b.get("/api/v1/groups").await), "member");
    assert_eq!(role(&a.get("/api/v1/groups").await), "owner");
    let listed = a.get(files).await.json()["files"].clone();
    assert_eq!(listed.as_array().unwrap().len(), paths.len());
    for f in listed.as_array().unwrap() {
        assert_eq!(
            (&f["shared_by_me"], &f["uploader"]),
            (&json!(true), &json!("alice"))
        );
    }
    let first = paths[0].file_name().unwrap().to_str().unwrap();
    let mine = b.get(files).await.json()["files"].clone();
    let row = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == first)
        .unwrap()
        .clone();
    assert_eq!(
        row["size_bytes"],
        std::fs::metadata(paths[0]).unwrap().len()
    );
    assert_eq!(
        (&row["shared_by_me"], &row["seeders"]),
        (&json!(false), &json!(1))
    );
    row
}

/// bob downloads `film` to the default place and it arrives byte for byte; a destination
/// already taken and an unknown file are refused. Returns where it went.
async fn download(b: &Api, bob: &Peer, film: &Path) -> PathBuf {
    let name = film.file_name().unwrap().to_str().unwrap();
    let r = b
        .post("/api/v1/downloads", json!({"group": "films", "name": name}))
        .await;
    assert_status(&r, 201);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let done = wait_state(b, &id, "complete", Duration::from_secs(60)).await;
    let size = std::fs::metadata(film).unwrap().len();
    assert_eq!(
        (&done["percent"], &done["bytes_done"]),
        (&json!(100.0), &json!(size))
    );
    assert_eq!(done["eta_secs"], Value::Null);
    let dest = bob.home.join("downloads").join(name);
    assert_eq!(done["dest"], dest.display().to_string());
    assert!(same_bytes(film, &dest));
    let taken = json!({"group": "films", "name": "slow.bin", "dest": bob.home.join("daemon.log")});
    assert_status(&b.post("/api/v1/downloads", taken).await, 409);
    let unknown = json!({"group": "films", "name": "nope.bin"});
    assert_status(&b.post("/api/v1/downloads", unknown).await, 404);
    dest
}

/// After bob's download of film.bin both hold all of it: its sources name alice and bob, online;
/// the group's peers are their two daemons, each seeding film.bin (and alice slow.bin too).
async fn swarm_views(a: &Api, b: &Api) {
    let want: [(String, bool, bool); 2] =
        [("alice".into(), true, true), ("bob".into(), true, true)];
    // bob's daemon reports its chunks in batches: wait (bounded) until the tracker has them all.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = b.get("/api/v1/groups/films/files/film.bin/sources").await;
        assert_status(&r, 200);
        let body = r.json();
        assert_eq!(body["file"]["name"], "film.bin");
        let mut holders: Vec<(String, bool, bool)> = body["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let all = s["chunks_held"] == s["chunk_count"];
                (
                    s["username"].as_str().unwrap().to_string(),
                    s["online"] == true,
                    all,
                )
            })
            .collect();
        holders.sort();
        if holders == want {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sources of film.bin: {holders:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = a.get("/api/v1/groups/films/peers").await;
    assert_status(&r, 200);
    let mut peers: Vec<(String, u64)> = r.json()["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let user = p["username"].as_str().unwrap().to_string();
            (user, p["files_seeded"].as_u64().unwrap())
        })
        .collect();
    peers.sort();
    assert_eq!(peers, [("alice".into(), 2), ("bob".into(), 1)]);
    let missing = b.get("/api/v1/groups/films/files/nope.bin/sources").await;
    assert_status(&missing, 404);
}

/// slow.bin (24 MiB at bob's 2 MiB/s) runs long enough to watch its progress and events, then
/// bob cancels it: its `.part` file goes, a second cancel is a conflict. Returns the events.
async fn cancel_while_watching(b: &Api, bob: &Peer) -> Reply {
    let r = b
        .post(
            "/api/v1/downloads",
            json!({"group": "films", "name": "slow.bin"}),
        )
        .await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    let running = wait_until(b, &id, Duration::from_secs(30), |d| {
        d["bytes_done"].as_u64().unwrap() > 0 && d["speed_bytes_per_sec"].as_u64().unwrap() > 0
    })
    .await;
    assert_eq!(running["state"], "running");
    assert!(running["eta_secs"].as_u64().is_some(), "{running}");
    assert!(running["peers"].as_u64().unwrap() >= 1, "{running}");
    let stream = Req::new("GET", "/api/v1/events").bearer(&b.token);
    let events = read_stream(&b.addr, &stream, Duration::from_millis(1300)).await;
    assert_status(&events, 200);
    assert_eq!(events.header("content-type"), Some("text/event-stream"));
    let text = String::from_utf8_lossy(&events.body).into_owned();
    assert!(text.matches("event: downloads").count() >= 2, "{text}");
    let listing = json!({"$ref": "#/components/schemas/Downloads"});
    for data in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let v: Value = serde_json::from_str(data).unwrap();
        b.doc.validate(&listing, &v, "event");
    }
    let one = format!("/api/v1/downloads/{id}");
    assert_status(&b.delete(&one).await, 204);
    wait_state(b, &id, "cancelled", Duration::from_secs(10)).await;
    let part = bob.home.join("downloads").join("slow.bin.part");
    let gone = Instant::now() + Duration::from_secs(10);
    while part.exists() && Instant::now() < gone {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !part.exists(),
        "the cancelled download's .part file is removed"
    );
    assert_status(&b.delete(&one).await, 409);
    assert_status(&b.delete("/api/v1/downloads/0000").await, 404);
    assert!(bob
        .ok(&["downloads"])
        .contains("[X] films slow.bin cancelled"));
    // Started again, it starts afresh under the same id; `peer cancel` ends it the same way.
    let again = json!({"group": "films", "name": "slow.bin"});
    let r = b.post("/api/v1/downloads", again).await;
    assert_eq!(r.json()["id"], json!(id));
    wait_state(b, &id, "running", Duration::from_secs(10)).await;
    let listed = bob.ok(&["downloads"]);
    assert!(
        listed.contains("[D] films slow.bin") && listed.contains(&id),
        "{listed}"
    );
    let said = bob.ok(&["cancel", &id]);
    assert_eq!(said.trim(), format!("cancelled download {id}"));
    wait_state(b, &id, "cancelled", Duration::from_secs(10)).await;
    assert!(bob.fails(&["cancel", &id]).contains("cancelled already"));
    assert!(bob.fails(&["cancel", "0000"]).contains("no download"));
    events
}

/// The metrics, the daemon view, the shares and the cluster view show what happened.
async fn counters(a: &Api, b: &Api, bob: &Peer, dest: &Path, film_row: &Value) {
    let size = std::fs::metadata(dest).unwrap().len() as f64;
    let m = scrape(b).await;
    assert!(metric(&m, "peer_chunks_verified_total") >= 6.0, "{m}");
    assert!(metric(&m, "peer_downloaded_bytes_total") >= size, "{m}");
    assert_eq!(metric(&m, "peer_downloads{state=\"complete\"}"), 1.0, "{m}");
    assert_eq!(
        metric(&m, "peer_downloads{state=\"cancelled\"}"),
        1.0,
        "{m}"
    );
    let m = scrape(a).await;
    assert!(metric(&m, "peer_uploaded_bytes_total") >= size, "{m}");
    let r = b.get("/api/v1/daemon").await;
    assert_eq!(r.json()["peer_id"], bob.peer_id().to_string());
    assert!(r.json()["downloaded_bytes"].as_f64().unwrap() >= size);
    let shares = b.get("/api/v1/shares").await.json()["shares"].clone();
    assert_eq!(shares.as_array().unwrap().len(), 1, "{shares}");
    assert_eq!(shares[0]["path"], dest.display().to_string());
    assert_eq!(shares[0]["sha1"], film_row["sha1"]);
    let r = b.get("/api/v1/cluster").await;
    assert_eq!(r.json()["reachable"], 3);
    assert!(r.json()["leader"].is_u64(), "{}", r.json());
    assert_status(&b.get("/api/v1/openapi.json").await, 200);
}

/// bob's link to film.bin is the one `peer link --json` prints; downloaded by it (to a
/// destination of his choosing) it arrives byte for byte; a link that does not parse, a body
/// with both forms and a link whose size no longer matches are refused. Finding film.bin's
/// SHA-1 lists it as `peer find --json` does; a SHA-1 nobody has finds nothing, a malformed
/// one is a 400.
async fn link_and_find(b: &Api, bob: &Peer, film: &Path, film_row: &Value) {
    let r = b.get("/api/v1/groups/films/files/film.bin/link").await;
    assert_status(&r, 200);
    let got = r.json();
    assert_eq!(
        (
            &got["group"],
            &got["name"],
            &got["size_bytes"],
            &got["sha1"]
        ),
        (
            &json!("films"),
            &json!("film.bin"),
            &film_row["size_bytes"],
            &film_row["sha1"]
        )
    );
    let cli: Value =
        serde_json::from_str(&bob.ok(&["--json", "link", "films", "film.bin"])).unwrap();
    let sorted = |v: &Value| {
        let mut t: Vec<String> = v["trackers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        t.sort();
        t
    };
    assert_eq!(sorted(&got).len(), 3, "{got}");
    assert_eq!(sorted(&got), sorted(&cli), "{got} vs {cli}");
    let link = got["link"].as_str().unwrap().to_string();
    assert!(link.starts_with("p2p:?g=films&n=film.bin&s="), "{link}");
    assert_status(
        &b.get("/api/v1/groups/films/files/nope.bin/link").await,
        404,
    );

    let dest = bob.home.join("by-link.bin");
    let r = b
        .post("/api/v1/downloads", json!({"link": link, "dest": dest}))
        .await;
    assert_status(&r, 201);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let done = wait_state(b, &id, "complete", Duration::from_secs(60)).await;
    assert_eq!(done["dest"], dest.display().to_string());
    assert!(same_bytes(film, &dest));
    let r = b
        .post(
            "/api/v1/downloads",
            json!({"link": "https://example.invalid/x"}),
        )
        .await;
    assert_status(&r, 400);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not a file link"));
    let both = json!({"link": link, "group": "films", "name": "film.bin"});
    assert_status(&b.post("/api/v1/downloads", both).await, 400);
    let size = film_row["size_bytes"].as_u64().unwrap();
    let changed = link.replace(&format!("&s={size}&"), &format!("&s={}&", size + 1));
    assert_ne!(changed, link);
    let elsewhere = bob.home.join("changed.bin");
    let r = b
        .post(
            "/api/v1/downloads",
            json!({"link": changed, "dest": elsewhere}),
        )
        .await;
    assert_status(&r, 409);
    assert_eq!(r.code(), "conflict");
    assert!(!elsewhere.exists());

    let sha1 = film_row["sha1"].as_str().unwrap();
    let r = b
        .get(&format!("/api/v1/find/{}", sha1.to_uppercase()))
        .await;
    assert_status(&r, 200);
    let cli: Value = serde_json::from_str(&bob.ok(&["--json", "find", sha1])).unwrap();
    assert_eq!(r.json()["files"], cli);
    let rows = r.json()["files"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (&rows[0]["group"], &rows[0]["name"], &rows[0]["size_bytes"]),
        (&json!("films"), &json!("film.bin"), &json!(size))
    );
    assert!(rows[0]["seeders"].as_u64().unwrap() >= 1, "{rows:?}");
    let nobody = b.get(&format!("/api/v1/find/{}", "0".repeat(40))).await;
    assert_status(&nobody, 200);
    assert_eq!(nobody.json()["files"], json!([]));
    let r = b.get("/api/v1/find/not-a-sha1").await;
    assert_status(&r, 400);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("is not a SHA-1"));
}

/// The accounts as the tracker knows them (bob's with the display name he signed up with), and
/// alice unpublishing slow.bin: bob, neither its uploader nor the owner, is refused; then it is
/// gone from the list, and a second unpublish finds nothing.
async fn account_and_unpublish(a: &Api, b: &Api) {
    let me = b.get("/api/v1/account").await;
    assert_status(&me, 200);
    assert_eq!(
        (&me.json()["user"], &me.json()["display_name"]),
        (&json!("bob"), &json!("Bob B."))
    );
    let (created, login) = (&me.json()["created_at_ms"], &me.json()["last_login_ms"]);
    assert!(
        created.as_u64().unwrap() <= login.as_u64().unwrap(),
        "{}",
        me.json()
    );
    let r = a.get("/api/v1/groups").await;
    let films = r.json()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "films")
        .unwrap()
        .clone();
    assert_eq!(films["owner_display_name"], Value::Null);
    let slow = "/api/v1/groups/films/files/slow.bin/unpublish";
    let r = b.post_empty(slow).await;
    assert_status(&r, 403);
    assert_eq!(r.code(), "forbidden");
    assert_status(&a.post_empty(slow).await, 204);
    let listed = a.get("/api/v1/groups/films/files").await.json()["files"].clone();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["film.bin"]);
    let r = a.post_empty(slow).await;
    assert_status(&r, 404);
    assert_eq!(r.code(), "not_found");
}

/// alice stops sharing (twice: the second finds nothing); bob leaves and logs out.
async fn leave_and_log_out(a: &Api, b: &Api) {
    let film = "/api/v1/groups/films/files/film.bin";
    assert_status(&a.delete(film).await, 204);
    assert_status(&a.delete(film).await, 404);
    assert_status(&b.post_empty("/api/v1/groups/films/leave").await, 204);
    open_group_joined_and_member_removed(a, b).await;
    assert_status(&b.post_empty("/api/v1/session/logout").await, 204);
    assert_eq!(b.get("/api/v1/session").await.json()["logged_in"], false);
    assert_eq!(b.get("/api/v1/groups").await.code(), "not_logged_in");
}

/// alice makes the open group `club`: bob's join makes him a member at once (200). bob may not
/// remove anyone; alice removes bob, who then may not list the group's files.
async fn open_group_joined_and_member_removed(a: &Api, b: &Api) {
    let new = json!({"name": "club", "open": true});
    assert_status(&a.post("/api/v1/groups", new).await, 201);
    let club = |r: &Reply| {
        let groups = r.json()["groups"].as_array().unwrap().clone();
        groups.into_iter().find(|g| g["name"] == "club").unwrap()
    };
    let listed = club(&b.get("/api/v1/groups").await);
    assert_eq!(
        (&listed["open"], &listed["role"]),
        (&json!(true), &json!("none"))
    );
    let r = b.post_empty("/api/v1/groups/club/join").await;
    assert_status(&r, 200);
    assert_eq!(r.json()["state"], "member");
    let listed = club(&b.get("/api/v1/groups").await);
    assert_eq!(
        (&listed["role"], &listed["member_count"]),
        (&json!("member"), &json!(2))
    );
    let files = "/api/v1/groups/club/files";
    assert_status(&b.get(files).await, 200);
    let r = b
        .post_empty("/api/v1/groups/club/members/alice/remove")
        .await;
    assert_status(&r, 403);
    assert_eq!(r.code(), "forbidden");
    let r = a
        .post_empty("/api/v1/groups/club/members/alice/remove")
        .await;
    assert_status(&r, 400);
    let remove_bob = "/api/v1/groups/club/members/bob/remove";
    assert_status(&a.post_empty(remove_bob).await, 204);
    assert_eq!(club(&b.get("/api/v1/groups").await)["role"], "none");
    assert_status(&b.get(files).await, 403);
    assert_status(&a.post_empty(remove_bob).await, 400);
    let closed = club(&a.get("/api/v1/groups").await);
    assert_eq!(closed["member_count"], 1);
    let films = a.get("/api/v1/groups").await.json()["groups"].clone();
    let films = films
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "films")
        .unwrap()
        .clone();
    assert_eq!(films["open"], false);
}

/// `GET /metrics` of `api`'s daemon.
async fn scrape(api: &Api) -> String {
    let r = send(&api.addr, &Req::new("GET", "/metrics"), LIMIT).await;
    String::from_utf8_lossy(&r.body).into_owned()
}

/// A download's row.
async fn row(api: &Api, id: &str) -> Value {
    let r = api.get("/api/v1/downloads").await;
    r.json()["downloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("no download {id} in {}", r.json()))
        .clone()
}

async fn wait_until(api: &Api, id: &str, limit: Duration, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let d = row(api, id).await;
        if ok(&d) {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "download {id} never got there: {d}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_state(api: &Api, id: &str, state: &str, limit: Duration) -> Value {
    wait_until(api, id, limit, |d| {
        assert!(d["state"] == state || d["state"] == "running", "{d}");
        d["state"] == state
    })
    .await
}

/// The value of one sample line `name value` of a Prometheus exposition.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name}"))
}
