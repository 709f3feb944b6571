//! The tracker's HTTP surface (`--http-addr`, given to every node by `LocalCluster::plan`):
//! `/metrics` parses as strict OpenMetrics text and its counters move with writes, `/v1/status`
//! has the node's fields and the counts, `/readyz` turns 503 on a node cut off from its quorum
//! and back to 200 after, no endpoint shows a user, group or file name, token or password, and
//! the listener refuses bodies and other methods and closes a connection that sends no headers.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use cluster::http_probe::{self, HttpReply};
use cluster::LocalCluster;
use proto::tracker_msg::{PeerActivity, ReadRequest, WriteOp};

use super::util::{client, register_peer, register_small_file, signup, start};

const TIMEOUT: Duration = Duration::from_secs(5);

fn http_addr(c: &LocalCluster, id: u64) -> String {
    c.nodes[&id]
        .http_addr
        .clone()
        .expect("planned nodes have an HTTP address")
}

async fn get(addr: &str, path: &str) -> HttpReply {
    http_probe::get(addr, path, TIMEOUT).await.unwrap()
}

/// One sample: metric name and sorted labels.
type Key = (String, BTreeMap<String, String>);

/// Parses OpenMetrics text strictly: `# HELP`, `# TYPE`, `# UNIT` lines naming a family, each
/// family's TYPE before its samples, every sample of a declared family (suffixes `_total`,
/// `_bucket`, `_sum`, `_count` as its type allows), no sample twice, values that are numbers,
/// histogram buckets cumulative ending in `+Inf` equal to `_count`, and `# EOF` as the last line.
fn parse_metrics(text: &str) -> BTreeMap<Key, f64> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples: BTreeMap<Key, f64> = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "the text must end with # EOF");
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, ch)| {
                ch.is_ascii_alphabetic() || ch == '_' || ch == ':' || (i > 0 && ch.is_ascii_digit())
            })
    };
    for line in &lines[..lines.len() - 1] {
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let kind = parts.next().unwrap();
            let family = parts
                .next()
                .unwrap_or_else(|| panic!("bad meta line {line:?}"));
            assert!(name_ok(family), "bad family name in {line:?}");
            assert!(
                family.starts_with("tracker_"),
                "{family} lacks the tracker_ prefix"
            );
            match kind {
                "TYPE" => {
                    let t = parts.next().unwrap();
                    assert!(["counter", "gauge", "histogram"].contains(&t), "{line:?}");
                    assert!(
                        types.insert(family.into(), t.into()).is_none(),
                        "{family} twice"
                    );
                }
                "HELP" => assert!(parts.next().is_some_and(|h| !h.is_empty()), "{line:?}"),
                "UNIT" => {
                    let unit = parts.next().unwrap();
                    assert!(family.ends_with(&format!("_{unit}")), "{line:?}");
                }
                _ => panic!("unknown meta line {line:?}"),
            }
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "bad line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("{line:?}"));
                let mut labels = BTreeMap::new();
                for pair in body.split(',') {
                    let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("{line:?}"));
                    assert!(name_ok(k), "bad label name in {line:?}");
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or_else(|| panic!("unquoted label value in {line:?}"));
                    assert!(!v.contains('"') && !v.contains('\\'), "{line:?}");
                    assert!(
                        labels.insert(k.to_string(), v.to_string()).is_none(),
                        "{line:?}"
                    );
                }
                (name, labels)
            }
        };
        assert!(name_ok(name), "bad metric name in {line:?}");
        let declared = |family: &str| types.get(family).map(String::as_str);
        let ok = match declared(name) {
            Some("gauge") => true,
            _ => {
                let strip = |suffix: &str| name.strip_suffix(suffix).and_then(declared);
                strip("_total") == Some("counter")
                    || ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|s| strip(s) == Some("histogram"))
            }
        };
        assert!(
            ok,
            "sample {name} of no declared family (or the wrong suffix)"
        );
        if name.ends_with("_total") {
            assert!(value >= 0.0, "negative counter in {line:?}");
        }
        assert!(
            samples.insert((name.to_string(), labels), value).is_none(),
            "sample twice: {line:?}"
        );
    }
    for (family, t) in &types {
        if t != "histogram" {
            continue;
        }
        let bucket = format!("{family}_bucket");
        let mut last = 0.0;
        let mut bounds = Vec::new();
        for ((name, labels), v) in &samples {
            if name == &bucket {
                bounds.push((labels["le"].clone(), *v));
            }
        }
        bounds.sort_by(|a, b| bound(&a.0).total_cmp(&bound(&b.0)));
        for (_, v) in &bounds {
            assert!(*v >= last, "{family} buckets not cumulative");
            last = *v;
        }
        assert_eq!(
            bounds.last().map(|b| b.0.as_str()),
            Some("+Inf"),
            "{family}"
        );
        let count = samples[&(format!("{family}_count"), BTreeMap::new())];
        assert_eq!(last, count, "{family}: +Inf bucket differs from _count");
    }
    samples
}

fn bound(le: &str) -> f64 {
    if le == "+Inf" {
        f64::INFINITY
    } else {
        le.parse().unwrap()
    }
}

fn value(m: &BTreeMap<Key, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    *m.get(&(name.to_string(), labels.clone()))
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
}

async fn metrics(addr: &str) -> BTreeMap<Key, f64> {
    let r = get(addr, "/metrics").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        r.headers
    );
    parse_metrics(&r.body)
}

/// Polls `addr`'s `/readyz` until its status is `want` (bounded); returns the last body.
async fn wait_ready_status(addr: &str, want: u16, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let r = http_probe::get(addr, "/readyz", TIMEOUT).await;
        if let Ok(r) = &r {
            if r.status == want {
                return r.body.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "/readyz on {addr} never answered {want}: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_status_and_page_show_the_cluster_and_no_names() {
    let (_dir, c) = start(3, &[]).await;
    let leader = c.wait_leader(TIMEOUT).await.unwrap().node_id;
    let leader_http = http_addr(&c, leader);
    for id in 1..=3 {
        let r = get(&http_addr(&c, id), "/livez").await;
        assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
        wait_ready_status(&http_addr(&c, id), 200, Duration::from_secs(10)).await;
    }
    let before = metrics(&leader_http).await;
    assert_eq!(
        value(&before, "tracker_raft_role", &[("role", "leader")]),
        1.0
    );
    assert_eq!(value(&before, "tracker_ready", &[]), 1.0);
    assert!(
        value(
            &before,
            "tracker_raft_append_entries_rtt_seconds_count",
            &[]
        ) > 0.0
    );

    // Writes with names that must not show anywhere.
    let cl = client(&c);
    let token = signup(&cl, "zelda-secret-user").await;
    cl.write(WriteOp::CreateGroup {
        token,
        group: "hidden-group-name".into(),
    })
    .await
    .unwrap();
    cl.write(register_peer(token, 4242)).await.unwrap();
    cl.write(register_small_file(
        token,
        4242,
        "hidden-group-name",
        "secret-file-name.bin",
    ))
    .await
    .unwrap();
    cl.read(ReadRequest::Heartbeat {
        token,
        peer_id: 4242,
        activity: PeerActivity::Active,
    })
    .await
    .unwrap();

    let after = metrics(&leader_http).await;
    let grew = |name: &str, labels: &[(&str, &str)], by: f64| {
        let (b, a) = (value(&before, name, labels), value(&after, name, labels));
        assert!(a >= b + by, "{name}{labels:?}: {b} -> {a}, expected +{by}");
    };
    // Create user, login, create group, register peer and file: five commands at least.
    grew("tracker_write_proposals_total", &[], 5.0);
    grew("tracker_write_entries_total", &[], 1.0);
    grew("tracker_write_commit_seconds_count", &[], 1.0);
    grew("tracker_write_commands_per_entry_count", &[], 1.0);
    grew("tracker_api_requests_total", &[("kind", "write")], 5.0);
    grew("tracker_api_requests_total", &[("kind", "read")], 1.0);
    grew("tracker_peer_heartbeats_total", &[], 1.0);
    grew("tracker_api_connections_accepted_total", &[], 1.0);
    let commit = value(&after, "tracker_raft_commit_index", &[]);
    assert!(commit >= value(&before, "tracker_raft_commit_index", &[]) + 1.0);
    assert!(value(&after, "tracker_raft_applied_index", &[]) <= commit);
    for follower in (1..=3).filter(|id| *id != leader) {
        let lag = value(
            &after,
            "tracker_raft_replication_lag_entries",
            &[("follower", &follower.to_string())],
        );
        assert!(lag >= 0.0);
    }
    assert!(value(&after, "tracker_process_resident_memory_bytes", &[]) > 0.0);
    assert!(value(&after, "tracker_process_open_fds", &[]) > 0.0);
    assert!(value(&after, "tracker_storage_data_dir_size_bytes", &[]) > 0.0);
    // A refusal is counted by its kind.
    let _ = cl
        .write(WriteOp::CreateGroup {
            token,
            group: "hidden-group-name".into(),
        })
        .await
        .unwrap_err();
    let refused = metrics(&leader_http).await;
    assert!(
        value(
            &refused,
            "tracker_api_request_errors_total",
            &[("kind", "write"), ("error", "group_exists")]
        ) >= 1.0
    );

    // /v1/status on every node: its own id, the membership, the counts (polled: the leader's were
    // cached by the first scrape, and a follower may not have applied everything yet; counts are
    // cached for 30 s).
    let deadline = Instant::now() + Duration::from_secs(45);
    for id in 1..=3 {
        loop {
            let r = get(&http_addr(&c, id), "/v1/status").await;
            assert_eq!(r.status, 200);
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(v["node_id"], id);
            assert_eq!(v["voters"], serde_json::json!([1, 2, 3]));
            assert_eq!(v["leader_id"], leader);
            assert!(v["term"].as_u64().unwrap() >= 1);
            assert!(v["last_log_index"].as_u64().is_some() && v["committed"].as_u64().is_some());
            let role = v["role"].as_str().unwrap();
            if id == leader {
                assert_eq!(role, "leader");
                let followers: BTreeSet<u64> = v["replication"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["node_id"].as_u64().unwrap())
                    .collect();
                assert_eq!(followers.len(), 2, "{}", r.body);
                assert!(!followers.contains(&leader));
            } else {
                assert_eq!(role, "follower");
                assert_eq!(v["replication"], serde_json::json!([]));
            }
            let counts = &v["counts"];
            let want = (1, 1, 1, 1);
            let got = (
                counts["users"].as_u64().unwrap(),
                counts["groups"].as_u64().unwrap(),
                counts["files"].as_u64().unwrap(),
                counts["peers_online"].as_u64().unwrap(),
            );
            if got == want {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {id} counts {got:?}, want {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    // The page and every other endpoint: no name, token or password of the state.
    let secrets = [
        "zelda-secret-user".to_string(),
        "password-zelda-secret-user".to_string(),
        "hidden-group-name".to_string(),
        "secret-file-name".to_string(),
        token.to_string(),
    ];
    for id in 1..=3 {
        let addr = http_addr(&c, id);
        for path in ["/", "/metrics", "/v1/status", "/readyz", "/livez"] {
            let r = get(&addr, path).await;
            assert_eq!(r.status, 200, "{path} on node {id}");
            for s in &secrets {
                assert!(
                    !r.body.contains(s.as_str()),
                    "{path} on node {id} shows {s:?}"
                );
            }
        }
    }
    let page = get(&leader_http, "/").await;
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(
        page.body.contains(&format!("tracker node {leader}")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<th>users</th><td>1</td>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Followers"), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_on_a_node_cut_off_from_its_quorum_and_recovers() {
    let (_dir, mut c) = start(3, &[]).await;
    let leader = c.wait_leader(TIMEOUT).await.unwrap().node_id;
    let others: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    for id in 1..=3 {
        wait_ready_status(&http_addr(&c, id), 200, Duration::from_secs(10)).await;
    }
    // The leader alone: its quorum stops acknowledging.
    for id in &others {
        assert!(c.signal(*id, libc::SIGSTOP));
    }
    let why = wait_ready_status(&http_addr(&c, leader), 503, Duration::from_secs(10)).await;
    let resumed = |c: &mut LocalCluster, ids: &[u64]| {
        for id in ids {
            assert!(c.signal(*id, libc::SIGCONT));
        }
    };
    resumed(&mut c, &others);
    assert!(why.contains("quorum"), "{why}");
    assert_eq!(why.lines().count(), 1, "{why:?}");
    let status = get(&http_addr(&c, leader), "/livez").await;
    assert_eq!(status.status, 200);
    for id in 1..=3 {
        wait_ready_status(&http_addr(&c, id), 200, Duration::from_secs(20)).await;
    }

    // A follower alone: it hears no leader.
    let leader = c
        .wait_leader(Duration::from_secs(20))
        .await
        .unwrap()
        .node_id;
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    let stopped: Vec<u64> = (1..=3).filter(|id| *id != follower).collect();
    for id in &stopped {
        assert!(c.signal(*id, libc::SIGSTOP));
    }
    let why = wait_ready_status(&http_addr(&c, follower), 503, Duration::from_secs(10)).await;
    resumed(&mut c, &stopped);
    assert!(why.contains("leader"), "{why}");
    for id in 1..=3 {
        wait_ready_status(&http_addr(&c, id), 200, Duration::from_secs(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_listener_refuses_bodies_other_methods_and_slow_headers() {
    let (_dir, c) = start(1, &[]).await;
    let addr = http_addr(&c, 1);
    // A single node is its own quorum.
    wait_ready_status(&addr, 200, Duration::from_secs(10)).await;
    let send = |raw: &'static str| {
        let addr = addr.clone();
        async move {
            http_probe::request(&addr, raw.as_bytes(), TIMEOUT)
                .await
                .unwrap()
        }
    };
    let r =
        send("POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let r = send(
        "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\nabcd",
    )
    .await;
    assert_eq!(r.status, 413);
    let r = send("GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").await;
    assert_eq!(r.status, 413);
    let r = send("GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(r.status, 404);
    // A request line without the end of its headers: closed after the header timeout (5 s).
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the connection stayed open past the header timeout"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(12),
        "{waited:?}"
    );
    // Nothing usable was answered.
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
}
