//! The client API: frames, requests and responses between clients and a tracker node.
//!
//! A connection opens with [`ClientFrame::Hello`]; the server answers [`ServerFrame::Welcome`] or
//! [`ServerFrame::Refused`] and closes. After that, each [`ClientFrame::Request`] carries an id
//! that its [`ServerFrame::Reply`] repeats, so one connection carries several requests at once.
//! Every reply also says which node answered and where its Raft state stood ([`ReplyMeta`]), so
//! a test's history can explain an answer.
//!
//! Writes ([`WriteRequest`]) carry a client id and a serial number: a retry after a failover
//! carries the same pair, and the tracker applies it at most once and answers the original reply.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Magic number opening every client API connection ("P2PT").
pub const API_MAGIC: u32 = 0x5032_5054;

/// Version of the client API protocol spoken by this build (3: replies carry [`ReplyMeta`];
/// 4: lists come in pages; 5: [`ApiError::TooManyFailedLogins`]; 6: over TLS, `Status` says
/// whether it wants the digest, which is optional in [`NodeStatus`], and `Forbidden`; 7: quotas,
/// [`ApiError::QuotaExceeded`] and the admin requests that show and set them; 8: peers register an
/// Ed25519 key, sources carry it, and `FileSources` names the downloading peer, whose key the
/// ticket carries; 9: the admin's membership list ([`AdminRequest::Members`]) and snapshot export
/// ([`AdminRequest::SnapshotBegin`], [`AdminRequest::SnapshotRead`], [`AdminRequest::SnapshotEnd`]);
/// 10: sign-off, sources and peers, open groups, reject and remove; 11: finding files by
/// content ([`ReadRequest::FindFiles`]), unpublish, display names, and `whoami` answers
/// [`Response::Account`]).
pub const API_VERSION: u32 = 11;

/// Most bytes one [`AdminRequest::SnapshotRead`] returns, whatever it asks for (well within
/// [`crate::frame::MAX_API_FRAME_BYTES`]).
pub const MAX_SNAPSHOT_CHUNK_BYTES: u32 = 1 << 20;

/// Default chunk size of a shared file.
pub const DEFAULT_CHUNK_SIZE_BYTES: u32 = 512 * 1024;

pub use crate::types::{from_hex, to_hex, SessionToken, Sha1Digest};

/// Frames a client sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ClientFrame {
    /// First frame on a connection.
    Hello {
        /// Must be [`API_MAGIC`].
        magic: u32,
        /// Must be [`API_VERSION`].
        version: u32,
    },
    /// A request; the reply carries the same id.
    Request {
        /// Chosen by the client, unique on this connection.
        id: u64,
        /// The request itself.
        request: Request,
    },
}

/// Frames a tracker sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ServerFrame {
    /// The handshake was accepted.
    Welcome {
        /// Protocol version of the server.
        version: u32,
        /// Raft id of the node that answered.
        node_id: u64,
    },
    /// The handshake was refused; the server closes the connection.
    Refused(ApiError),
    /// Answer to [`ClientFrame::Request`] with the same id.
    Reply {
        /// Id of the request this answers.
        id: u64,
        /// The outcome.
        result: Result<Response, ApiError>,
        /// Which node answered, and its Raft term and applied index then.
        meta: ReplyMeta,
    },
}

/// Which node answered a request and where its Raft state stood when it did. The term and index
/// are the node's latest known values (they may trail the exact moment by one metrics update);
/// they explain a history, they prove nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReplyMeta {
    /// Raft id of the answering node.
    pub node_id: u64,
    /// Its current Raft term.
    pub term: u64,
    /// Index of the last log entry it had applied (0 before the first).
    pub applied_index: u64,
}

/// Every request of the client API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// A replicated write (goes through the Raft log on the leader).
    Write(WriteRequest),
    /// A linearizable read (served by the leader after a read-index round).
    Read(ReadRequest),
    /// Cluster administration and node status.
    Admin(AdminRequest),
}

/// A replicated write with its at-most-once identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteRequest {
    /// Random id fixed for the lifetime of one client.
    pub client_id: u64,
    /// Goes up by one per write of that client; a retry reuses it.
    pub serial: u64,
    /// What to write.
    pub op: WriteOp,
}

/// The replicated writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WriteOp {
    /// Create an account; the tracker stores only an argon2id hash of the password.
    CreateUser {
        /// New username.
        username: String,
        /// Password in clear (hashed by the tracker before it is replicated).
        password: String,
        /// The name shown beside the username (at most
        /// [`crate::limits::MAX_DISPLAY_NAME_BYTES`], printable); `None` for none.
        display_name: Option<String>,
    },
    /// Check the password and open a session; answers [`Response::Session`].
    Login {
        /// Username.
        username: String,
        /// Password in clear.
        password: String,
    },
    /// End a session.
    Logout {
        /// The session to end.
        token: SessionToken,
    },
    /// Create a group owned by the caller.
    CreateGroup {
        /// Caller's session.
        token: SessionToken,
        /// Group name.
        group: String,
    },
    /// File a join request with the group's owner; in an open group, become a member at once.
    JoinGroup {
        /// Caller's session.
        token: SessionToken,
        /// Group name.
        group: String,
    },
    /// Leave a group (ownership passes on; an empty group is removed).
    LeaveGroup {
        /// Caller's session.
        token: SessionToken,
        /// Group name.
        group: String,
    },
    /// Owner only: accept a pending join request.
    AcceptJoin {
        /// Caller's session.
        token: SessionToken,
        /// Group name.
        group: String,
        /// Whose request to accept.
        username: String,
    },
    /// Register (or re-register) a peer daemon of the caller at an address.
    RegisterPeer {
        /// Caller's session.
        token: SessionToken,
        /// Random id the peer chose for itself.
        peer_id: u64,
        /// Address where the peer serves chunks.
        addr: String,
        /// The daemon's Ed25519 public key: downloaders pin it when they connect, and tickets
        /// issued for this peer name it. A new key from the owner replaces the old one.
        peer_key: [u8; 32],
    },
    /// Register a file in a group, with this peer as a full seeder.
    RegisterFile {
        /// Caller's session.
        token: SessionToken,
        /// The seeding peer.
        peer_id: u64,
        /// Group name.
        group: String,
        /// What the file is.
        manifest: FileManifest,
    },
    /// Report chunks a peer now holds (batched "have").
    ReportHave {
        /// Caller's session.
        token: SessionToken,
        /// The reporting peer.
        peer_id: u64,
        /// Group name.
        group: String,
        /// File name.
        name: String,
        /// Chunk indexes now held.
        chunks: Vec<u32>,
    },
    /// Withdraw a peer's availability for a file.
    StopShare {
        /// Caller's session.
        token: SessionToken,
        /// The peer that stops seeding.
        peer_id: u64,
        /// Group name.
        group: String,
        /// File name.
        name: String,
    },
    /// A stopping daemon signs off: its peer is marked offline at once, as the liveness sweep
    /// would mark it once its lease ran out (the next registration or heartbeat signs it on).
    SignOff {
        /// Caller's session.
        token: SessionToken,
        /// The caller's peer that stops.
        peer_id: u64,
    },
    /// Create an open group owned by the caller: anyone who joins becomes a member at once.
    CreateOpenGroup {
        /// Caller's session.
        token: SessionToken,
        /// Group name.
        group: String,
    },
    /// Owner only: refuse a pending join request (the user may ask again).
    RejectJoin {
        /// Caller's session.
        token: SessionToken,
        /// Group name.
        group: String,
        /// Whose request to refuse.
        username: String,
    },
    /// Owner only: remove a member other than the owner; their peers stop being sources.
    RemoveMember {
        /// Caller's session.
        token: SessionToken,
        /// Group name.
        group: String,
        /// The member to remove.
        username: String,
    },
    /// The file's uploader or the group's owner removes the file from the group: it leaves the
    /// listings, every peer's availability of it is deleted, and no ticket is issued for it.
    Unpublish {
        /// Caller's session.
        token: SessionToken,
        /// Group name.
        group: String,
        /// File name.
        name: String,
    },
}

/// Metadata of a shared file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileManifest {
    /// Name within the group (no `/`, no `..`, no NUL).
    pub name: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Chunk size in bytes (the last chunk may be shorter).
    pub chunk_size_bytes: u32,
    /// SHA-1 of every chunk, in order (encoded as one byte string).
    #[serde(with = "crate::digest_list")]
    pub chunk_hashes: Vec<Sha1Digest>,
    /// SHA-1 of the whole file.
    pub file_hash: Sha1Digest,
}

impl FileManifest {
    /// Number of chunks a file of this size and chunk size has.
    pub fn expected_chunk_count(size_bytes: u64, chunk_size_bytes: u32) -> u64 {
        if chunk_size_bytes == 0 {
            return 0;
        }
        size_bytes.div_ceil(u64::from(chunk_size_bytes))
    }
}

/// Linearizable reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ReadRequest {
    /// Who owns this session.
    WhoAmI {
        /// Caller's session.
        token: SessionToken,
    },
    /// Every group, seen from the caller, by name (one page).
    ListGroups {
        /// Caller's session.
        token: SessionToken,
        /// Which page.
        page: PageRequest,
    },
    /// Owner only: pending join requests of a group, oldest first (one page).
    ListRequests {
        /// Caller's session.
        token: SessionToken,
        /// Group name.
        group: String,
        /// Which page.
        page: PageRequest,
    },
    /// Members only: files of a group, by name (one page).
    ListFiles {
        /// Caller's session.
        token: SessionToken,
        /// Group name.
        group: String,
        /// Which page.
        page: PageRequest,
    },
    /// Members only: a file's manifest and the online peers holding its chunks, by peer id (one
    /// page of peers; every page carries the manifest and a ticket).
    FileSources {
        /// Caller's session.
        token: SessionToken,
        /// Group name.
        group: String,
        /// File name.
        name: String,
        /// The caller's peer that will download: the ticket names its registered key. `None`
        /// lists the sources without a ticket.
        peer_id: Option<u64>,
        /// Also list the peers that hold chunks but are offline (`peer sources`); a download
        /// asks for the online ones only.
        include_offline: bool,
        /// Which page.
        page: PageRequest,
    },
    /// Members only: the online peers of the group's members, by peer id (one page), each with
    /// how many of the group's files it seeds. A page may hold fewer items than asked, even
    /// none, and still have a next page (the tracker looks at a bounded number of peers each).
    GroupPeers {
        /// Caller's session.
        token: SessionToken,
        /// Group name.
        group: String,
        /// Which page.
        page: PageRequest,
    },
    /// The cluster's public key, to verify download tickets offline.
    ClusterKey,
    /// Liveness report of a peer daemon (leader only, kept in memory, never one log entry each).
    Heartbeat {
        /// Caller's session.
        token: SessionToken,
        /// The peer.
        peer_id: u64,
        /// What the peer is doing; sets the next interval.
        activity: PeerActivity,
    },
    /// Members only: the files with this whole-file SHA-1 in the groups the caller is a member
    /// of, by group then name (one page). A page may hold fewer items than asked, even none,
    /// and still have a next page (the tracker looks at a bounded number of files each).
    FindFiles {
        /// Caller's session.
        token: SessionToken,
        /// The whole-file SHA-1 looked for.
        file_hash: Sha1Digest,
        /// Which page.
        page: PageRequest,
    },
}

/// What a peer is doing, which decides how often it must heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerActivity {
    /// Nothing shared or downloading.
    Idle,
    /// Seeding files.
    Active,
    /// Moving chunks right now.
    Transferring,
}

/// Cluster administration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AdminRequest {
    /// This node's view of itself (served locally, no leader needed). Open to every
    /// connection; the state digest only to an admin connection, which must ask for it.
    Status {
        /// Also hash the whole state machine ([`NodeStatus::digest`]); admin only.
        digest: bool,
    },
    /// Add a node as a learner (leader only); it starts receiving the log.
    AddLearner {
        /// Raft id of the new node.
        node_id: u64,
        /// Its client API address.
        api_addr: String,
        /// Its Raft address.
        raft_addr: String,
    },
    /// Set the voters (leader only); new voters must already be learners.
    ChangeMembership {
        /// Raft ids of the voters after the change.
        voters: Vec<u64>,
    },
    /// Take a node out of the cluster entirely (leader only): out of the voters if it is one,
    /// then out of the learners, so the leader forgets how far it had replicated to it. A node
    /// whose data was lost must be removed this way before it is added back.
    RemoveNode {
        /// Raft id of the node.
        node_id: u64,
    },
    /// Answered by any node: the leader it knows, waiting up to `max_wait_ms` for one whose
    /// client address is not `not_api_addr` (a leader the asking client could not reach). This is
    /// how a client finds a new leader as soon as it is elected instead of polling.
    AwaitLeader {
        /// The leader the client gave up on, if any.
        not_api_addr: Option<String>,
        /// Longest wait (the node caps it).
        max_wait_ms: u64,
    },
    /// The cluster's quotas (leader, linearizable); answers [`Response::Quotas`]. Admin only.
    GetQuotas,
    /// Changes some quotas (leader; replicated). Lowering one refuses new items only: nothing
    /// is deleted. Answers [`Response::Quotas`] with the values now in force. Admin only.
    SetQuotas(crate::quota::QuotaChanges),
    /// The membership (leader): every voter and learner with its addresses; answers
    /// [`Response::Members`]. Admin only.
    Members,
    /// Takes a consistent image of the state machine into a temporary file on the answering
    /// node and answers [`Response::SnapshotBegun`]. With `local: false` only the leader
    /// answers, after a read barrier, so the image holds every acknowledged write; with
    /// `local: true` any node answers with its own applied state, which may be stale (recovery
    /// after a lost quorum). One export per node at a time. Admin only.
    SnapshotBegin {
        /// Serve this node's applied state even if it does not lead.
        local: bool,
    },
    /// Up to `len` bytes (at most [`MAX_SNAPSHOT_CHUNK_BYTES`]) of export `id` from `offset`, on
    /// the node that began it; answers [`Response::SnapshotChunk`]. Admin only.
    SnapshotRead {
        /// The export's id ([`SnapshotInfo::id`]).
        id: u64,
        /// Where to start.
        offset: u64,
        /// Most bytes wanted.
        len: u32,
    },
    /// Ends export `id` and deletes its file (an export nobody reads is also deleted after a
    /// while, and at restart). Admin only.
    SnapshotEnd {
        /// The export's id.
        id: u64,
    },
}

/// One member of the cluster, as [`AdminRequest::Members`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Raft id.
    pub id: u64,
    /// Client API address.
    pub api_addr: String,
    /// Raft address.
    pub raft_addr: String,
    /// A voter (else a learner).
    pub voter: bool,
}

/// What [`AdminRequest::SnapshotBegin`] exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// Names the export in later requests.
    pub id: u64,
    /// The node that holds it.
    pub node_id: u64,
    /// Whether it is that node's local state (`local: true`), possibly stale.
    pub local: bool,
    /// Length of the image in bytes.
    pub size_bytes: u64,
    /// The applied log id the image is at: term, leader node, index.
    pub applied_term: u64,
    /// The leader node of the applied log id.
    pub applied_leader: u64,
    /// Index of the applied log id.
    pub applied_index: u64,
    /// SHA-1 of the image, which is the state digest `cluster status` shows (hex).
    pub digest: String,
}

/// Every successful answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Done, nothing to return.
    Done,
    /// A new session.
    Session {
        /// The token to present on later requests.
        token: SessionToken,
        /// When it expires (ms since the Unix epoch).
        expires_at_ms: u64,
    },
    /// The session's user (answers of API version 10 and older; [`Response::Account`] now).
    User {
        /// Username.
        username: String,
    },
    /// Answer to [`ReadRequest::ListGroups`].
    Groups(Page<GroupSummary>),
    /// Answer to [`ReadRequest::ListRequests`]: usernames, oldest first.
    JoinRequests(Page<String>),
    /// Answer to [`ReadRequest::ListFiles`].
    Files(Page<FileSummary>),
    /// Answer to [`ReadRequest::FileSources`].
    Sources {
        /// The file.
        manifest: FileManifest,
        /// Peers that hold at least one chunk (this page of them): the online ones, and the
        /// offline ones too when the request asked for them.
        sources: Vec<Source>,
        /// Ticket that lets the caller's peer (the request's `peer_id`, with its registered key)
        /// fetch this file from the sources; `None` when the request named no peer.
        ticket: Option<crate::ticket::SignedTicket>,
        /// Where the next page of sources starts; `None` on the last page.
        next: Option<String>,
    },
    /// Answer to [`ReadRequest::GroupPeers`].
    GroupPeers(Page<PeerSummary>),
    /// Answer to [`ReadRequest::ClusterKey`].
    ClusterKey {
        /// Ed25519 public key of the cluster.
        public_key: [u8; 32],
    },
    /// Answer to [`ReadRequest::Heartbeat`].
    Heartbeat {
        /// Send the next heartbeat within this many milliseconds.
        interval_ms: u64,
    },
    /// Answer to [`AdminRequest::Status`].
    Status(NodeStatus),
    /// Answer to [`AdminRequest::AwaitLeader`].
    Leader {
        /// Raft id of the leader.
        leader_id: u64,
        /// Its client API address.
        api_addr: String,
    },
    /// Answer to [`AdminRequest::GetQuotas`] and [`AdminRequest::SetQuotas`].
    Quotas(crate::quota::QuotaLimits),
    /// Answer to [`AdminRequest::Members`], by id.
    Members(Vec<Member>),
    /// Answer to [`AdminRequest::SnapshotBegin`].
    SnapshotBegun(SnapshotInfo),
    /// Answer to [`AdminRequest::SnapshotRead`]: empty at the end of the image.
    SnapshotChunk(#[serde(with = "crate::byte_buf")] Vec<u8>),
    /// Answer to [`WriteOp::JoinGroup`] in an open group: the caller is a member now (a join
    /// request filed with the owner answers [`Response::Done`]).
    Joined,
    /// Answer to [`ReadRequest::FindFiles`].
    FoundFiles(Page<FoundFile>),
    /// Answer to [`ReadRequest::WhoAmI`]: the session's account.
    Account(AccountInfo),
}

/// An account as `whoami` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// Username.
    pub username: String,
    /// The name shown beside it (`None`: none was given).
    pub display_name: Option<String>,
    /// When the account was created (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// When it last opened a session (ms since the Unix epoch); `None` for an account that has
    /// not logged in since logins were recorded.
    pub last_login_ms: Option<u64>,
}

/// Most items one page of a list holds, whatever the request asks for.
pub const MAX_PAGE_ITEMS: u32 = 1000;
/// Items per page when a request asks for 0 (the server's choice).
pub const DEFAULT_PAGE_ITEMS: u32 = 200;
/// Longest cursor ([`PageRequest::after`]) a server accepts: a name, or a number.
pub const MAX_CURSOR_BYTES: usize = 1024;

/// Which page of a list a read asks for. Lists are in a fixed order (names, peer ids, or the
/// order requests were filed), and a page starts after the item its cursor names, so a list
/// read page by page sees every item that stays in the list throughout, once; items added or
/// removed meanwhile may or may not show. Each page is a linearizable read of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// The previous page's [`Page::next`]; `None` for the first page.
    pub after: Option<String>,
    /// Most items wanted; 0 lets the server choose ([`DEFAULT_PAGE_ITEMS`]), and it never sends
    /// more than [`MAX_PAGE_ITEMS`]. A page may hold fewer items and still have a next page.
    pub limit: u32,
}

impl PageRequest {
    /// The first page, of at most `limit` items (0: the server's choice).
    pub fn first(limit: u32) -> Self {
        PageRequest { after: None, limit }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Where the next page starts (pass it as [`PageRequest::after`]); `None` on the last page.
    pub next: Option<String>,
}

/// A group as listed to one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// Group name.
    pub name: String,
    /// Owner's username.
    pub owner: String,
    /// Number of members, owner included.
    pub member_count: u32,
    /// Whether the caller is a member.
    pub is_member: bool,
    /// Whether the caller has a join request pending.
    pub request_pending: bool,
    /// Whether anyone may join without the owner's acceptance.
    pub open: bool,
    /// The owner's display name, if they gave one.
    pub owner_display_name: Option<String>,
}

/// A file as listed in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSummary {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Number of chunks.
    pub chunk_count: u32,
    /// SHA-1 of the whole file.
    pub file_hash: Sha1Digest,
    /// Who registered it.
    pub uploader: String,
    /// Online peers holding every chunk.
    pub full_seeders: u32,
    /// Online peers holding some but not all chunks.
    pub partial_peers: u32,
}

/// A file with the SHA-1 asked for, as [`ReadRequest::FindFiles`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundFile {
    /// Its group (one the caller is a member of).
    pub group: String,
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Online peers holding every chunk.
    pub full_seeders: u32,
    /// Online peers holding some but not all chunks.
    pub partial_peers: u32,
}

/// A peer that holds chunks of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Peer id.
    pub peer_id: u64,
    /// Owning user.
    pub username: String,
    /// Where it serves chunks.
    pub addr: String,
    /// Its daemon's Ed25519 public key, as registered: the key its TLS certificate must carry.
    pub peer_key: [u8; 32],
    /// Bit i (LSB-first within each byte) set when the peer holds chunk i.
    pub bitfield: Vec<u8>,
    /// Whether it is online (handed out to downloads).
    pub online: bool,
    /// When the tracker last heard from it (ms since the Unix epoch): its last heartbeat or
    /// registration if online (`None` when the current leader has not heard from it yet), the
    /// time it went offline if offline (`None` if that was never recorded).
    pub last_seen_ms: Option<u64>,
}

/// An online peer of a group's member, as [`ReadRequest::GroupPeers`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerSummary {
    /// Peer id.
    pub peer_id: u64,
    /// Owning user (a member of the group).
    pub username: String,
    /// Where it serves chunks.
    pub addr: String,
    /// Its last heartbeat or registration (ms since the Unix epoch); `None` when the current
    /// leader has not heard from it yet.
    pub last_seen_ms: Option<u64>,
    /// How many of the group's files it holds chunks of.
    pub files_seeded: u32,
}

/// One node's view of itself and the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Raft id.
    pub node_id: u64,
    /// "leader", "follower", "candidate", "learner" or "shutdown".
    pub role: String,
    /// Current term.
    pub term: u64,
    /// Index of the last log entry.
    pub last_log_index: Option<u64>,
    /// Index of the last applied entry.
    pub last_applied: Option<u64>,
    /// Last log index covered by this node's latest snapshot (built or installed).
    pub snapshot_index: Option<u64>,
    /// Last log index purged from this node's log.
    pub purged_index: Option<u64>,
    /// Current leader's id, if known.
    pub leader_id: Option<u64>,
    /// Current leader's client API address, if known.
    pub leader_api_addr: Option<String>,
    /// Voter ids.
    pub voters: Vec<u64>,
    /// Learner ids.
    pub learners: Vec<u64>,
    /// Process id of the node.
    pub pid: u32,
    /// SHA-1 over the whole state machine (hex); equal on nodes that applied the same log.
    /// Only when asked for ([`AdminRequest::Status`]).
    pub digest: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejects() {
        let b = [0u8, 1, 0xab, 0xff];
        assert_eq!(to_hex(&b), "0001abff");
        assert_eq!(from_hex::<4>("0001ABff"), Some(b));
        assert_eq!(from_hex::<4>("0001abf"), None);
        assert_eq!(from_hex::<4>("0001abfg"), None);
    }

    #[test]
    fn reply_meta_round_trips_and_old_replies_do_not_decode() {
        let meta = ReplyMeta {
            node_id: 3,
            term: 7,
            applied_index: 1234,
        };
        let reply = ServerFrame::Reply {
            id: 9,
            result: Ok(Response::Done),
            meta,
        };
        let bytes = crate::frame::encode(&reply).unwrap();
        match crate::frame::decode::<ServerFrame>(&bytes).unwrap() {
            ServerFrame::Reply {
                id,
                result,
                meta: m,
            } => {
                assert_eq!((id, result, m), (9, Ok(Response::Done), meta));
            }
            other => panic!("decoded {other:?}"),
        }
        // A version-2 reply is this one without the meta at the end: it must not decode.
        let v2_len = bytes.len() - crate::frame::encode(&meta).unwrap().len();
        assert!(crate::frame::decode::<ServerFrame>(&bytes[..v2_len]).is_err());
        for len in 0..bytes.len() {
            let _ = crate::frame::decode::<ServerFrame>(&bytes[..len]);
        }
    }

    #[test]
    fn chunk_count() {
        assert_eq!(FileManifest::expected_chunk_count(0, 512), 0);
        assert_eq!(FileManifest::expected_chunk_count(512, 512), 1);
        assert_eq!(FileManifest::expected_chunk_count(513, 512), 2);
        assert_eq!(FileManifest::expected_chunk_count(10, 0), 0);
    }
}
