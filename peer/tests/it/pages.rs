//! Lists longer than one page: `peer group list` and `peer files` follow the tracker's cursors
//! and show every group and file once, in order.

use std::collections::BTreeSet;

use proto::quota::QuotaChanges;
use proto::tracker_msg::{AdminRequest, FileManifest, WriteOp, MAX_PAGE_ITEMS};
use proto::{ClientConfig, TrackerClient};

use super::util::{start_cluster, Peer};

/// Groups created: more than two full pages.
const GROUPS: usize = 2 * MAX_PAGE_ITEMS as usize + 17;
/// Clients writing at once while creating them.
const CLIENTS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_every_group_and_file_across_pages() {
    let root = tempfile::tempdir().unwrap();
    let cluster = start_cluster(&root.path().join("cluster")).await;
    // One user owns all of them, more than the default quota of groups per user allows.
    TrackerClient::new(cluster.admin_config())
        .unwrap()
        .admin(AdminRequest::SetQuotas(QuotaChanges {
            groups_per_user: Some(GROUPS as u64),
            ..QuotaChanges::default()
        }))
        .await
        .unwrap();
    let alice = Peer::signup(root.path(), "alice", &cluster);
    let token = Peer::token_of(&alice);
    let names: Vec<String> = (0..GROUPS).map(|i| format!("grp-{i:05}")).collect();
    let peer_id = 4242;
    let client = TrackerClient::new(cluster.user_config()).unwrap();
    client
        .write(WriteOp::RegisterPeer {
            token,
            peer_id,
            addr: "127.0.0.1:9".into(),
            peer_key: peer::identity::load_or_create(&peer::home::Home::open(&alice.home).unwrap())
                .unwrap()
                .public_key,
        })
        .await
        .unwrap();
    let writes: Vec<WriteOp> = names
        .iter()
        .map(|g| WriteOp::CreateGroup {
            token,
            group: g.clone(),
        })
        .collect();
    run_in_parallel(&cluster.user_config(), writes).await;
    // Files in one group: more than one full page of them too.
    let files: Vec<String> = (0..MAX_PAGE_ITEMS as usize + 3)
        .map(|i| format!("f-{i:05}.bin"))
        .collect();
    let registrations = files
        .iter()
        .map(|name| WriteOp::RegisterFile {
            token,
            peer_id,
            group: names[0].clone(),
            manifest: FileManifest {
                name: name.clone(),
                size_bytes: 10,
                chunk_size_bytes: 4096,
                chunk_hashes: vec![[1; 20]],
                file_hash: [2; 20],
            },
        })
        .collect();
    run_in_parallel(&cluster.user_config(), registrations).await;

    let listed = alice.ok(&["--json", "group", "list"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    let seen: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(seen.len(), GROUPS, "every group once");
    assert_eq!(seen, names.iter().map(String::as_str).collect::<Vec<_>>());

    let listed = alice.ok(&["--json", "files", &names[0]]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    let seen: BTreeSet<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(seen.len(), files.len());
    assert!(files.iter().all(|f| seen.contains(f.as_str())));
}

/// Sends `writes` from [`CLIENTS`] clients at once, each its share in order; panics on a refusal.
async fn run_in_parallel(config: &ClientConfig, writes: Vec<WriteOp>) {
    let mut shares: Vec<Vec<WriteOp>> = (0..CLIENTS).map(|_| Vec::new()).collect();
    for (i, w) in writes.into_iter().enumerate() {
        shares[i % CLIENTS].push(w);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for share in shares {
        let client = TrackerClient::new(config.clone()).unwrap();
        tasks.spawn(async move {
            for w in share {
                client.write(w).await.unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}
