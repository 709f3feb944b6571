//! The Raft port listener: reads the plaintext hello, runs TLS requiring a client certificate of
//! the cluster CA valid for the Raft name of the node the hello names (so a node's identity is
//! its certificate; the admin's or a user's certificate is not valid for any Raft name), then
//! answers each RPC on the connection in order. Malformed, oversized or unexpected frames close
//! that connection only.

use std::sync::Arc;
use std::time::Duration;

use openraft::raft::AppendEntriesResponse;
use openraft::ServerState;

use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::msg::{RaftReply, RaftRequest, MAX_HELLO_BYTES, RAFT_MAGIC, RAFT_VERSION};
use crate::election::leader_contact::LeaderContact;
use crate::raft_types::{NodeId, Raft};
use proto::conn_limits::{ConnCounter, ConnLimits};
use proto::frame::{read_hello, read_message, write_message, MAX_RAFT_FRAME_BYTES};
use proto::tls::{names, raft_name, NodeTls};

/// How long a new connection may take to say hello, and then again for the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Caps on the Raft port's open connections. Only cluster nodes get past the handshake, and each
/// keeps a few connections to each other node; on one machine every node has the same source
/// address, hence the room per source. The caps bound what strangers can hold open while their
/// handshakes time out.
const RAFT_CONNECTIONS: ConnLimits = ConnLimits {
    total: 512,
    per_source: 128,
};

/// A Raft connection after its handshake.
type Conn = BufReader<TlsStream<TcpStream>>;

/// Accepts Raft connections until the listener fails or the task is aborted.
pub async fn serve(
    listener: TcpListener,
    raft: Raft,
    self_id: NodeId,
    contact: Arc<LeaderContact>,
    tls: NodeTls,
) {
    let acceptor = tls.raft_acceptor();
    proto::accept::serve_each_capped(
        listener,
        "raft",
        ConnCounter::new(RAFT_CONNECTIONS),
        |addr| tracing::debug_span!("raft_conn", peer = %addr),
        |stream| {
            handle(
                stream,
                acceptor.clone(),
                raft.clone(),
                self_id,
                contact.clone(),
            )
        },
    )
    .await;
}

async fn handle(
    mut stream: TcpStream,
    acceptor: TlsAcceptor,
    raft: Raft,
    self_id: NodeId,
    contact: Arc<LeaderContact>,
) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    // Unbuffered: the bytes after the hello are the TLS handshake's.
    let hello =
        read_hello::<RaftRequest, _>(&mut stream, MAX_HELLO_BYTES, HANDSHAKE_TIMEOUT).await?;
    let from = match hello {
        Some(RaftRequest::Hello {
            magic,
            version,
            from,
        }) if magic == RAFT_MAGIC && version == RAFT_VERSION => from,
        Some(RaftRequest::Hello { version, .. }) => {
            return Err(format!(
                "unsupported raft protocol version {version}, this node speaks {RAFT_VERSION}"
            ));
        }
        _ => return Err("first frame is not a hello".into()),
    };
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
        .await
        .map_err(|_| format!("no TLS handshake in time from a connection naming node {from}"))?
        .map_err(|e| format!("TLS handshake with a connection naming node {from} failed: {e}"))?;
    let mut conn = BufReader::new(stream);
    let peer_certs = conn.get_ref().get_ref().1.peer_certificates();
    if !names::is_valid_for(peer_certs, &raft_name(from)) {
        let why = format!(
            "the client certificate is not valid for {}: refusing a connection that claims to be \
             node {from}",
            raft_name(from)
        );
        tracing::warn!(claimed = from, "{why}");
        let _ = write_message(
            &mut conn,
            &RaftReply::Refused(why.clone()),
            MAX_RAFT_FRAME_BYTES,
        )
        .await;
        return Err(why);
    }
    write_message(
        &mut conn,
        &RaftReply::Welcome { node_id: self_id },
        MAX_RAFT_FRAME_BYTES,
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut carried_append = false;
    let ended = serve_rpcs(&mut conn, &raft, &contact, &mut carried_append).await;
    if carried_append {
        crate::election::leader_link::closed(&raft, &contact, from);
    }
    ended
}

/// Answers RPCs in order until the connection ends; sets `carried_append` once an
/// AppendEntries was accepted on it.
async fn serve_rpcs(
    conn: &mut Conn,
    raft: &Raft,
    contact: &LeaderContact,
    carried_append: &mut bool,
) -> Result<(), String> {
    loop {
        let req = match read_message::<RaftRequest, _>(conn, MAX_RAFT_FRAME_BYTES).await {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!(%e, "bad frame on the raft port; closing the connection");
                return Err(e.to_string());
            }
        };
        let reply = match req {
            RaftRequest::AppendEntries(r) => {
                if let Some(why) = gap_in(&r) {
                    // openraft's release build would append these after a hole in the log.
                    tracing::error!(
                        "{why}; refusing it. Was this node's data wiped while it was still a \
                         member? Remove it (`cluster remove-node`) and add it back"
                    );
                    return Err(why);
                }
                let answer = raft.append_entries(r).await;
                if matches!(&answer, Ok(a) if !matches!(a, AppendEntriesResponse::HigherVote(_))) {
                    contact.touch();
                    *carried_append = true;
                }
                RaftReply::AppendEntries(answer)
            }
            RaftRequest::Vote(r) => {
                let candidate_log = r.last_log_id;
                let answer = raft.vote(r).await;
                if let Ok(a) = &answer {
                    if !a.vote_granted && a.last_log_id > candidate_log {
                        take_over_election(raft, contact);
                    }
                }
                RaftReply::Vote(answer)
            }
            RaftRequest::InstallSnapshot(r) => {
                RaftReply::InstallSnapshot(raft.install_snapshot(r).await)
            }
            RaftRequest::HearsLeader => RaftReply::HearsLeader(hears_leader(raft, contact)),
            RaftRequest::Hello { .. } => return Err("second hello".into()),
        };
        write_message(conn, &reply, MAX_RAFT_FRAME_BYTES)
            .await
            .map_err(|e| e.to_string())?;
    }
}

/// Why an AppendEntries is inconsistent in itself: its first entry must directly follow
/// `prev_log_id`, and its entries must be consecutive. A leader only sends such a request when its
/// idea of this node's log is wrong (the node lost data it had acknowledged).
fn gap_in(
    r: &openraft::raft::AppendEntriesRequest<crate::raft_types::TypeConfig>,
) -> Option<String> {
    let first = r.prev_log_id.map_or(0, |p| p.index + 1);
    (first..).zip(&r.entries).find_map(|(expected, entry)| {
        (entry.log_id.index != expected).then(|| {
            format!(
                "AppendEntries after {:?} carries entry {} where {expected} was due",
                r.prev_log_id, entry.log_id.index
            )
        })
    })
}

/// The pre-vote answer: this node leads, or accepted an AppendEntries from its leader within the
/// lease it grants (the maximum election timeout), so a campaign now would depose a live leader.
fn hears_leader(raft: &Raft, contact: &LeaderContact) -> bool {
    let m = raft.metrics().borrow().clone();
    let lease = Duration::from_millis(raft.config().election_timeout_max);
    m.state == ServerState::Leader || (m.current_leader.is_some() && contact.silent_for() <= lease)
}

/// A candidate whose log is behind ours just asked for our vote and was refused: it cannot win,
/// and its campaign means it stopped hearing from the leader. If we have not heard from the
/// leader for longer than the election timeout either, we are the better candidate, so we start
/// the election now instead of waiting out our own (longer, lease-extended) timer.
fn take_over_election(raft: &Raft, contact: &LeaderContact) {
    let m = raft.metrics().borrow().clone();
    let lease = Duration::from_millis(raft.config().election_timeout_max);
    if m.state != ServerState::Follower || contact.silent_for() <= lease {
        return;
    }
    tracing::info!(
        silent_ms = contact.silent_for().as_millis() as u64,
        "a candidate with a shorter log campaigns and the leader is silent; starting an election"
    );
    let raft = raft.clone();
    tokio::spawn(async move {
        crate::counters::bump(&crate::counters::COUNTERS.elections_started);
        let _ = raft.trigger().elect().await;
    });
}

#[cfg(test)]
mod tests {
    use openraft::raft::AppendEntriesRequest;
    use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, Vote};

    use super::gap_in;
    use crate::raft_types::TypeConfig;

    fn id(index: u64) -> LogId<u64> {
        LogId::new(CommittedLeaderId::new(1, 1), index)
    }

    fn request(prev: Option<u64>, indexes: &[u64]) -> AppendEntriesRequest<TypeConfig> {
        AppendEntriesRequest {
            vote: Vote::new_committed(1, 1),
            prev_log_id: prev.map(id),
            leader_commit: None,
            entries: indexes
                .iter()
                .map(|&i| Entry {
                    log_id: id(i),
                    payload: EntryPayload::Blank,
                })
                .collect(),
        }
    }

    #[test]
    fn consecutive_entries_after_prev_pass() {
        assert_eq!(gap_in(&request(None, &[0, 1, 2])), None);
        assert_eq!(gap_in(&request(Some(4), &[5, 6])), None);
        assert_eq!(gap_in(&request(Some(4), &[])), None);
    }

    #[test]
    fn entries_after_a_hole_are_refused() {
        // What a leader sent to a wiped node it still believed to hold entries up to 68485.
        assert!(gap_in(&request(None, &[68486, 68487])).is_some());
        assert!(gap_in(&request(Some(4), &[6])).is_some());
        assert!(gap_in(&request(Some(4), &[5, 7])).is_some());
    }
}
