//! Records stored in the state-machine tables, and how their keys are built.
//!
//! Composite keys join parts with a NUL byte, which names can never contain, and end in
//! big-endian ids so that prefix scans return one file's or one group's entries in order.

use serde::{Deserialize, Serialize};

use proto::tracker_msg::{FileManifest, Response};
use proto::ApiError;

/// An account.
///
/// `display_name` and `last_login_ms` were appended in API version 11. A record stored before
/// ends after `created_at_ms` and decodes with neither (the same way as [`GroupRec`]'s `open`:
/// the hand-written `Deserialize` takes the end of the record as the answer, see
/// [`trailing_or_none`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRec {
    /// argon2id hash in PHC format (salt included); never the password.
    pub password_hash: String,
    /// When the account was created (leader clock, ms).
    pub created_at_ms: u64,
    /// The name shown beside the username (`None`: none given, or a record from before).
    pub display_name: Option<String>,
    /// When the account last opened a session (leader clock of the login's entry, ms); `None`
    /// before its first login since logins were recorded.
    pub last_login_ms: Option<u64>,
}

impl<'de> Deserialize<'de> for UserRec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Reads the fields in order; see [`UserRec`] for the last two.
        struct RecVisitor;
        impl<'de> serde::de::Visitor<'de> for RecVisitor {
            type Value = UserRec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a user record")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<UserRec, A::Error> {
                let missing = |i| serde::de::Error::invalid_length(i, &"a user record");
                let password_hash = seq.next_element()?.ok_or_else(|| missing(0))?;
                let created_at_ms = seq.next_element()?.ok_or_else(|| missing(1))?;
                // Both new fields were added at once: a record has both or neither.
                let Some(display_name) = trailing_or_none::<A, Option<String>>(&mut seq) else {
                    return Ok(UserRec {
                        password_hash,
                        created_at_ms,
                        display_name: None,
                        last_login_ms: None,
                    });
                };
                let last_login_ms = seq.next_element()?.ok_or_else(|| missing(3))?;
                Ok(UserRec {
                    password_hash,
                    created_at_ms,
                    display_name,
                    last_login_ms,
                })
            }
        }
        d.deserialize_struct(
            "UserRec",
            &[
                "password_hash",
                "created_at_ms",
                "display_name",
                "last_login_ms",
            ],
            RecVisitor,
        )
    }
}

/// The next field of a record, or `None` if the record ends before it (one stored before the
/// field existed: reading past its end fails, and that failure is the answer). A record cut
/// inside the field reads like one from before; one cut after it fails on the next field, and
/// bytes after the last field fail the whole decode (trailing bytes).
fn trailing_or_none<'de, A: serde::de::SeqAccess<'de>, T: Deserialize<'de>>(
    seq: &mut A,
) -> Option<T> {
    seq.next_element::<T>().ok().flatten()
}

/// A login session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRec {
    /// Who logged in.
    pub username: String,
    /// When it stops being valid (ms).
    pub expires_at_ms: u64,
}

/// A group.
///
/// `open` was appended in API version 10. Records stored before end after `created_at_ms`; the
/// stored encoding decodes structs as fixed tuples, where `#[serde(default)]` alone does not
/// help (the missing field is an end of input, not an absent element), so the field is read by
/// [`open_or_closed`], which takes a record that ends there as a closed group. The hand-written
/// `Deserialize` reads a sequence only: records are never read from a self-describing format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupRec {
    /// Current owner (always also in `members`).
    pub owner: String,
    /// Members, longest-standing first.
    pub members: Vec<String>,
    /// Pending join requests, oldest first.
    pub requests: Vec<String>,
    /// When the group was created (ms).
    pub created_at_ms: u64,
    /// Whether anyone may join without the owner's acceptance (`false` for records from before
    /// open groups).
    pub open: bool,
}

impl<'de> Deserialize<'de> for GroupRec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Reads the fields in order; see [`GroupRec`] for the last one.
        struct RecVisitor;
        impl<'de> serde::de::Visitor<'de> for RecVisitor {
            type Value = GroupRec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a group record")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<GroupRec, A::Error> {
                let missing = |i| serde::de::Error::invalid_length(i, &"a group record");
                let owner = seq.next_element()?.ok_or_else(|| missing(0))?;
                let members = seq.next_element()?.ok_or_else(|| missing(1))?;
                let requests = seq.next_element()?.ok_or_else(|| missing(2))?;
                let created_at_ms = seq.next_element()?.ok_or_else(|| missing(3))?;
                let open = open_or_closed(&mut seq);
                Ok(GroupRec {
                    owner,
                    members,
                    requests,
                    created_at_ms,
                    open,
                })
            }
        }
        d.deserialize_struct(
            "GroupRec",
            &["owner", "members", "requests", "created_at_ms", "open"],
            RecVisitor,
        )
    }
}

/// The `open` flag that ends a group record, or `false` if the record ends before it (one
/// stored before open groups existed: reading past its end fails, and that failure is the
/// answer). A record with bytes after the flag still fails to decode (trailing bytes).
fn open_or_closed<'de, A: serde::de::SeqAccess<'de>>(seq: &mut A) -> bool {
    matches!(seq.next_element::<bool>(), Ok(Some(true)))
}

/// A registered file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRec {
    /// Metadata and hashes.
    pub manifest: FileManifest,
    /// Who registered it.
    pub uploader: String,
    /// When (ms).
    pub registered_at_ms: u64,
}

/// A peer daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRec {
    /// Owning user.
    pub username: String,
    /// Where it serves chunks.
    pub addr: String,
    /// Whether it is handed out as a source.
    pub online: bool,
    /// The daemon's Ed25519 public key (checked to be a valid point when registered): sources
    /// carry it for pinning, and tickets for this peer name it.
    pub public_key: [u8; 32],
}

/// Last write applied for one client, and its reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRec {
    /// Serial of the last applied write.
    pub serial: u64,
    /// Its reply, repeated to a retry.
    pub reply: Result<Response, ApiError>,
    /// When it was applied (ms), for pruning idle clients.
    pub applied_at_ms: u64,
}

/// Key of the ticket signing key in the cluster table.
pub const CLUSTER_SIGNING_KEY: &[u8] = b"signing_key";

/// Key of the quotas ([`QuotasRec`]) in the cluster table; absent until an admin sets one.
pub const CLUSTER_QUOTAS: &[u8] = b"quotas";

/// The cluster's quotas as stored (its own type, so the stored encoding does not follow the
/// wire's [`proto::quota::QuotaLimits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotasRec {
    /// Groups one user may own.
    pub groups_per_user: u64,
    /// Files one group may hold.
    pub files_per_group: u64,
    /// Peer ids one user may register.
    pub peer_ids_per_user: u64,
    /// Join requests one group may have waiting.
    pub pending_requests_per_group: u64,
}

impl From<QuotasRec> for proto::quota::QuotaLimits {
    fn from(r: QuotasRec) -> Self {
        proto::quota::QuotaLimits {
            groups_per_user: r.groups_per_user,
            files_per_group: r.files_per_group,
            peer_ids_per_user: r.peer_ids_per_user,
            pending_requests_per_group: r.pending_requests_per_group,
        }
    }
}

impl From<proto::quota::QuotaLimits> for QuotasRec {
    fn from(l: proto::quota::QuotaLimits) -> Self {
        QuotasRec {
            groups_per_user: l.groups_per_user,
            files_per_group: l.files_per_group,
            peer_ids_per_user: l.peer_ids_per_user,
            pending_requests_per_group: l.pending_requests_per_group,
        }
    }
}

/// Key of a file: `group NUL name`.
pub fn file_key(group: &str, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(group.len() + name.len() + 1);
    k.extend_from_slice(group.as_bytes());
    k.push(0);
    k.extend_from_slice(name.as_bytes());
    k
}

/// Prefix of every file of a group: `group NUL`.
pub fn group_files_prefix(group: &str) -> Vec<u8> {
    let mut k = group.as_bytes().to_vec();
    k.push(0);
    k
}

/// Prefix of every availability entry of a file: `group NUL name NUL`.
pub fn avail_prefix(group: &str, name: &str) -> Vec<u8> {
    let mut k = file_key(group, name);
    k.push(0);
    k
}

/// Key of one peer's availability for one file.
pub fn avail_key(group: &str, name: &str, peer_id: u64) -> Vec<u8> {
    let mut k = avail_prefix(group, name);
    k.extend_from_slice(&peer_id.to_be_bytes());
    k
}

/// The peer id at the end of an availability key.
pub fn peer_of_avail_key(key: &[u8]) -> Option<u64> {
    let tail = key
        .len()
        .checked_sub(8)
        .and_then(|start| key.get(start..))?;
    let bytes: [u8; 8] = tail.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// Key of a peer.
pub fn peer_key(peer_id: u64) -> Vec<u8> {
    peer_id.to_be_bytes().to_vec()
}

/// Key of a client's dedup record for the writes it makes in one scope: `client id (8 bytes, big
/// endian) | scope tag | scope` (see [`crate::domain::apply`] for what a scope is). Records
/// written before scopes existed are keyed by the bare 8-byte client id; no lookup finds them,
/// and the pruning of idle records removes them like any other.
pub fn client_key(client_id: u64, scope_tag: u8, scope: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + scope.len());
    k.extend_from_slice(&client_id.to_be_bytes());
    k.push(scope_tag);
    k.extend_from_slice(scope);
    k
}

/// Number of bytes of a bitfield for `chunks` chunks.
pub fn bitfield_len(chunks: usize) -> usize {
    chunks.div_ceil(8)
}

/// Sets bit `i` (LSB-first within each byte); ignores indexes past the end.
pub fn bitfield_set(bits: &mut [u8], i: usize) {
    if let Some(b) = bits.get_mut(i / 8) {
        *b |= 1 << (i % 8);
    }
}

/// Number of set bits.
pub fn bitfield_count(bits: &[u8]) -> usize {
    bits.iter().map(|b| b.count_ones() as usize).sum()
}

/// A bitfield with the first `chunks` bits set.
pub fn bitfield_full(chunks: usize) -> Vec<u8> {
    let mut bits = vec![0u8; bitfield_len(chunks)];
    for i in 0..chunks {
        bitfield_set(&mut bits, i);
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avail_keys_sort_under_their_file() {
        let k = avail_key("g", "f", 7);
        assert!(k.starts_with(&avail_prefix("g", "f")));
        assert!(!k.starts_with(&avail_prefix("g", "f2")));
        assert_eq!(peer_of_avail_key(&k), Some(7));
        assert_eq!(peer_of_avail_key(b"abc"), None);
    }

    #[test]
    fn a_user_record_from_before_display_names_decodes_without_them() {
        /// The record as stored before API version 11.
        #[derive(Serialize)]
        struct UserRecV10 {
            password_hash: String,
            created_at_ms: u64,
        }
        let old = proto::frame::encode(&UserRecV10 {
            password_hash: "h".into(),
            created_at_ms: 7,
        })
        .unwrap();
        let rec: UserRec = proto::frame::decode(&old).unwrap();
        assert_eq!(
            rec,
            UserRec {
                password_hash: "h".into(),
                created_at_ms: 7,
                display_name: None,
                last_login_ms: None,
            }
        );
        // A new record round-trips. Cut after the old fields, it either fails to decode or
        // (cut inside the display name, like a record from before) has neither new field:
        // never a wrong name or time. Cut after the whole name, it fails.
        let new = UserRec {
            password_hash: "h".into(),
            created_at_ms: 7,
            display_name: Some("Ann Lee".into()),
            last_login_ms: Some(9),
        };
        let bytes = proto::frame::encode(&new).unwrap();
        assert_eq!(proto::frame::decode::<UserRec>(&bytes).unwrap(), new);
        let named_len = old.len() + proto::frame::encode(&new.display_name).unwrap().len();
        for len in old.len() + 1..bytes.len() {
            match proto::frame::decode::<UserRec>(&bytes[..len]) {
                Err(_) => {}
                Ok(r) => {
                    assert!(len < named_len, "{len} of {} bytes", bytes.len());
                    assert_eq!((r.display_name, r.last_login_ms), (None, None));
                }
            }
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(proto::frame::decode::<UserRec>(&longer).is_err());
        let unnamed = UserRec {
            display_name: None,
            ..new
        };
        let bytes = proto::frame::encode(&unnamed).unwrap();
        assert_eq!(proto::frame::decode::<UserRec>(&bytes).unwrap(), unnamed);
    }

    #[test]
    fn bitfields() {
        let full = bitfield_full(10);
        assert_eq!(full, vec![0xff, 0x03]);
        assert_eq!(bitfield_count(&full), 10);
        let mut b = vec![0u8; 2];
        bitfield_set(&mut b, 9);
        bitfield_set(&mut b, 99);
        assert_eq!(b, vec![0, 2]);
    }
}
