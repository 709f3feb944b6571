//! Writes one valid input or a few per fuzz target into `corpus/<target>/seed-*`, so the fuzzer
//! starts from real messages: `cargo run --release --example gen_seeds` in `fuzz/`. Run it once when a
//! format changes; `cargo fuzz cmin` then keeps what adds coverage.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest, VoteResponse};
use openraft::{
    CommittedLeaderId, Entry, EntryPayload, LogId, Membership, SnapshotMeta, StoredMembership, Vote,
};
use proto::frame::encode;
use proto::peer_msg::{ChunkStatus, PeerFrame, PEER_VERSION};
use proto::ticket::{SignedTicket, Ticket};
use proto::tracker_msg::{
    AdminRequest, ClientFrame, FileManifest, ReadRequest, ReplyMeta, Request, Response,
    ServerFrame, WriteOp, WriteRequest, API_MAGIC, API_VERSION,
};
use proto::ApiError;
use tracker::cmd::{Cmd, CmdBatch, Op, Origin};
use tracker::domain::records::{GroupRec, PeerRec, SessionRec, UserRec};
use tracker::raft_net::msg::{RaftReply, RaftRequest, RAFT_MAGIC, RAFT_VERSION};
use tracker::raft_types::{NodeInfo, TypeConfig};

fn save(target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("seed-{name}")), bytes)
}

fn manifest() -> FileManifest {
    FileManifest {
        name: "report.pdf".into(),
        size_bytes: 10_000,
        chunk_size_bytes: 4096,
        chunk_hashes: vec![[1; 20], [2; 20], [3; 20]],
        file_hash: [9; 20],
    }
}

fn log_id(index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(3, 1), index)
}

fn membership() -> StoredMembership<u64, NodeInfo> {
    let nodes: BTreeMap<u64, NodeInfo> = [(
        1,
        NodeInfo {
            api_addr: "127.0.0.1:7001".into(),
            raft_addr: "127.0.0.1:7101".into(),
        },
    )]
    .into();
    StoredMembership::new(
        Some(log_id(1)),
        Membership::new(vec![BTreeSet::from([1])], nodes),
    )
}

fn entries() -> Result<Vec<Entry<TypeConfig>>, Box<dyn std::error::Error>> {
    let cmd = Cmd {
        origin: Some(Origin {
            client_id: 7,
            serial: 1,
        }),
        now_ms: 1_700_000_000_000,
        op: Op::CreateUser {
            username: "alice".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        },
    };
    Ok(vec![
        Entry {
            log_id: log_id(1),
            payload: EntryPayload::Blank,
        },
        Entry {
            log_id: log_id(2),
            payload: EntryPayload::Membership(membership().membership().clone()),
        },
        Entry {
            log_id: log_id(3),
            payload: EntryPayload::Normal(CmdBatch::encode(&[cmd])?),
        },
    ])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Client frames.
    let hello = ClientFrame::Hello {
        magic: API_MAGIC,
        version: API_VERSION,
    };
    save("client_frame", "hello", &encode(&hello)?)?;
    let requests = [
        Request::Write(WriteRequest {
            client_id: 7,
            serial: 2,
            op: WriteOp::CreateUser {
                username: "alice".into(),
                password: "correct horse".into(),
                display_name: None,
            },
        }),
        Request::Read(ReadRequest::ClusterKey),
        Request::Admin(AdminRequest::Status { digest: false }),
        Request::Admin(AdminRequest::AddLearner {
            node_id: 4,
            api_addr: "127.0.0.1:7004".into(),
            raft_addr: "127.0.0.1:7104".into(),
        }),
        Request::Admin(AdminRequest::Members),
        Request::Admin(AdminRequest::SnapshotBegin { local: true }),
        Request::Admin(AdminRequest::SnapshotRead {
            id: 77,
            offset: 1 << 20,
            len: 1 << 20,
        }),
    ];
    for (i, request) in requests.into_iter().enumerate() {
        let frame = ClientFrame::Request {
            id: i as u64,
            request,
        };
        save("client_frame", &format!("request-{i}"), &encode(&frame)?)?;
    }
    let meta = ReplyMeta {
        node_id: 1,
        term: 3,
        applied_index: 40,
    };
    let replies = [
        ServerFrame::Welcome {
            version: API_VERSION,
            node_id: 1,
        },
        ServerFrame::Refused(ApiError::InvalidRequest("bad magic".into())),
        ServerFrame::Reply {
            id: 1,
            result: Ok(Response::Sources {
                manifest: manifest(),
                sources: vec![proto::tracker_msg::Source {
                    peer_id: 5,
                    username: "bob".into(),
                    addr: "127.0.0.1:9000".into(),
                    peer_key: proto::ticket::public_key_of(&[5; 32]),
                    bitfield: vec![0b101],
                    online: true,
                    last_seen_ms: Some(1_700_000_000_000),
                }],
                ticket: None,
                next: Some("carol".into()),
            }),
            meta,
        },
        ServerFrame::Reply {
            id: 2,
            result: Err(ApiError::Unavailable("no leader".into())),
            meta,
        },
        ServerFrame::Reply {
            id: 3,
            result: Ok(Response::Members(vec![proto::tracker_msg::Member {
                id: 1,
                api_addr: "127.0.0.1:7001".into(),
                raft_addr: "127.0.0.1:7101".into(),
                voter: true,
            }])),
            meta,
        },
        ServerFrame::Reply {
            id: 4,
            result: Ok(Response::SnapshotBegun(proto::tracker_msg::SnapshotInfo {
                id: 77,
                node_id: 1,
                local: false,
                size_bytes: 4096,
                applied_term: 3,
                applied_leader: 1,
                applied_index: 40,
                digest: "da39a3ee5e6b4b0d3255bfef95601890afd80709".into(),
            })),
            meta,
        },
        ServerFrame::Reply {
            id: 5,
            result: Ok(Response::SnapshotChunk(vec![7; 64])),
            meta,
        },
    ];
    for (i, frame) in replies.iter().enumerate() {
        save("server_frame", &format!("frame-{i}"), &encode(frame)?)?;
    }

    // Tickets and peer frames.
    let ticket = Ticket {
        username: "alice".into(),
        group: "team".into(),
        file_name: "report.pdf".into(),
        file_hash: [9; 20],
        not_before_ms: 1 << 39,
        expires_at_ms: 1 << 41,
        downloader_key: proto::ticket::public_key_of(&[6; 32]),
    };
    let signed = SignedTicket::sign(&ticket, &[7; 32])?;
    save("ticket", "signed", &encode(&signed)?)?;
    save("ticket", "inner", &encode(&ticket)?)?;
    let frames = [
        PeerFrame::Hello {
            version: PEER_VERSION,
            peer_id: 5,
            ticket: signed,
        },
        PeerFrame::Welcome,
        PeerFrame::Refused("ticket expired".into()),
        PeerFrame::Request { index: 2 },
        PeerFrame::Cancel { index: 2 },
        PeerFrame::Status {
            index: 2,
            status: ChunkStatus::Busy,
        },
    ];
    for (i, frame) in frames.iter().enumerate() {
        save("peer_frame", &format!("frame-{i}"), &frame.encode()?)?;
    }
    let mut chunk = vec![0x83, 0, 0, 0, 1];
    chunk.extend_from_slice(b"chunk bytes");
    save("peer_frame", "chunk", &chunk)?;

    // Raft frames.
    let vote = Vote::new_committed(3, 1);
    let raft: Vec<Vec<u8>> = vec![
        encode(&RaftRequest::Hello {
            magic: RAFT_MAGIC,
            version: RAFT_VERSION,
            from: 2,
        })?,
        encode(&RaftRequest::AppendEntries(AppendEntriesRequest {
            vote,
            prev_log_id: Some(log_id(0)),
            entries: entries()?,
            leader_commit: Some(log_id(2)),
        }))?,
        encode(&RaftRequest::Vote(VoteRequest::new(vote, Some(log_id(3)))))?,
        encode(&RaftRequest::InstallSnapshot(InstallSnapshotRequest {
            vote,
            meta: SnapshotMeta {
                last_log_id: Some(log_id(3)),
                last_membership: membership(),
                snapshot_id: "3-3-0".into(),
            },
            offset: 0,
            data: b"image".to_vec(),
            done: true,
        }))?,
        encode(&RaftReply::Welcome { node_id: 1 })?,
        encode(&RaftReply::Vote(Ok(VoteResponse::new(
            vote,
            Some(log_id(3)),
            true,
        ))))?,
    ];
    for (i, bytes) in raft.iter().enumerate() {
        save("raft_frame", &format!("frame-{i}"), bytes)?;
    }

    // Stored records: a kind byte (see `tracker::fuzz_entry::store_record`), then the record.
    let records: Vec<(u8, Vec<u8>)> = vec![
        (
            0,
            encode(&UserRec {
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                created_at_ms: 1,
                display_name: Some("Alice".into()),
                last_login_ms: Some(2),
            })?,
        ),
        (
            1,
            encode(&SessionRec {
                username: "alice".into(),
                expires_at_ms: 2,
            })?,
        ),
        (
            2,
            encode(&GroupRec {
                owner: "alice".into(),
                members: vec!["alice".into(), "bob".into()],
                requests: vec!["carol".into()],
                created_at_ms: 3,
                open: true,
            })?,
        ),
        (
            3,
            encode(&tracker::domain::records::FileRec {
                manifest: manifest(),
                uploader: "alice".into(),
                registered_at_ms: 4,
            })?,
        ),
        (
            4,
            encode(&PeerRec {
                username: "bob".into(),
                addr: "127.0.0.1:9000".into(),
                online: true,
                public_key: proto::ticket::public_key_of(&[5; 32]),
            })?,
        ),
        (
            5,
            encode(&tracker::domain::records::ClientRec {
                serial: 3,
                reply: Ok(Response::Done),
                applied_at_ms: 5,
            })?,
        ),
        (6, encode(&log_id(9))?),
        (7, encode(&membership())?),
        (8, encode(&entries()?[2])?),
        (9, encode(&vote)?),
        (10, encode(&Some(log_id(8)))?),
    ];
    for (kind, bytes) in &records {
        let mut input = vec![*kind];
        input.extend_from_slice(bytes);
        save("store_record", &format!("kind-{kind}"), &input)?;
    }

    // Undo record: `[op][table tag][key len u32 BE][key]` and, for a put, `[len][value]`.
    let mut undo = vec![1, 0, 0, 0, 0, 5];
    undo.extend_from_slice(b"alice");
    undo.extend_from_slice(&[0, 0, 0, 3]);
    undo.extend_from_slice(b"old");
    undo.extend_from_slice(&[0, 2, 0, 0, 0, 4]);
    undo.extend_from_slice(b"team");
    save("undo_record", "put-and-delete", &undo)?;

    // Snapshot image records `[tag][key len][key][value len][value]`, and a stored snapshot
    // `meta len u32 BE | meta | image`.
    let mut image = vec![0, 0, 0, 0, 5];
    image.extend_from_slice(b"alice");
    image.extend_from_slice(&[0, 0, 0, 3]);
    image.extend_from_slice(b"rec");
    save("snapshot", "image", &image)?;
    let meta = encode(&SnapshotMeta {
        last_log_id: Some(log_id(3)),
        last_membership: membership(),
        snapshot_id: "3-3-0".into(),
    })?;
    let mut stored = u32::try_from(meta.len())?.to_be_bytes().to_vec();
    stored.extend_from_slice(&meta);
    stored.extend_from_slice(&image);
    save("snapshot", "stored", &stored)?;

    // Home files: a kind byte (see `peer::fuzz_entry::peer_home`), then the file.
    let session = serde_json::json!({"username": "alice", "token": "ab".repeat(32)});
    let mut input = vec![0];
    input.extend_from_slice(&serde_json::to_vec_pretty(&session)?);
    save("peer_home", "session", &input)?;
    let manifest_json = serde_json::to_value(manifest())?;
    let shares = serde_json::json!([{
        "group": "team",
        "name": "report.pdf",
        "path": "/home/alice/report.pdf",
        "manifest": manifest_json,
        "fingerprint": {"size_bytes": 10_000, "mtime_ns": 1_700_000_000_000_000_000u64},
    }]);
    let mut input = vec![1];
    input.extend_from_slice(&serde_json::to_vec_pretty(&shares)?);
    save("peer_home", "shares", &input)?;
    let record = serde_json::json!({
        "id": "0123abcd",
        "group": "team",
        "name": "report.pdf",
        "dest": "/home/bob/report.pdf",
        "manifest": manifest_json,
        "state": "Running",
    });
    let mut input = vec![2];
    input.extend_from_slice(&serde_json::to_vec_pretty(&record)?);
    input.push(0);
    input.push(0b101);
    save("peer_home", "download", &input)?;
    Ok(())
}
