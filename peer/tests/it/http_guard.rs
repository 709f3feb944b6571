//! The daemon's HTTP surface as a stranger meets it: the token, the Host/Origin guard, the
//! login link and its cookie, what needs no token, `peer ui`, the loopback-only default, that
//! every operation of the OpenAPI document is routed and refuses a request without the token,
//! and the connection cap and header timeout.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::http_client::{send, Req};
use super::openapi_check::{assert_status, Api, LIMIT};
use super::util::{start_cluster, Peer};

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
    // Bodies are bounded.
    let big = "x".repeat(peer::daemon::http::MAX_BODY_BYTES + 1);
    let r = send(&addr, &create.clone().json(json!({ "name": big })), LIMIT).await;
    assert_status(&r, 413);
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
