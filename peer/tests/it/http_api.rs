//! The daemon's HTTP API against a real cluster and real daemons: the token and the Host/Origin
//! guard, the login-to-download walk a browser makes (every reply checked against the OpenAPI
//! document), cancelling, the event stream, metrics, `peer ui`, and that every operation the
//! document lists is routed.

use std::os::unix::fs::PermissionsExt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::http_client::{read_stream, send, Reply, Req};
use super::openapi_check::Doc;
use super::util::{random_file, same_bytes, start_cluster, Peer};

const LIMIT: Duration = Duration::from_secs(30);

/// One daemon's API, every reply checked against the document.
struct Api {
    addr: String,
    token: String,
    doc: Doc,
    /// (method, template, status) of every checked reply.
    seen: Mutex<Vec<(String, String, u16)>>,
}

impl Api {
    fn of(p: &Peer) -> Api {
        let (addr, token) = p.http();
        Api {
            addr,
            token,
            doc: Doc::load(),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// `method path` (an instance of `template`), with the token and `body`; checked.
    async fn call(&self, method: &str, template: &str, path: &str, body: Option<Value>) -> Reply {
        let mut req = Req::new(method, path).bearer(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let reply = send(&self.addr, &req, LIMIT).await;
        self.doc.check(method, template, &reply);
        self.seen
            .lock()
            .unwrap()
            .push((method.into(), template.into(), reply.status));
        reply
    }

    async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, path, None).await
    }
}

fn assert_status(r: &Reply, status: u16) {
    assert_eq!(
        r.status,
        status,
        "body: {}",
        String::from_utf8_lossy(&r.body)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_and_the_host_and_origin_checks_guard_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_cluster(&dir.path().join("cluster")).await;
    let mut alice = Peer::signup(dir.path(), "alice", &cluster);
    alice.start_daemon(&[]).await;
    let (addr, token) = alice.http();
    for f in ["http.json", "http-token"] {
        let mode = std::fs::metadata(alice.home.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    assert_eq!(token.len(), 64);

    let session = Req::new("GET", "/api/v1/session");
    let r = send(&addr, &session, LIMIT).await;
    assert_status(&r, 401);
    assert_eq!(r.code(), "unauthorized");
    let r = send(&addr, &session.clone().bearer(&"0".repeat(64)), LIMIT).await;
    assert_status(&r, 401);
    let r = send(&addr, &session.clone().bearer(&token), LIMIT).await;
    assert_status(&r, 200);
    assert_eq!(r.json()["user"], "alice");
    assert_eq!(r.json()["logged_in"], true);
    let cookie = format!("peer_token={token}");
    let r = send(&addr, &session.clone().header("Cookie", &cookie), LIMIT).await;
    assert_status(&r, 200);

    // DNS rebinding: the right token under a foreign Host is refused.
    let port = addr.rsplit(':').next().unwrap();
    let foreign = session
        .clone()
        .bearer(&token)
        .host(&format!("evil.example:{port}"));
    let r = send(&addr, &foreign, LIMIT).await;
    assert_status(&r, 403);
    assert_eq!(r.code(), "forbidden");
    let r = send(
        &addr,
        &session
            .clone()
            .bearer(&token)
            .host(&format!("localhost:{port}")),
        LIMIT,
    )
    .await;
    assert_status(&r, 200);

    // CSRF: a state change from another origin is refused; from this one it goes through.
    let create = Req::new("POST", "/api/v1/groups")
        .bearer(&token)
        .json(json!({"name": "g1"}));
    let r = send(
        &addr,
        &create.clone().header("Origin", "http://evil.example"),
        LIMIT,
    )
    .await;
    assert_status(&r, 403);
    assert_eq!(r.code(), "forbidden");
    let own = format!("http://{addr}");
    let r = send(&addr, &create.clone().header("Origin", &own), LIMIT).await;
    assert_status(&r, 201);
    let r = send(&addr, &create, LIMIT).await;
    assert_status(&r, 409);
    assert_eq!(r.code(), "conflict");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("already exists"));
    // A body that is not declared JSON (what a cross-site form sends) is refused.
    let form = create.clone().header("Content-Type", "text/plain");
    let r = send(&addr, &form, LIMIT).await;
    assert_status(&r, 415);
    assert_eq!(r.code(), "bad_request");

    // The login link sets the cookie; the page without it says how to get the link.
    let r = send(&addr, &Req::new("GET", &format!("/?token={token}")), LIMIT).await;
    assert_status(&r, 303);
    assert_eq!(r.header("location"), Some("/"));
    let set = r.header("set-cookie").unwrap();
    assert!(set.starts_with(&cookie), "{set}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "{set}");
    }
    let r = send(&addr, &Req::new("GET", "/?token=wrong"), LIMIT).await;
    assert_status(&r, 401);
    assert!(r.header("set-cookie").is_none());
    let r = send(&addr, &Req::new("GET", "/"), LIMIT).await;
    assert!(String::from_utf8_lossy(&r.body).contains("peer ui"));
    let r = send(
        &addr,
        &Req::new("GET", "/").header("Cookie", &cookie),
        LIMIT,
    )
    .await;
    assert_status(&r, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("/assets/app.js"));
    for asset in ["/assets/app.js", "/assets/app.css", "/assets/icon.svg"] {
        let r = send(&addr, &Req::new("GET", asset), LIMIT).await;
        assert_status(&r, 200);
        assert!(!r.body.is_empty(), "{asset}");
    }

    // No token for these, and no names in them.
    let r = send(&addr, &Req::new("GET", "/livez"), LIMIT).await;
    assert_status(&r, 200);
    assert_eq!(r.body, b"ok");
    let r = send(&addr, &Req::new("GET", "/metrics"), LIMIT).await;
    assert_status(&r, 200);
    let text = String::from_utf8_lossy(&r.body).into_owned();
    assert!(
        text.contains("peer_tracker_requests_total{kind=\"write\",outcome=\"ok\"}"),
        "{text}"
    );
    assert!(
        text.contains("peer_tracker_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(!text.contains("alice") && !text.contains("g1"), "{text}");
    let r = send(&addr, &Req::new("GET", "/api/v1/openapi.json"), LIMIT).await;
    assert_status(&r, 200);
    assert_eq!(r.json()["openapi"], "3.0.3");
    let r = send(
        &addr,
        &Req::new("GET", "/api/v1/nothing-here").bearer(&token),
        LIMIT,
    )
    .await;
    assert_status(&r, 404);

    // `peer ui` prints the link with the token; without a daemon it says what to do.
    let link = alice.ok(&["ui"]);
    assert_eq!(link.trim(), format!("http://{addr}/?token={token}"));
    let j: Value = serde_json::from_str(&alice.ok(&["--json", "ui"])).unwrap();
    assert_eq!(j["url"], link.trim());
    alice.kill_daemon();
    let why = alice.fails(&["ui"]);
    assert!(
        why.contains("not running") && why.contains("peer daemon"),
        "{why}"
    );

    // A non-loopback address is refused without --http-allow-remote.
    let out = alice.run(&["daemon", "--http-addr", "0.0.0.0:0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--http-allow-remote"), "{err}");
}

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

    let r = b.get("/api/v1/session").await;
    assert_eq!(r.json()["logged_in"], false);
    assert_eq!(r.json()["trackers"].as_array().unwrap().len(), 3);
    let r = b.get("/api/v1/groups").await;
    assert_status(&r, 401);
    assert_eq!(r.code(), "not_logged_in");
    let creds = json!({"user": "bob", "password": bob.password_text()});
    let r = b
        .call(
            "POST",
            "/api/v1/users",
            "/api/v1/users",
            Some(creds.clone()),
        )
        .await;
    assert_status(&r, 201);
    let r = b
        .call(
            "POST",
            "/api/v1/users",
            "/api/v1/users",
            Some(creds.clone()),
        )
        .await;
    assert_status(&r, 409);
    let wrong = json!({"user": "bob", "password": "not-his-password"});
    let r = b
        .call(
            "POST",
            "/api/v1/session/login",
            "/api/v1/session/login",
            Some(wrong),
        )
        .await;
    assert_status(&r, 401);
    assert_eq!(r.code(), "bad_credentials");
    let r = b
        .call(
            "POST",
            "/api/v1/session/login",
            "/api/v1/session/login",
            Some(creds),
        )
        .await;
    assert_status(&r, 200);
    let r = b.get("/api/v1/session").await;
    assert_eq!(
        (r.json()["logged_in"].clone(), r.json()["user"].clone()),
        (json!(true), json!("bob"))
    );
    assert_eq!(
        bob.ok(&["whoami"]).trim(),
        "bob",
        "the CLI shares the session"
    );

    // alice makes a group and shares two files; bob asks to join and alice lets him in.
    let r = a
        .call(
            "POST",
            "/api/v1/groups",
            "/api/v1/groups",
            Some(json!({"name": "films"})),
        )
        .await;
    assert_status(&r, 201);
    let film = dir.path().join("film.bin");
    random_file(&film, 3 << 20, 7);
    let slow = dir.path().join("slow.bin");
    random_file(&slow, 24 << 20, 8);
    let files = "/api/v1/groups/{group}/files";
    for path in [&film, &slow] {
        let r = a
            .call(
                "POST",
                files,
                "/api/v1/groups/films/files",
                Some(json!({"path": path})),
            )
            .await;
        assert_status(&r, 201);
    }
    let r = a
        .call(
            "POST",
            files,
            "/api/v1/groups/films/files",
            Some(json!({"path": "relative.bin"})),
        )
        .await;
    assert_status(&r, 400);
    let r = b
        .call(
            "POST",
            "/api/v1/groups/{group}/join",
            "/api/v1/groups/films/join",
            None,
        )
        .await;
    assert_status(&r, 202);
    let r = b.get("/api/v1/groups").await;
    let role = |r: &Reply| {
        r.json()["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == "films")
            .unwrap()["role"]
            .clone()
    };
    assert_eq!(role(&r), "pending");
    let r = b
        .call("GET", files, "/api/v1/groups/films/files", None)
        .await;
    assert_status(&r, 403);
    let reqs = "/api/v1/groups/{group}/requests";
    let r = a
        .call("GET", reqs, "/api/v1/groups/films/requests", None)
        .await;
    assert_eq!(r.json()["requests"], json!([{"user": "bob"}]));
    let r = a
        .call(
            "POST",
            "/api/v1/groups/{group}/requests/{user}/reject",
            "/api/v1/groups/films/requests/bob/reject",
            None,
        )
        .await;
    assert_status(&r, 501);
    assert_eq!(r.code(), "not_implemented");
    let r = a
        .call(
            "POST",
            "/api/v1/groups/{group}/requests/{user}/accept",
            "/api/v1/groups/films/requests/bob/accept",
            None,
        )
        .await;
    assert_status(&r, 204);
    assert_eq!(role(&b.get("/api/v1/groups").await), "member");
    assert_eq!(role(&a.get("/api/v1/groups").await), "owner");
    let r = a
        .call("GET", files, "/api/v1/groups/films/files", None)
        .await;
    let listed = r.json()["files"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    assert!(listed
        .iter()
        .all(|f| f["shared_by_me"] == true && f["uploader"] == "alice"));
    let r = b
        .call("GET", files, "/api/v1/groups/films/files", None)
        .await;
    let film_row = r.json()["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "film.bin")
        .unwrap()
        .clone();
    assert_eq!(film_row["size_bytes"], 3 << 20);
    assert_eq!(film_row["shared_by_me"], false);
    assert_eq!(film_row["seeders"], 1);

    // bob downloads film.bin to the default place, and it arrives byte for byte.
    let downloads = "/api/v1/downloads";
    let r = b
        .call(
            "POST",
            downloads,
            downloads,
            Some(json!({"group": "films", "name": "film.bin"})),
        )
        .await;
    assert_status(&r, 201);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let done = wait_state(&b, &id, "complete", Duration::from_secs(60)).await;
    assert_eq!(done["percent"], 100.0);
    assert_eq!(done["bytes_done"], 3 << 20);
    assert_eq!(done["eta_secs"], Value::Null);
    let dest = bob.home.join("files").join("film.bin");
    assert_eq!(done["dest"], dest.display().to_string());
    assert!(same_bytes(&film, &dest));
    // Something at the destination is never replaced.
    let taken = json!({"group": "films", "name": "slow.bin", "dest": bob.home.join("daemon.log")});
    let r = b.call("POST", downloads, downloads, Some(taken)).await;
    assert_status(&r, 409);
    let r = b
        .call(
            "POST",
            downloads,
            downloads,
            Some(json!({"group": "films", "name": "nope.bin"})),
        )
        .await;
    assert_status(&r, 404);

    // slow.bin (24 MiB at 2 MiB/s) runs long enough to watch and cancel.
    let r = b
        .call(
            "POST",
            downloads,
            downloads,
            Some(json!({"group": "films", "name": "slow.bin"})),
        )
        .await;
    let slow_id = r.json()["id"].as_str().unwrap().to_string();
    let running = wait_until(&b, &slow_id, Duration::from_secs(30), |d| {
        d["bytes_done"].as_u64().unwrap() > 0 && d["speed_bytes_per_sec"].as_u64().unwrap() > 0
    })
    .await;
    assert_eq!(running["state"], "running");
    assert!(running["eta_secs"].as_u64().is_some(), "{running}");
    assert!(running["peers"].as_u64().unwrap() >= 1, "{running}");
    let events = read_stream(
        &b.addr,
        &Req::new("GET", "/api/v1/events").bearer(&b.token),
        Duration::from_millis(1300),
    )
    .await;
    assert_status(&events, 200);
    assert_eq!(events.header("content-type"), Some("text/event-stream"));
    let text = String::from_utf8_lossy(&events.body).into_owned();
    let datas: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert!(text.matches("event: downloads").count() >= 2, "{text}");
    for d in &datas {
        let v: Value = serde_json::from_str(d).unwrap();
        b.doc.validate(
            &json!({"$ref": "#/components/schemas/Downloads"}),
            &v,
            "event",
        );
    }
    let r = b
        .call(
            "DELETE",
            "/api/v1/downloads/{id}",
            &format!("/api/v1/downloads/{slow_id}"),
            None,
        )
        .await;
    assert_status(&r, 204);
    wait_state(&b, &slow_id, "cancelled", Duration::from_secs(10)).await;
    let part = bob.home.join("files").join("slow.bin.part");
    let gone = Instant::now() + Duration::from_secs(10);
    while part.exists() && Instant::now() < gone {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !part.exists(),
        "the cancelled download's .part file is removed"
    );
    let r = b
        .call(
            "DELETE",
            "/api/v1/downloads/{id}",
            &format!("/api/v1/downloads/{slow_id}"),
            None,
        )
        .await;
    assert_status(&r, 409);
    let r = b
        .call(
            "DELETE",
            "/api/v1/downloads/{id}",
            "/api/v1/downloads/0000",
            None,
        )
        .await;
    assert_status(&r, 404);
    assert!(bob
        .ok(&["downloads"])
        .contains("[X] films slow.bin cancelled"));

    // bob's metrics saw the verified chunks and the downloads by state.
    let m = String::from_utf8_lossy(
        &send(&b.addr, &Req::new("GET", "/metrics"), LIMIT)
            .await
            .body,
    )
    .into_owned();
    assert!(metric(&m, "peer_chunks_verified_total") >= 6.0, "{m}");
    assert!(
        metric(&m, "peer_downloaded_bytes_total") >= f64::from(3u32 << 20),
        "{m}"
    );
    assert_eq!(metric(&m, "peer_downloads{state=\"complete\"}"), 1.0, "{m}");
    assert_eq!(
        metric(&m, "peer_downloads{state=\"cancelled\"}"),
        1.0,
        "{m}"
    );
    let m = String::from_utf8_lossy(
        &send(&a.addr, &Req::new("GET", "/metrics"), LIMIT)
            .await
            .body,
    )
    .into_owned();
    assert!(
        metric(&m, "peer_uploaded_bytes_total") >= f64::from(3u32 << 20),
        "{m}"
    );

    let r = b.get("/api/v1/daemon").await;
    assert_eq!(r.json()["peer_id"], bob.peer_id());
    assert!(r.json()["downloaded_bytes"].as_u64().unwrap() >= 3 << 20);
    let r = b.get("/api/v1/shares").await;
    let shares = r.json()["shares"].clone();
    assert_eq!(shares.as_array().unwrap().len(), 1, "{shares}");
    assert_eq!(shares[0]["path"], dest.display().to_string());
    assert_eq!(shares[0]["sha1"], film_row["sha1"]);
    let r = b.get("/api/v1/cluster").await;
    assert_eq!(r.json()["reachable"], 3);
    assert!(r.json()["leader"].is_u64(), "{}", r.json());

    // alice stops sharing; bob logs out.
    let one = "/api/v1/groups/{group}/files/{name}";
    let r = a
        .call("DELETE", one, "/api/v1/groups/films/files/film.bin", None)
        .await;
    assert_status(&r, 204);
    let r = a
        .call("DELETE", one, "/api/v1/groups/films/files/film.bin", None)
        .await;
    assert_status(&r, 404);
    let r = b
        .call(
            "POST",
            "/api/v1/groups/{group}/leave",
            "/api/v1/groups/films/leave",
            None,
        )
        .await;
    assert_status(&r, 204);
    let r = b
        .call(
            "POST",
            "/api/v1/session/logout",
            "/api/v1/session/logout",
            None,
        )
        .await;
    assert_status(&r, 204);
    assert_eq!(b.get("/api/v1/session").await.json()["logged_in"], false);
    let r = b.get("/api/v1/groups").await;
    assert_eq!(r.code(), "not_logged_in");
    let r = b.get("/api/v1/openapi.json").await;
    assert_status(&r, 200);

    // The walk met every documented operation with a success (the event stream was read and
    // checked above; rejecting a request answers the 501 the document gives until the tracker
    // can), and every status it met is documented (checked on each reply).
    let mut seen: Vec<(String, String, u16)> = a.seen.lock().unwrap().clone();
    seen.extend(b.seen.lock().unwrap().iter().cloned());
    seen.push(("GET".into(), "/api/v1/events".into(), events.status));
    for (method, template) in a.doc.operations() {
        let ok = seen
            .iter()
            .any(|(m, t, status)| *m == method && *t == template && (200..300).contains(status));
        let rejected = template.ends_with("/reject")
            && seen.iter().any(|(_, t, s)| *t == template && *s == 501);
        assert!(
            ok || rejected,
            "the walk never met {method} {template} with a success"
        );
    }
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

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_in_the_openapi_document_is_routed() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_cluster(&dir.path().join("cluster")).await;
    let mut carol = Peer::signup(dir.path(), "carol", &cluster);
    carol.start_daemon(&[]).await;
    let api = Api::of(&carol);
    let ops = api.doc.operations();
    assert!(ops.len() >= 20, "{ops:?}");
    for (method, template) in &ops {
        if template == "/api/v1/events" || template == "/api/v1/session/logout" {
            continue; // a stream, and the end of the session (both walked above)
        }
        let path = template
            .replace("{group}", "no-such-group")
            .replace("{user}", "nobody")
            .replace("{name}", "none.bin")
            .replace("{id}", "0000");
        let body = (method == "POST").then(|| json!({}));
        let req = Req::new(method, &path).bearer(&api.token);
        let req = match body {
            Some(b) => req.json(b),
            None => req,
        };
        let r = send(&api.addr, &req, LIMIT).await;
        let text = String::from_utf8_lossy(&r.body);
        assert_ne!(r.status, 405, "{method} {template}: {text}");
        assert!(
            !(r.status == 404 && text.contains("no such route")),
            "{method} {template} is not routed"
        );
        assert!(
            r.status < 500 || r.status == 501 || r.status == 503,
            "{method} {template}: {text}"
        );
        // Without the token every operation but the document itself is refused.
        let bare = send(&api.addr, &Req::new(method, &path), LIMIT).await;
        if template == "/api/v1/openapi.json" {
            assert_status(&bare, 200);
        } else {
            assert_status(&bare, 401);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_clients_fill_the_connection_cap_and_are_dropped_after_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_cluster(&dir.path().join("cluster")).await;
    let mut alice = Peer::signup(dir.path(), "alice", &cluster);
    alice.start_daemon(&[]).await;
    let (addr, _) = alice.http();
    // As many connections as the cap, each stuck in the middle of its request head.
    let mut silent = Vec::new();
    for _ in 0..peer::daemon::http::MAX_HTTP_CONNECTIONS {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /livez HTTP/1.1\r\n").await.unwrap();
        silent.push(s);
    }
    let started = Instant::now();
    let livez = Req::new("GET", "/livez");
    let early = tokio::time::timeout(Duration::from_secs(2), send(&addr, &livez, LIMIT)).await;
    assert!(
        early.is_err(),
        "a connection over the cap is not served while the cap is full"
    );
    // The head timeout frees the slots; the waiting request is then answered.
    let r = send(&addr, &livez, Duration::from_secs(25)).await;
    assert_status(&r, 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(8),
        "answered after {waited:?}, before the timeout"
    );
    for mut s in silent {
        let mut buf = [0u8; 512];
        let read = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(_)) | Ok(Err(_))),
            "a silent connection was not closed"
        );
    }
}
