//! The client-library writes of a chaos client beyond group creation: join requests to other
//! clients' groups, accepting requests to its own groups, registering files (from a peer id the
//! client registered, with a generated manifest) and reporting chunks held by a second peer id.
//! Each is recorded as an [`OpRecord`] and checked after the run by [`crate::state_check`].
//!
//! The workload never sends a write it expects to be refused, so every definite refusal is a
//! finding. A join goes to each group at most once and each chunk report names chunks no other
//! report of that peer names, so a refused write's effect must be absent from the final state.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};

use proto::tracker_msg::{
    FileManifest, GroupSummary, ReadRequest, Response, SessionToken, WriteOp,
};
use proto::TrackerClient;

use crate::history::{History, OpKind, OpRecord, Outcome, ReadKind, ReadRecord};

/// Every workload username starts with this.
pub const USER_PREFIX: &str = "chaos";
/// Chunks of every generated file.
pub const FILE_CHUNKS: u32 = 8;
/// Chunk size of every generated file (the smallest the tracker accepts).
pub const FILE_CHUNK_BYTES: u32 = 4096;
/// Address the client's peer ids are registered at; nothing ever downloads from them.
const FAKE_PEER_ADDR: &str = "127.0.0.1:9";

/// The Ed25519 public key registered for peers that never serve (the workload's and the
/// benchmarks' simulated peers): a valid key, the same for all of them, computed once per call.
pub fn fake_peer_key() -> [u8; 32] {
    proto::ticket::public_key_of(&[7; 32])
}
/// How many of its newest groups a client scans for join requests.
const GROUPS_SCANNED_FOR_REQUESTS: usize = 8;

/// The two peer ids client `id` registers: (the seeder that registers files, the reporter).
pub fn peer_ids(id: usize) -> (u64, u64) {
    let base = 0xC4A0_5000_0000_0000u64 | ((id as u64 & 0xFFFF_FFFF) << 8);
    (base | 1, base | 2)
}

/// A file manifest made up from `seed`: [`FILE_CHUNKS`] chunks of [`FILE_CHUNK_BYTES`].
pub fn synthetic_manifest(name: &str, seed: u64) -> FileManifest {
    let mut x = seed | 1;
    let mut digest = || {
        let mut d = [0u8; 20];
        for part in d.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let bytes = x.to_le_bytes();
            part.copy_from_slice(&bytes[..part.len()]);
        }
        d
    };
    let chunk_hashes = (0..FILE_CHUNKS).map(|_| digest()).collect();
    FileManifest {
        name: name.to_string(),
        size_bytes: u64::from(FILE_CHUNKS) * u64::from(FILE_CHUNK_BYTES),
        chunk_size_bytes: FILE_CHUNK_BYTES,
        chunk_hashes,
        file_hash: digest(),
    }
}

/// The sequence number at the end of a workload group name (`c<client>-<seq>`).
fn group_seq(name: &str) -> Option<u64> {
    name.rsplit_once('-').and_then(|(_, s)| s.parse().ok())
}

/// One client's state for these writes.
pub struct ClientOps {
    id: usize,
    user: String,
    seeder_peer: u64,
    reporter_peer: u64,
    /// Its newest acknowledged groups (scanned for join requests).
    newest_groups: VecDeque<String>,
    /// Its first acknowledged group: where it registers files.
    file_group: Option<String>,
    files_sent: u64,
    /// The acknowledged file whose chunks are being reported, and the next chunk.
    reporting: Option<(String, u32)>,
    /// Groups it sent a join request to (whatever the outcome).
    joins_sent: BTreeSet<String>,
}

impl ClientOps {
    /// State of client `id` logged in as `user`.
    pub fn new(id: usize, user: &str) -> Self {
        let (seeder_peer, reporter_peer) = peer_ids(id);
        ClientOps {
            id,
            user: user.to_string(),
            seeder_peer,
            reporter_peer,
            newest_groups: VecDeque::new(),
            file_group: None,
            files_sent: 0,
            reporting: None,
            joins_sent: BTreeSet::new(),
        }
    }

    /// Registers the client's two peer ids, retrying until both are acknowledged or `stop` is
    /// set (registration is idempotent for the same user). Returns whether both are registered.
    pub async fn register_peers(
        &self,
        client: &TrackerClient,
        token: &SessionToken,
        stop: &AtomicBool,
    ) -> bool {
        for peer_id in [self.seeder_peer, self.reporter_peer] {
            loop {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                let r = client
                    .write(WriteOp::RegisterPeer {
                        token: *token,
                        peer_id,
                        addr: FAKE_PEER_ADDR.into(),
                        peer_key: fake_peer_key(),
                    })
                    .await;
                if r.is_ok() {
                    break;
                }
            }
        }
        true
    }

    /// Notes a group this client created (acknowledged).
    pub fn group_created(&mut self, name: &str) {
        if self.file_group.is_none() {
            self.file_group = Some(name.to_string());
        }
        self.newest_groups.push_back(name.to_string());
        while self.newest_groups.len() > GROUPS_SCANNED_FOR_REQUESTS {
            self.newest_groups.pop_front();
        }
    }

    async fn send(
        &self,
        client: &TrackerClient,
        history: &History,
        op: OpKind,
        write: WriteOp,
    ) -> Outcome {
        let sent_ms = history.now_ms();
        let (answer, served_by) = client.write_traced(write).await;
        let outcome = Outcome::of(&answer);
        history.record_op(OpRecord {
            client: self.id,
            op,
            sent_ms,
            done_ms: history.now_ms(),
            outcome: outcome.clone(),
            served_by,
        });
        outcome
    }

    /// Lists the pending join requests of `group` and records the read.
    async fn list_requests(
        &self,
        client: &TrackerClient,
        token: &SessionToken,
        history: &History,
        group: &str,
    ) -> Option<Vec<String>> {
        let sent_us = history.now_us();
        let token = *token;
        let (answer, served_by) = proto::pages::collect_traced(
            client,
            |page| ReadRequest::ListRequests {
                token,
                group: group.to_string(),
                page,
            },
            |r| match r {
                Response::JoinRequests(page) => Some(page),
                _ => None,
            },
        )
        .await;
        let done_ms = history.now_ms();
        let outcome = Outcome::of(&answer);
        let users = answer.ok();
        history.record_read(ReadRecord {
            client: self.id,
            kind: ReadKind::ListRequests,
            key: group.to_string(),
            sent_ms: sent_us / 1000,
            sent_us,
            done_ms,
            outcome,
            served_by,
            answer: users
                .as_ref()
                .map(|u| format!("pending {u:?}"))
                .unwrap_or_default(),
            seen: None,
        });
        users
    }

    /// Files a join request with the newest group of another workload client that this client
    /// neither belongs to nor asked to join yet, as seen in `groups` (a fresh listing).
    pub async fn join_step(
        &mut self,
        client: &TrackerClient,
        token: &SessionToken,
        history: &History,
        groups: &[GroupSummary],
    ) {
        let target = groups
            .iter()
            .filter(|g| {
                g.owner != self.user
                    && g.owner.starts_with(USER_PREFIX)
                    && !g.is_member
                    && !g.request_pending
                    && !self.joins_sent.contains(&g.name)
            })
            .max_by_key(|g| group_seq(&g.name))
            .map(|g| g.name.clone());
        let Some(group) = target else { return };
        self.joins_sent.insert(group.clone());
        let op = OpKind::Join {
            group: group.clone(),
            user: self.user.clone(),
        };
        let write = WriteOp::JoinGroup {
            token: *token,
            group,
        };
        self.send(client, history, op, write).await;
    }

    /// Lists the pending requests of this client's newest groups and accepts each one.
    pub async fn accept_step(
        &mut self,
        client: &TrackerClient,
        token: &SessionToken,
        history: &History,
    ) {
        let groups: Vec<String> = self.newest_groups.iter().cloned().collect();
        for group in groups {
            let Some(pending) = self.list_requests(client, token, history, &group).await else {
                continue;
            };
            for user in pending {
                let op = OpKind::Accept {
                    group: group.clone(),
                    user: user.clone(),
                };
                let write = WriteOp::AcceptJoin {
                    token: *token,
                    group: group.clone(),
                    username: user,
                };
                self.send(client, history, op, write).await;
            }
        }
    }

    /// Reports the next chunk of the file being reported, or registers a new file.
    pub async fn file_step(
        &mut self,
        client: &TrackerClient,
        token: &SessionToken,
        history: &History,
    ) {
        let Some(group) = self.file_group.clone() else {
            return;
        };
        if let Some((name, next)) = self.reporting.take() {
            if next + 1 < FILE_CHUNKS {
                self.reporting = Some((name.clone(), next + 1));
            }
            let op = OpKind::ReportHave {
                group: group.clone(),
                name: name.clone(),
                peer_id: self.reporter_peer,
                chunks: vec![next],
            };
            let write = WriteOp::ReportHave {
                token: *token,
                peer_id: self.reporter_peer,
                group,
                name,
                chunks: vec![next],
            };
            self.send(client, history, op, write).await;
            return;
        }
        self.files_sent += 1;
        let name = format!("f{}-{:05}.bin", self.id, self.files_sent);
        let seed = ((self.id as u64) << 32) ^ self.files_sent;
        let manifest = synthetic_manifest(&name, seed);
        let op = OpKind::RegisterFile {
            group: group.clone(),
            manifest: manifest.clone(),
        };
        let write = WriteOp::RegisterFile {
            token: *token,
            peer_id: self.seeder_peer,
            group,
            manifest,
        };
        if self.send(client, history, op, write).await == Outcome::Acked {
            self.reporting = Some((name, 0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_valid_and_distinct() {
        let a = synthetic_manifest("a", 1);
        let b = synthetic_manifest("a", 2);
        assert_eq!(a.chunk_hashes.len(), FILE_CHUNKS as usize);
        assert_eq!(
            FileManifest::expected_chunk_count(a.size_bytes, a.chunk_size_bytes),
            u64::from(FILE_CHUNKS)
        );
        assert_ne!(a, b);
        assert_eq!(a, synthetic_manifest("a", 1));
    }

    #[test]
    fn peer_ids_differ_per_client() {
        let (a1, a2) = peer_ids(0);
        let (b1, b2) = peer_ids(1);
        assert_eq!(BTreeSet::from([a1, a2, b1, b2]).len(), 4);
    }

    #[test]
    fn group_seq_parses_the_suffix() {
        assert_eq!(group_seq("c3-000042"), Some(42));
        assert_eq!(group_seq("share"), None);
    }
}
