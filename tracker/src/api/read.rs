//! Reads: a linearizable barrier through the leader, then the domain's query on the committed
//! state. A peer's heartbeat arrives as a read too, and goes to [`super::heartbeat`] instead.

use tracing::Instrument;

use proto::tracker_msg::{PageRequest, ReadRequest, Response, SessionToken};
use proto::ApiError;

use super::token::session_bytes;
use super::{heartbeat, last_seen};
use crate::app::state::Kv;
use crate::app::{wall_ms, App};
use crate::domain::error::Fail;
use crate::domain::find_files::find_files;
use crate::domain::group_peers::group_peers;
use crate::domain::lookup::{own_peer, session_user};
use crate::domain::queries;
use crate::leader::cluster_key;

/// Handles one read request.
///
/// # Errors
/// Any [`ApiError`].
pub async fn handle(app: &App, r: ReadRequest) -> Result<Response, ApiError> {
    let span = tracing::debug_span!("read", node = app.id);
    async move {
        match r {
            ReadRequest::Heartbeat {
                token,
                peer_id,
                activity,
            } => heartbeat::handle(app, &token, peer_id, activity).await,
            ReadRequest::WhoAmI { token } => {
                query(app, |kv, now| {
                    queries::whoami(kv, &session_bytes(&token)?, now)
                })
                .await
            }
            ReadRequest::ListGroups { token, page } => {
                query(app, |kv, now| {
                    queries::list_groups(kv, &session_bytes(&token)?, now, &page)
                })
                .await
            }
            ReadRequest::ListRequests { token, group, page } => {
                query(app, |kv, now| {
                    queries::list_requests(kv, &session_bytes(&token)?, now, &group, &page)
                })
                .await
            }
            ReadRequest::ListFiles { token, group, page } => {
                query(app, |kv, now| {
                    queries::list_files(kv, &session_bytes(&token)?, now, &group, &page)
                })
                .await
            }
            ReadRequest::FileSources {
                token,
                group,
                name,
                peer_id,
                include_offline,
                page,
            } => {
                let listed = query(app, |kv, now| {
                    let which = (peer_id, include_offline);
                    file_sources(app, kv, now, &token, (&group, &name), which, &page)
                })
                .await?;
                Ok(last_seen::of_sources(&app.liveness, listed))
            }
            ReadRequest::GroupPeers { token, group, page } => {
                let listed = query(app, |kv, now| {
                    group_peers(kv, &session_bytes(&token)?, now, &group, &page)
                })
                .await?;
                Ok(last_seen::of_peers(&app.liveness, listed))
            }
            ReadRequest::FindFiles {
                token,
                file_hash,
                page,
            } => {
                query(app, |kv, now| {
                    find_files(kv, &session_bytes(&token)?, now, &file_hash, &page)
                })
                .await
            }
            ReadRequest::ClusterKey => {
                query(app, |_, _| {
                    let secret = cluster_key::require(app.state.cluster_secret())?;
                    Ok(Response::ClusterKey {
                        public_key: proto::ticket::public_key_of(&secret),
                    })
                })
                .await
            }
        }
    }
    .instrument(span)
    .await
}

/// Waits for the read barrier, then runs `run` on the committed state at the current time.
async fn query(
    app: &App,
    run: impl FnOnce(&Kv<'_>, u64) -> Result<Response, Fail>,
) -> Result<Response, ApiError> {
    app.read_barrier().await?;
    let kv = app.state.kv();
    run(&kv, wall_ms()).map_err(Fail::into_api)
}

/// A file's sources and, when the request names one of the caller's peers, a download ticket
/// signed by the cluster key that binds the download to that peer's registered key (so a ticket
/// names a key this tracker recorded for the user, never one the caller made up).
fn file_sources(
    app: &App,
    kv: &Kv<'_>,
    now: u64,
    token: &SessionToken,
    (group, name): (&str, &str),
    (peer_id, include_offline): (Option<u64>, bool),
    page: &PageRequest,
) -> Result<Response, Fail> {
    let token = session_bytes(token)?;
    let listed = queries::file_sources(kv, &token, now, group, name, include_offline, page);
    let Some(peer_id) = peer_id else {
        return listed;
    };
    match listed {
        Ok(Response::Sources {
            manifest,
            sources,
            next,
            ..
        }) => {
            let user = session_user(kv, &token, now)?;
            let downloader = own_peer(kv, peer_id, &user)?;
            let key = cluster_key::require(app.state.cluster_secret())?;
            let ttl_ms = crate::config::saturating_millis(app.config.ticket_ttl);
            let ticket = cluster_key::issue(
                &key,
                (wall_ms(), ttl_ms),
                &user,
                group,
                &manifest,
                downloader.public_key,
            )?;
            Ok(Response::Sources {
                manifest,
                sources,
                ticket: Some(ticket),
                next,
            })
        }
        other => other,
    }
}
