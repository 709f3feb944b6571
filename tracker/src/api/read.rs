//! Reads: a linearizable barrier through the leader, then the query on the local tables.
//! Heartbeats are answered by the leader from memory.

use tracing::Instrument;

use proto::tracker_msg::{ReadRequest, Response};
use proto::ApiError;

use super::parse_token;
use crate::app::{wall_ms, App};
use crate::cmd::{Cmd, Op};
use crate::domain::error::Fail;
use crate::domain::kv::{KvRead, Table};
use crate::domain::lookup::session_user;
use crate::domain::queries;
use crate::domain::records::{peer_key, PeerRec};
use crate::store::overlay::Committed;

fn flatten(r: Result<Response, Fail>) -> Result<Response, ApiError> {
    r.map_err(|f| match f {
        Fail::Api(e) => e,
        Fail::Store(e) => ApiError::Internal(e.to_string()),
    })
}

/// Handles one read request.
///
/// # Errors
/// Any [`ApiError`].
pub async fn handle(app: &App, r: ReadRequest) -> Result<Response, ApiError> {
    let span = tracing::debug_span!("read", node = app.id);
    async move {
        if let ReadRequest::Heartbeat {
            token,
            peer_id,
            activity,
        } = r
        {
            return heartbeat(app, &token, peer_id, activity).await;
        }
        app.read_barrier().await?;
        let kv = Committed(&app.trees);
        let now = wall_ms();
        flatten(match r {
            ReadRequest::WhoAmI { token } => queries::whoami(&kv, &parse_token(&token)?, now),
            ReadRequest::ListGroups { token } => {
                queries::list_groups(&kv, &parse_token(&token)?, now)
            }
            ReadRequest::ListRequests { token, group } => {
                queries::list_requests(&kv, &parse_token(&token)?, now, &group)
            }
            ReadRequest::ListFiles { token, group } => {
                queries::list_files(&kv, &parse_token(&token)?, now, &group)
            }
            ReadRequest::FileSources { token, group, name } => {
                let token = parse_token(&token)?;
                match queries::file_sources(&kv, &token, now, &group, &name) {
                    Ok(Response::Sources {
                        manifest, sources, ..
                    }) => {
                        let user = session_user(&kv, &token, now).map_err(|f| match f {
                            Fail::Api(e) => e,
                            Fail::Store(e) => ApiError::Internal(e.to_string()),
                        })?;
                        let ticket = crate::cluster_key::issue(app, &user, &group, &manifest)?;
                        Ok(Response::Sources {
                            manifest,
                            sources,
                            ticket: Some(ticket),
                        })
                    }
                    other => other,
                }
            }
            ReadRequest::ClusterKey => match crate::cluster_key::secret(&app.trees) {
                Some(secret) => Ok(Response::ClusterKey {
                    public_key: proto::ticket::public_key_of(&secret),
                }),
                None => Err(Fail::Api(ApiError::Unavailable(
                    "the cluster key is not created yet; retry".into(),
                ))),
            },
            ReadRequest::Heartbeat { .. } => {
                Err(Fail::Api(ApiError::Internal("unreachable".into())))
            }
        })
    }
    .instrument(span)
    .await
}

/// Records a heartbeat on the leader; an offline peer coming back is marked online (one entry).
async fn heartbeat(
    app: &App,
    token: &str,
    peer_id: u64,
    activity: proto::tracker_msg::PeerActivity,
) -> Result<Response, ApiError> {
    app.check_leader()?;
    let kv = Committed(&app.trees);
    let user = flatten(
        session_user(&kv, &parse_token(token)?, wall_ms()).map(|u| Response::User { username: u }),
    )?;
    let Response::User { username } = user else {
        return Err(ApiError::NotLoggedIn);
    };
    let read_peer = || -> Result<Option<PeerRec>, ApiError> {
        kv.get(Table::Peers, &peer_key(peer_id))
            .map_err(|e| ApiError::Internal(e.to_string()))
    };
    let mut peer = read_peer()?;
    if peer.is_none() {
        // A new leader may not have applied the registration yet: catch up, then look again.
        app.read_barrier().await?;
        peer = read_peer()?;
    }
    let peer = match peer {
        Some(p) if p.username == username => p,
        _ => return Err(ApiError::PeerNotFound(peer_id)),
    };
    let interval = app.liveness.heartbeat(peer_id, activity);
    if !peer.online {
        let cmd = Cmd {
            origin: None,
            now_ms: wall_ms(),
            op: Op::SetPeersOnline {
                peer_ids: vec![peer_id],
                online: true,
            },
        };
        app.propose(cmd).await?;
    }
    Ok(Response::Heartbeat {
        interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
    })
}
