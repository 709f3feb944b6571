//! What each replicated operation does to the state, one area per file: [`account`], [`group`],
//! [`peer`], [`peer_prune`], [`file`](mod@file) and [`cluster`]. [`apply_op`] only dispatches.
//!
//! Pure functions of (state, command): no clock, no randomness, no I/O but the [`KvWrite`] port,
//! so every node computes the same result. A refused operation returns [`Fail::Api`] and its
//! writes are rolled back by the caller ([`super::apply`]).

pub mod account;
pub mod cluster;
pub mod file;
pub mod group;
pub mod peer;
pub mod peer_prune;
#[cfg(test)]
mod quota_test;

use proto::tracker_msg::Response;

use super::error::Fail;
use super::kv::KvWrite;
use crate::cmd::Op;

/// Applies one operation at leader time `now_ms`.
///
/// # Errors
/// [`Fail::Api`] is the client's (deterministic) refusal; [`Fail::Store`] stops the node.
pub fn apply_op(kv: &mut impl KvWrite, now_ms: u64, op: &Op) -> Result<Response, Fail> {
    match op {
        Op::CreateUser {
            username,
            password_hash,
        } => account::create_user(kv, now_ms, username, password_hash, None),
        Op::CreateUserNamed {
            username,
            password_hash,
            display_name,
        } => account::create_user(kv, now_ms, username, password_hash, Some(display_name)),
        Op::OpenSession {
            username,
            token,
            expires_at_ms,
        } => account::open_session(kv, now_ms, username, token, *expires_at_ms),
        Op::CloseSession { token } => account::close_session(kv, token),
        Op::CreateGroup { token, group } => group::create(kv, now_ms, token, group, false),
        Op::CreateOpenGroup { token, group } => group::create(kv, now_ms, token, group, true),
        Op::JoinGroup { token, group } => group::join(kv, now_ms, token, group),
        Op::LeaveGroup { token, group } => group::leave(kv, now_ms, token, group),
        Op::AcceptJoin {
            token,
            group,
            username,
        } => group::accept(kv, now_ms, token, group, username),
        Op::RejectJoin {
            token,
            group,
            username,
        } => group::reject(kv, now_ms, token, group, username),
        Op::RemoveMember {
            token,
            group,
            username,
        } => group::remove(kv, now_ms, token, group, username),
        Op::RegisterPeer {
            token,
            peer_id,
            addr,
            peer_key,
        } => peer::register(kv, now_ms, token, *peer_id, addr, peer_key),
        Op::RegisterFile {
            token,
            peer_id,
            group,
            manifest,
        } => file::register(kv, now_ms, token, *peer_id, group, manifest),
        Op::ReportHave {
            token,
            peer_id,
            group,
            name,
            chunks,
        } => file::report_have(kv, now_ms, token, *peer_id, group, name, chunks),
        Op::StopShare {
            token,
            peer_id,
            group,
            name,
        } => file::stop_share(kv, now_ms, token, *peer_id, group, name),
        Op::Unpublish { token, group, name } => file::unpublish(kv, now_ms, token, group, name),
        Op::SetClusterKey { secret } => cluster::set_key(kv, secret),
        Op::PruneClients { before_ms } => cluster::prune_clients(kv, *before_ms),
        Op::SetPeersOnline { peer_ids, online } => peer::set_online(kv, now_ms, peer_ids, *online),
        Op::PruneSessions { tokens } => account::prune_sessions(kv, now_ms, tokens),
        Op::SetQuotas { changes } => cluster::set_quotas(kv, changes),
        Op::PrunePeers {
            peer_ids,
            offline_before_ms,
        } => peer_prune::prune(kv, peer_ids, *offline_before_ms),
        Op::SignOff { token, peer_id } => peer::sign_off(kv, now_ms, token, *peer_id),
    }
}
