//! [`apply_cmd`]: one replicated command with at-most-once semantics per (client id, serial).
//!
//! A client numbers its writes; the client table keeps, per client and scope, the serial of its
//! last applied write and that write's reply. A retry of that serial gets the stored reply without
//! running the rule again, an older serial is refused as [`ApiError::StaleRequest`], and a newer
//! one runs and replaces the record. A refused operation is rolled back but its refusal is stored
//! like any reply. Commands the leader makes itself carry no origin and are not recorded.
//!
//! Scopes: a client id is a random number the client picks, so anyone who learns one could send
//! writes under it. A record is therefore keyed by the client id *and* what the write acts as
//! (`scope`): its session token for a write made under a session, the username for creating
//! an account or opening a session. To read a stored reply, or to block a client's later writes
//! with a huge serial, one needs the client id and that scope: the session token (which already
//! lets one act as that user) or, for a login, the password, which the leader checks before it
//! proposes. A client's serials still rise across all its scopes, and within one scope they
//! keep the rule above. The key is a function of the command, so apply stays deterministic.
//!
//! The leader refuses some writes before proposing them (`crate::domain::admit`); those are not
//! recorded (they never reach apply), and before refusing one the leader asks [`recorded`], so a
//! retry of a write that was applied still gets its stored reply.
//!
//! Stored replies are bounded: a refusal is stored (and answered) as [`ApiError::bounded`], so a
//! name it repeats is cut to a short prefix once it is longer than any valid name; a write's
//! success is `Done` or a session, both small. Bounding is a pure function of the reply, so
//! apply stays deterministic.

use proto::ApiError;

use super::error::Fail;
use super::kv::{KvRead, KvWrite, StoreError, Table};
use super::records::{client_key, ClientRec};
use super::rules::apply_op;
use crate::cmd::{Cmd, CmdResult, Op, Origin};
use proto::tracker_msg::Response;

/// Applies `cmd` (see the module doc) and returns the client's reply.
///
/// # Errors
/// Storage errors only: they stop the node, and nothing is recorded.
pub fn apply_cmd(kv: &mut impl KvWrite, cmd: &Cmd) -> Result<CmdResult, StoreError> {
    let key = cmd.origin.map(|o| {
        let (tag, scope) = scope(&cmd.op);
        client_key(o.client_id, tag, scope)
    });
    if let (Some(origin), Some(key)) = (cmd.origin, &key) {
        if let Some(reply) = recorded_under(kv, origin, key)? {
            return Ok(CmdResult(reply));
        }
    }
    kv.begin();
    let reply = match apply_op(kv, cmd.now_ms, &cmd.op) {
        Ok(resp) => Ok(resp),
        Err(Fail::Api(e)) => {
            kv.rollback();
            Err(e)
        }
        Err(Fail::Store(e)) => return Err(e),
    }
    .map_err(ApiError::bounded);
    if let (Some(origin), Some(key)) = (cmd.origin, key) {
        let rec = ClientRec {
            serial: origin.serial,
            reply: reply.clone(),
            applied_at_ms: cmd.now_ms,
        };
        kv.put(Table::Clients, key, &rec)?;
    }
    Ok(CmdResult(reply))
}

/// What the client table alone answers a write from `origin` in scope (`scope_tag`, `scope`):
/// the stored reply for a repeated serial, [`ApiError::StaleRequest`] for an older one, `None`
/// for a new write. The leader asks it before refusing a write on its own, so a retry of a
/// write that was applied gets the reply apply would give it.
///
/// # Errors
/// Storage errors, or a record that does not decode.
pub fn recorded(
    kv: &impl KvRead,
    origin: Origin,
    scope_tag: u8,
    scope: &[u8],
) -> Result<Option<Result<Response, ApiError>>, StoreError> {
    recorded_under(kv, origin, &client_key(origin.client_id, scope_tag, scope))
}

fn recorded_under(
    kv: &impl KvRead,
    origin: Origin,
    key: &[u8],
) -> Result<Option<Result<Response, ApiError>>, StoreError> {
    Ok(match kv.get::<ClientRec>(Table::Clients, key)? {
        Some(rec) if rec.serial == origin.serial => Some(rec.reply),
        Some(rec) if rec.serial > origin.serial => Some(Err(ApiError::StaleRequest {
            serial: origin.serial,
            last: rec.serial,
        })),
        _ => None,
    })
}

/// Scope tag of a write made under a session (the scope is its token).
pub const SCOPE_SESSION: u8 = 1;
/// Scope tag of an account write (the scope is the username).
pub const SCOPE_ACCOUNT: u8 = 2;
/// Scope tag of a command the leader makes itself (it carries no origin, so never recorded).
pub const SCOPE_NONE: u8 = 0;

/// What a write acts as, for its client record's key: a tag and the bytes that follow it.
pub fn scope(op: &Op) -> (u8, &[u8]) {
    match op {
        Op::CloseSession { token }
        | Op::CreateGroup { token, .. }
        | Op::JoinGroup { token, .. }
        | Op::LeaveGroup { token, .. }
        | Op::AcceptJoin { token, .. }
        | Op::CreateOpenGroup { token, .. }
        | Op::RejectJoin { token, .. }
        | Op::RemoveMember { token, .. }
        | Op::RegisterPeer { token, .. }
        | Op::RegisterFile { token, .. }
        | Op::ReportHave { token, .. }
        | Op::StopShare { token, .. }
        | Op::SignOff { token, .. }
        | Op::Unpublish { token, .. } => (SCOPE_SESSION, token.as_slice()),
        Op::CreateUser { username, .. }
        | Op::CreateUserNamed { username, .. }
        | Op::OpenSession { username, .. } => (SCOPE_ACCOUNT, username.as_bytes()),
        Op::SetClusterKey { .. }
        | Op::PruneClients { .. }
        | Op::SetPeersOnline { .. }
        | Op::PruneSessions { .. }
        | Op::SetQuotas { .. }
        | Op::PrunePeers { .. } => (SCOPE_NONE, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::signed_in;
    use crate::domain::kv::KvRead;
    use crate::domain::mem_kv::MemKv;

    fn cmd(client_id: u64, serial: u64, now_ms: u64, op: Op) -> Cmd {
        Cmd {
            origin: Some(Origin { client_id, serial }),
            now_ms,
            op,
        }
    }

    fn session_key(client_id: u64, token: &[u8; 32]) -> Vec<u8> {
        client_key(client_id, SCOPE_SESSION, token)
    }

    fn create_group(token: [u8; 32], group: &str) -> Op {
        Op::CreateGroup {
            token,
            group: group.into(),
        }
    }

    #[test]
    fn a_repeated_serial_gets_the_stored_reply_and_an_older_one_is_stale() {
        let mut kv = MemKv::new();
        let token = signed_in(&mut kv, "dave", 1);
        let first = apply_cmd(&mut kv, &cmd(42, 1, 10, create_group(token, "once"))).unwrap();
        assert_eq!(first.0, Ok(Response::Done));
        let retry = apply_cmd(&mut kv, &cmd(42, 1, 11, create_group(token, "once"))).unwrap();
        assert_eq!(
            retry.0,
            Ok(Response::Done),
            "not GroupExists: the rule did not run"
        );
        let next = apply_cmd(&mut kv, &cmd(42, 2, 12, create_group(token, "once"))).unwrap();
        assert_eq!(next.0, Err(ApiError::GroupExists("once".into())));
        let stale = apply_cmd(&mut kv, &cmd(42, 1, 13, create_group(token, "other"))).unwrap();
        assert_eq!(stale.0, Err(ApiError::StaleRequest { serial: 1, last: 2 }));
        assert!(kv.get_raw(Table::Groups, b"other").unwrap().is_none());
        // Another client's serials are its own.
        let other = apply_cmd(&mut kv, &cmd(43, 1, 14, create_group(token, "other"))).unwrap();
        assert_eq!(other.0, Ok(Response::Done));
    }

    #[test]
    fn a_client_id_used_under_another_session_neither_reads_nor_blocks_its_owner() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let eve = signed_in(&mut kv, "eve", 2);
        let first = apply_cmd(&mut kv, &cmd(42, 5, 10, create_group(ann, "anns"))).unwrap();
        assert_eq!(first.0, Ok(Response::Done));
        // Eve replays Ann's (client id, serial) under her own session: her write runs as a new
        // one (GroupExists), she does not get Ann's stored reply.
        let eve_try = apply_cmd(&mut kv, &cmd(42, 5, 11, create_group(eve, "anns"))).unwrap();
        assert_eq!(eve_try.0, Err(ApiError::GroupExists("anns".into())));
        // Nor can a huge serial under Eve's session make Ann's next write stale.
        let block = apply_cmd(&mut kv, &cmd(42, u64::MAX, 12, create_group(eve, "x"))).unwrap();
        assert_eq!(block.0, Ok(Response::Done));
        let next = apply_cmd(&mut kv, &cmd(42, 6, 13, create_group(ann, "anns2"))).unwrap();
        assert_eq!(next.0, Ok(Response::Done));
        // Ann's retry still gets her own reply.
        let retry = apply_cmd(&mut kv, &cmd(42, 6, 14, create_group(ann, "anns2"))).unwrap();
        assert_eq!(retry.0, Ok(Response::Done));
        assert_eq!(kv.len(Table::Clients), 2);
    }

    #[test]
    fn account_writes_are_scoped_by_username_and_old_records_are_not_read() {
        let mut kv = MemKv::new();
        let create = |name: &str| Op::CreateUser {
            username: name.into(),
            password_hash: "h".into(),
        };
        // A record in the format before scopes, under the bare client id: never consulted.
        let old = ClientRec {
            serial: 9,
            reply: Err(ApiError::BadCredentials),
            applied_at_ms: 0,
        };
        kv.put(Table::Clients, 42u64.to_be_bytes().to_vec(), &old)
            .unwrap();
        assert_eq!(
            apply_cmd(&mut kv, &cmd(42, 1, 10, create("ann")))
                .unwrap()
                .0,
            Ok(Response::Done)
        );
        assert_eq!(
            apply_cmd(&mut kv, &cmd(42, 1, 11, create("bob")))
                .unwrap()
                .0,
            Ok(Response::Done),
            "another username is another scope"
        );
        let retry = apply_cmd(&mut kv, &cmd(42, 1, 12, create("ann"))).unwrap();
        assert_eq!(
            retry.0,
            Ok(Response::Done),
            "not UserExists: the stored reply"
        );
        // The old record is pruned like any other.
        crate::domain::rules::cluster::prune_clients(&mut kv, 1).unwrap();
        assert!(kv
            .get_raw(Table::Clients, &42u64.to_be_bytes())
            .unwrap()
            .is_none());
        assert_eq!(kv.len(Table::Clients), 2);
    }

    #[test]
    fn a_refusal_is_rolled_back_and_stored_as_the_reply() {
        let mut kv = MemKv::new();
        let token = signed_in(&mut kv, "dave", 1);
        let bad = cmd(42, 1, 10, create_group(token, ".bad"));
        let reply = apply_cmd(&mut kv, &bad).unwrap();
        assert!(matches!(reply.0, Err(ApiError::InvalidRequest(_))));
        let rec: ClientRec = kv
            .get(Table::Clients, &session_key(42, &token))
            .unwrap()
            .unwrap();
        assert_eq!((rec.serial, rec.reply, rec.applied_at_ms), (1, reply.0, 10));
        assert!(kv.get_raw(Table::Groups, b".bad").unwrap().is_none());
    }

    #[test]
    fn a_refusal_that_quotes_a_huge_input_is_stored_bounded() {
        let mut kv = MemKv::new();
        let token = signed_in(&mut kv, "dave", 1);
        let huge = "g".repeat(1_000_000);
        let join = Op::JoinGroup {
            token,
            group: huge.clone(),
        };
        let reply = apply_cmd(&mut kv, &cmd(42, 1, 10, join)).unwrap();
        let Err(ApiError::GroupNotFound(shown)) = &reply.0 else {
            panic!("{reply:?}");
        };
        assert!(
            shown.len() < 100 && shown.ends_with("(1000000 bytes)"),
            "{shown}"
        );
        let stored = kv
            .get_raw(Table::Clients, &session_key(42, &token))
            .unwrap()
            .unwrap();
        assert!(stored.len() < proto::limits::MAX_ERROR_REPLY_BYTES);
        let rec: ClientRec = kv
            .get(Table::Clients, &session_key(42, &token))
            .unwrap()
            .unwrap();
        assert_eq!(rec.reply, reply.0);
    }

    #[test]
    fn a_retried_sign_off_does_not_take_a_peer_that_came_back_offline_again() {
        use crate::domain::fixtures::peer_of;
        use crate::domain::records::{peer_key, PeerRec};
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        peer_of(&mut kv, 7, "ann");
        let online = |kv: &MemKv| {
            kv.get::<PeerRec>(Table::Peers, &peer_key(7))
                .unwrap()
                .unwrap()
                .online
        };
        let sign_off = || Op::SignOff {
            token: ann,
            peer_id: 7,
        };
        let first = apply_cmd(&mut kv, &cmd(42, 1, 10, sign_off())).unwrap();
        assert_eq!(first.0, Ok(Response::Done));
        assert!(!online(&kv));
        let back = Op::SetPeersOnline {
            peer_ids: vec![7],
            online: true,
        };
        apply_cmd(
            &mut kv,
            &Cmd {
                origin: None,
                now_ms: 11,
                op: back,
            },
        )
        .unwrap();
        let retry = apply_cmd(&mut kv, &cmd(42, 1, 12, sign_off())).unwrap();
        assert_eq!(retry.0, Ok(Response::Done), "the stored reply");
        assert!(online(&kv), "the retry did not run the rule again");
    }

    #[test]
    fn a_retried_unpublish_gets_its_done_though_the_file_is_gone_and_a_new_one_is_refused() {
        use crate::domain::fixtures::{file_in, group_of, manifest};
        use crate::domain::records::file_key;
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        group_of(&mut kv, "g", "ann", &[]);
        file_in(&mut kv, "g", manifest("f", 2), "ann");
        let unpublish = || Op::Unpublish {
            token: ann,
            group: "g".into(),
            name: "f".into(),
        };
        let first = apply_cmd(&mut kv, &cmd(42, 1, 10, unpublish())).unwrap();
        assert_eq!(first.0, Ok(Response::Done));
        assert!(kv
            .get_raw(Table::Files, &file_key("g", "f"))
            .unwrap()
            .is_none());
        let retry = apply_cmd(&mut kv, &cmd(42, 1, 11, unpublish())).unwrap();
        assert_eq!(retry.0, Ok(Response::Done), "the stored reply");
        // The leader, refusing the retry before proposing, finds the same reply.
        let origin = Origin {
            client_id: 42,
            serial: 1,
        };
        assert_eq!(
            recorded(&kv, origin, SCOPE_SESSION, &ann).unwrap(),
            Some(Ok(Response::Done))
        );
        let again = apply_cmd(&mut kv, &cmd(42, 2, 12, unpublish())).unwrap();
        assert!(
            matches!(again.0, Err(ApiError::FileNotFound { .. })),
            "{again:?}"
        );
    }

    #[test]
    fn leader_commands_carry_no_origin_and_leave_no_client_record() {
        let mut kv = MemKv::new();
        let prune = Cmd {
            origin: None,
            now_ms: 5,
            op: Op::PruneClients { before_ms: 0 },
        };
        assert_eq!(apply_cmd(&mut kv, &prune).unwrap().0, Ok(Response::Done));
        assert_eq!(apply_cmd(&mut kv, &prune).unwrap().0, Ok(Response::Done));
        assert_eq!(kv.len(Table::Clients), 0);
    }

    #[test]
    fn a_storage_failure_is_returned_and_no_reply_is_recorded() {
        let mut kv = MemKv::new();
        kv.put_raw(
            Table::Clients,
            client_key(7, SCOPE_NONE, &[]),
            vec![0xff; 3],
        );
        let prune = cmd(42, 1, 5, Op::PruneClients { before_ms: 100 });
        assert!(matches!(
            apply_cmd(&mut kv, &prune),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(kv
            .get_raw(Table::Clients, &client_key(42, SCOPE_NONE, &[]))
            .unwrap()
            .is_none());
    }
}
