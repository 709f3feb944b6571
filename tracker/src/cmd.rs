//! The replicated commands: [`Cmd`] and its [`Op`], the [`CmdBatch`] one log entry carries (the
//! commands encoded once by the node that proposes them) and the results of applying them.
//!
//! Everything nondeterministic (time, tokens, password hashes, peer ids) is chosen by the node
//! that proposes and travels inside the command, so `apply` on every node computes the same state.
//!
//! An entry is written to the log, read back, sent to every follower and written to their logs
//! before anyone applies it; carrying the commands as one byte string makes each of those steps a
//! copy instead of a walk over every field. Only `apply` decodes them.

use std::sync::Arc;

use serde::de::{Error, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use proto::frame::FrameError;
use proto::tracker_msg::{FileManifest, Response};
use proto::ApiError;

/// Identity of a client write, for at-most-once application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// Random id of the client.
    pub client_id: u64,
    /// Serial of this write for that client.
    pub serial: u64,
}

/// A 256-bit session token.
pub type TokenBytes = [u8; 32];

/// One replicated command: who sent it, when (leader's clock), and what it does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cmd {
    /// The client write this came from; `None` for commands the leader makes itself.
    pub origin: Option<Origin>,
    /// Leader's wall clock when proposing (ms since the Unix epoch).
    pub now_ms: u64,
    /// The operation.
    pub op: Op,
}

/// Operations of the replicated state machine.
///
/// Deliberately a type of its own, not the wire's `WriteOp`, even where a variant looks alike:
/// the log is stored on disk and replayed by every later build, so its encoding must outlive any
/// version of the client API (a new wire field or variant must not change how old entries
/// decode), and it carries what the proposer chose (password hashes, tokens, expiry times, the
/// decoded 32-byte token instead of its hex text) rather than what the client sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Op {
    /// Create an account with an already computed argon2id hash.
    CreateUser {
        /// Username.
        username: String,
        /// PHC-format argon2id hash (salt included).
        password_hash: String,
    },
    /// Open a session (password already verified by the proposing leader).
    OpenSession {
        /// Username.
        username: String,
        /// Random token chosen by the leader.
        token: TokenBytes,
        /// Expiry (ms since the epoch).
        expires_at_ms: u64,
    },
    /// Close a session.
    CloseSession {
        /// Token to drop.
        token: TokenBytes,
    },
    /// Create a group.
    CreateGroup {
        /// Caller's session.
        token: TokenBytes,
        /// Group name.
        group: String,
    },
    /// File a join request.
    JoinGroup {
        /// Caller's session.
        token: TokenBytes,
        /// Group name.
        group: String,
    },
    /// Leave a group.
    LeaveGroup {
        /// Caller's session.
        token: TokenBytes,
        /// Group name.
        group: String,
    },
    /// Accept a join request (owner).
    AcceptJoin {
        /// Caller's session.
        token: TokenBytes,
        /// Group name.
        group: String,
        /// Whose request.
        username: String,
    },
    /// Register a peer daemon.
    RegisterPeer {
        /// Caller's session.
        token: TokenBytes,
        /// Peer id.
        peer_id: u64,
        /// Serving address.
        addr: String,
        /// The daemon's Ed25519 public key.
        peer_key: [u8; 32],
    },
    /// Register a file with this peer as full seeder.
    RegisterFile {
        /// Caller's session.
        token: TokenBytes,
        /// Seeding peer.
        peer_id: u64,
        /// Group name.
        group: String,
        /// File metadata.
        manifest: FileManifest,
    },
    /// Batched chunk availability.
    ReportHave {
        /// Caller's session.
        token: TokenBytes,
        /// Reporting peer.
        peer_id: u64,
        /// Group name.
        group: String,
        /// File name.
        name: String,
        /// Chunks now held.
        chunks: Vec<u32>,
    },
    /// Withdraw availability.
    StopShare {
        /// Caller's session.
        token: TokenBytes,
        /// Peer.
        peer_id: u64,
        /// Group name.
        group: String,
        /// File name.
        name: String,
    },
    /// Set the cluster's ticket signing key, if it has none yet (chosen by the leader).
    SetClusterKey {
        /// Ed25519 secret key bytes.
        secret: [u8; 32],
    },
    /// Forget the at-most-once records of clients idle since before `before_ms` (chosen by the
    /// leader), so the client table does not grow forever.
    PruneClients {
        /// Records applied before this time (ms since the epoch) are dropped.
        before_ms: u64,
    },
    /// Liveness: mark peers online or offline (one entry for a whole batch).
    SetPeersOnline {
        /// Peers to change.
        peer_ids: Vec<u64>,
        /// New state.
        online: bool,
    },
    /// Delete these sessions if they are expired at the command's `now_ms` (the leader lists
    /// the ones it saw expired; apply checks each again, so a token renewed meanwhile stays).
    /// Appended last: variants are encoded by position, and older logs must decode unchanged.
    PruneSessions {
        /// Sessions to delete, at most [`MAX_PRUNED_PER_ENTRY`].
        tokens: Vec<TokenBytes>,
    },
    /// Change some of the cluster's quotas (an admin's request; the limits not named stay).
    SetQuotas {
        /// The new values.
        changes: QuotaUpdate,
    },
    /// Forget these peers, with their availability, if each is still offline and has been
    /// since `offline_before_ms` or earlier (the leader lists the ones it saw stale and chooses
    /// the time; apply checks each again, so a peer that came back meanwhile stays).
    PrunePeers {
        /// Peers to forget, at most [`MAX_PEERS_PRUNED_PER_ENTRY`].
        peer_ids: Vec<u64>,
        /// A peer marked offline after this time (ms since the epoch) is kept.
        offline_before_ms: u64,
    },
    /// A stopping daemon signs its peer off: marked offline as the sweep would mark it (the
    /// caller must own the peer). Appended last, like every new variant.
    SignOff {
        /// Caller's session.
        token: TokenBytes,
        /// The caller's peer.
        peer_id: u64,
    },
    /// Create an open group: joining makes one a member at once. A variant of its own, not a
    /// field of [`Op::CreateGroup`], so entries written before it decode unchanged.
    CreateOpenGroup {
        /// Caller's session.
        token: TokenBytes,
        /// Group name.
        group: String,
    },
    /// Refuse a join request (owner).
    RejectJoin {
        /// Caller's session.
        token: TokenBytes,
        /// Group name.
        group: String,
        /// Whose request.
        username: String,
    },
    /// Remove a member other than the owner (owner).
    RemoveMember {
        /// Caller's session.
        token: TokenBytes,
        /// Group name.
        group: String,
        /// The member to remove.
        username: String,
    },
    /// Remove a file from its group (its uploader or the group's owner): the manifest, every
    /// peer's availability of it and its count against the group's quota go.
    Unpublish {
        /// Caller's session.
        token: TokenBytes,
        /// Group name.
        group: String,
        /// File name.
        name: String,
    },
    /// Create an account with a display name (a variant of its own, not a field of
    /// [`Op::CreateUser`], so entries written before it decode unchanged).
    CreateUserNamed {
        /// Username.
        username: String,
        /// PHC-format argon2id hash (salt included).
        password_hash: String,
        /// The name shown beside the username (checked by `validate::check_display_name`).
        display_name: String,
    },
}

/// New values for some quotas, as the log carries them (its own type, like [`Op`], so the log's
/// encoding does not follow the wire's); `None` leaves a limit as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaUpdate {
    /// Groups one user may own.
    pub groups_per_user: Option<u64>,
    /// Files one group may hold.
    pub files_per_group: Option<u64>,
    /// Peer ids one user may register.
    pub peer_ids_per_user: Option<u64>,
    /// Join requests one group may have waiting.
    pub pending_requests_per_group: Option<u64>,
}

impl From<proto::quota::QuotaChanges> for QuotaUpdate {
    fn from(c: proto::quota::QuotaChanges) -> Self {
        QuotaUpdate {
            groups_per_user: c.groups_per_user,
            files_per_group: c.files_per_group,
            peer_ids_per_user: c.peer_ids_per_user,
            pending_requests_per_group: c.pending_requests_per_group,
        }
    }
}

impl From<QuotaUpdate> for proto::quota::QuotaChanges {
    fn from(u: QuotaUpdate) -> Self {
        proto::quota::QuotaChanges {
            groups_per_user: u.groups_per_user,
            files_per_group: u.files_per_group,
            peer_ids_per_user: u.peer_ids_per_user,
            pending_requests_per_group: u.pending_requests_per_group,
        }
    }
}

/// Most peers one [`Op::PrunePeers`] forgets: each may take many availability entries with
/// it, so an entry's apply stays short.
pub const MAX_PEERS_PRUNED_PER_ENTRY: usize = 256;

/// Most sessions one [`Op::PruneSessions`] deletes, so one entry stays small (32 KiB of tokens)
/// and quick to apply.
pub const MAX_PRUNED_PER_ENTRY: usize = 1024;

/// The result of applying one entry: the reply to hand the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CmdResult(pub Result<Response, ApiError>);

impl Default for CmdResult {
    fn default() -> Self {
        CmdResult(Ok(Response::Done))
    }
}

/// The results of one entry's commands, in order (empty for blank and membership entries).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult(pub Vec<CmdResult>);

/// What one log entry carries: the commands the leader grouped into it (group commit), applied in
/// order as if each were its own entry. Cloning is cheap (the bytes are shared).
#[derive(Debug, Clone)]
pub struct CmdBatch {
    /// How many commands `encoded` holds.
    count: u32,
    /// The commands as one `Vec<Cmd>` in the frame encoding.
    encoded: Arc<[u8]>,
}

impl CmdBatch {
    /// Encodes `cmds` into a batch.
    ///
    /// # Errors
    /// If a command cannot be encoded or there are more than `u32::MAX` of them (a bug).
    pub fn encode(cmds: &[Cmd]) -> Result<Self, FrameError> {
        let count = u32::try_from(cmds.len())
            .map_err(|_| FrameError::Malformed("too many commands in one entry".into()))?;
        Ok(CmdBatch {
            count,
            encoded: proto::frame::encode(&cmds)?.into(),
        })
    }

    /// A batch of commands each already encoded on its own ([`proto::frame::encode`]): the
    /// same bytes [`CmdBatch::encode`] makes of them (a sequence is its length, then its items),
    /// without encoding any command a second time.
    ///
    /// # Errors
    /// If there are more than `u32::MAX` parts (a bug).
    pub fn from_encoded(parts: &[Vec<u8>]) -> Result<Self, FrameError> {
        let count = u32::try_from(parts.len())
            .map_err(|_| FrameError::Malformed("too many commands in one entry".into()))?;
        let prefix = proto::frame::encode(&u64::from(count))?;
        let len = prefix.len() + parts.iter().map(Vec::len).sum::<usize>();
        let mut bytes = Vec::with_capacity(len);
        bytes.extend_from_slice(&prefix);
        for part in parts {
            bytes.extend_from_slice(part);
        }
        Ok(CmdBatch {
            count,
            encoded: bytes.into(),
        })
    }

    /// The commands, in order.
    ///
    /// # Errors
    /// If the bytes do not decode, or hold a different number of commands than recorded.
    pub fn decode(&self) -> Result<Vec<Cmd>, FrameError> {
        let cmds: Vec<Cmd> = proto::frame::decode(&self.encoded)?;
        if cmds.len() != self.len() {
            return Err(FrameError::Malformed(format!(
                "entry says {} commands but holds {}",
                self.count,
                cmds.len()
            )));
        }
        Ok(cmds)
    }

    /// How many commands the batch holds.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the batch holds no command.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the encoded commands in bytes.
    pub fn encoded_len(&self) -> usize {
        self.encoded.len()
    }
}

impl std::fmt::Display for CmdBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} command(s), {} bytes", self.count, self.encoded.len())
    }
}

/// Serializes a byte slice as one byte string.
struct ByteString<'a>(&'a [u8]);

impl Serialize for ByteString<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Deserializes one byte string.
struct OwnedBytes(Vec<u8>);

impl<'de> Deserialize<'de> for OwnedBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OwnedBytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "a byte string")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<OwnedBytes, E> {
                Ok(OwnedBytes(v.to_vec()))
            }
            fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<OwnedBytes, E> {
                Ok(OwnedBytes(v))
            }
            fn visit_borrowed_bytes<E: Error>(self, v: &'de [u8]) -> Result<OwnedBytes, E> {
                Ok(OwnedBytes(v.to_vec()))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

impl Serialize for CmdBatch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.count)?;
        t.serialize_element(&ByteString(&self.encoded))?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for CmdBatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CmdBatch;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "a command count and the encoded commands")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CmdBatch, A::Error> {
                let count: u32 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let bytes: OwnedBytes = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                Ok(CmdBatch {
                    count,
                    encoded: bytes.0.into(),
                })
            }
        }
        d.deserialize_tuple(2, V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds() -> Vec<Cmd> {
        (0..3)
            .map(|i| Cmd {
                origin: Some(Origin {
                    client_id: 7,
                    serial: i,
                }),
                now_ms: 1000 + i,
                op: Op::PruneClients { before_ms: i },
            })
            .collect()
    }

    #[test]
    fn a_batch_survives_the_frame_encoding_and_decodes_to_its_commands() {
        let batch = CmdBatch::encode(&cmds()).unwrap();
        assert_eq!(batch.len(), 3);
        let wire = proto::frame::encode(&batch).unwrap();
        let back: CmdBatch = proto::frame::decode(&wire).unwrap();
        let decoded = back.decode().unwrap();
        assert_eq!(decoded.len(), 3);
        assert_eq!(decoded[2].now_ms, 1002);
        assert!(matches!(decoded[1].op, Op::PruneClients { before_ms: 1 }));
    }

    #[test]
    fn a_batch_whose_count_disagrees_or_whose_bytes_are_cut_is_an_error() {
        let good = CmdBatch::encode(&cmds()).unwrap();
        let lying = CmdBatch {
            count: 4,
            encoded: good.encoded.clone(),
        };
        assert!(lying.decode().is_err());
        let cut = CmdBatch {
            count: 3,
            encoded: good.encoded[..good.encoded.len() - 1].into(),
        };
        assert!(cut.decode().is_err());
    }

    #[test]
    fn a_batch_of_encoded_parts_is_the_batch_of_the_commands() {
        for n in [0usize, 1, 3, 250, 251, 300] {
            let cmds: Vec<Cmd> = (0..n).map(|_| cmds()[0].clone()).collect();
            let parts: Vec<Vec<u8>> = cmds
                .iter()
                .map(|c| proto::frame::encode(c).unwrap())
                .collect();
            let joined = CmdBatch::from_encoded(&parts).unwrap();
            let whole = CmdBatch::encode(&cmds).unwrap();
            assert_eq!(joined.encoded, whole.encoded, "{n} commands");
            assert_eq!(joined.decode().unwrap().len(), n);
        }
    }
}
