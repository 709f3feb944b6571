//! [`TrackerClient`]: the failover-aware client every caller uses to talk to the tracker cluster.
//!
//! It keeps a leader hint and one multiplexed connection per tracker, follows `NotLeader` hints,
//! moves to the next tracker when one is down or unavailable, and retries with exponential backoff
//! plus jitter until a deadline. A write keeps its client id and serial across every retry, so the
//! cluster applies it at most once and answers the retry with the original reply.
//!
//! [`TrackerClient::write_traced`] and [`TrackerClient::read_traced`] also return the
//! [`ReplyMeta`] of the reply that settled the request (which node, its term, its applied index),
//! for histories that must explain an answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::connection::{Connection, ConnectionError, TracedAnswer};
use crate::error::ApiError;
use crate::tls::ClientTls;
use crate::tracker_msg::{
    AdminRequest, NodeStatus, ReadRequest, ReplyMeta, Request, Response, WriteOp, WriteRequest,
};

/// How a [`TrackerClient`] reaches the cluster and how long it keeps trying.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Client API addresses of the trackers (`host:port`).
    pub trackers: Vec<String>,
    /// The cluster CA every tracker's certificate must chain to, and the client certificate
    /// presented (the admin credential), if any.
    pub tls: ClientTls,
    /// Give up on a request after this long.
    pub deadline: Duration,
    /// Bound on one attempt at one tracker (connect + answer).
    pub attempt_timeout: Duration,
    /// Bound on opening one connection.
    pub connect_timeout: Duration,
    /// First backoff after a failed attempt; doubles up to `backoff_max`.
    pub backoff_initial: Duration,
    /// Largest backoff between attempts.
    pub backoff_max: Duration,
    /// When an attempt has had no answer for this long, another node is asked (in parallel)
    /// whether a different leader has been elected; if so the request moves there.
    pub suspect_after: Duration,
    /// How long a node may hold an [`AdminRequest::AwaitLeader`] while an election runs.
    pub leader_wait: Duration,
}

impl ClientConfig {
    /// A config with the given trackers, trusting `tls`, and defaults suited to a LAN cluster.
    pub fn new(trackers: Vec<String>, tls: ClientTls) -> Self {
        ClientConfig {
            trackers,
            tls,
            deadline: Duration::from_secs(15),
            attempt_timeout: Duration::from_secs(4),
            connect_timeout: Duration::from_millis(500),
            backoff_initial: Duration::from_millis(20),
            backoff_max: Duration::from_millis(400),
            suspect_after: Duration::from_millis(300),
            leader_wait: Duration::from_millis(1500),
        }
    }

    /// Parses a comma-separated tracker list, as given to `--trackers`.
    ///
    /// # Errors
    /// [`ApiError::InvalidRequest`] if the list is empty.
    pub fn from_list(list: &str, tls: ClientTls) -> Result<Self, ApiError> {
        let trackers: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if trackers.is_empty() {
            return Err(ApiError::InvalidRequest(
                "the tracker list is empty: pass --trackers HOST:PORT,HOST:PORT,...".into(),
            ));
        }
        Ok(ClientConfig::new(trackers, tls))
    }
}

/// Mutable routing state: known trackers, leader hint and open connections.
struct Routing {
    /// Known tracker addresses (grows when a hint names a tracker not in the list).
    addrs: Vec<String>,
    /// Index in `addrs` of the node believed to be leader.
    leader: Option<usize>,
    /// Open connections by index in `addrs`.
    conns: HashMap<usize, Arc<Connection>>,
    /// Where the round-robin search goes next.
    next: usize,
}

/// What became of one (possibly hedged) attempt.
// Lives on the stack of one request's retry loop and is moved once; boxing the answer would
// cost an allocation per attempt for nothing.
#[allow(clippy::large_enum_variant)]
enum Attempt {
    /// The node answered (with the reply's meta, if the reply carried one).
    Answered(Result<Response, ApiError>, Option<ReplyMeta>),
    /// The node stayed silent and another node named a different leader (its index).
    Redirected(usize),
    /// Connecting, sending or receiving failed.
    Transport(String),
}

impl From<Result<TracedAnswer, String>> for Attempt {
    fn from(r: Result<TracedAnswer, String>) -> Self {
        match r {
            Ok((answer, meta)) => Attempt::Answered(answer, meta),
            Err(e) => Attempt::Transport(e),
        }
    }
}

/// Failover-aware client of the tracker cluster. Cheap to share behind an `Arc`.
pub struct TrackerClient {
    /// Timeouts and backoff.
    config: ClientConfig,
    /// Random id fixed for this client's lifetime; with `serial` it makes writes idempotent.
    client_id: u64,
    /// Serial of the last write issued.
    serial: AtomicU64,
    /// Leader hint and connections.
    routing: Mutex<Routing>,
    /// One write in flight per client id, so serials reach the log in order.
    write_turn: tokio::sync::Mutex<()>,
    /// Told of every write and read once it settled (a daemon's metrics), if set.
    observer: std::sync::OnceLock<RoundTripObserver>,
}

/// What a [`TrackerClient`] tells its observer about one settled write or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundTrip {
    /// `"write"` or `"read"`.
    pub kind: &'static str,
    /// From the call until its answer, retries and failover included.
    pub elapsed: Duration,
    /// Whether the answer was a success (a refusal such as `NotMember` is not).
    pub ok: bool,
}

/// A callback told of every [`RoundTrip`]; it must be quick (it runs on the caller's task).
pub type RoundTripObserver = Arc<dyn Fn(RoundTrip) + Send + Sync>;

impl TrackerClient {
    /// Creates a client with a fresh random client id.
    ///
    /// # Errors
    /// [`ApiError::InvalidRequest`] if `config.trackers` is empty.
    pub fn new(config: ClientConfig) -> Result<Self, ApiError> {
        if config.trackers.is_empty() {
            return Err(ApiError::InvalidRequest(
                "the tracker list is empty: pass --trackers HOST:PORT,...".into(),
            ));
        }
        let routing = Routing {
            addrs: config.trackers.clone(),
            leader: None,
            conns: HashMap::new(),
            next: rand::thread_rng().gen_range(0..config.trackers.len()),
        };
        Ok(TrackerClient {
            config,
            client_id: rand::thread_rng().gen(),
            serial: AtomicU64::new(0),
            routing: Mutex::new(routing),
            write_turn: tokio::sync::Mutex::new(()),
            observer: std::sync::OnceLock::new(),
        })
    }

    /// Sets the observer told of every write and read from now on; a second call is ignored.
    pub fn set_observer(&self, observer: RoundTripObserver) {
        let _ = self.observer.set(observer);
    }

    /// The tracker addresses this client knows (the configured list, plus any a hint named).
    pub fn trackers(&self) -> Vec<String> {
        self.routing
            .lock()
            .map(|r| r.addrs.clone())
            .unwrap_or_default()
    }

    /// Tells the observer, if any, how a request of `kind` started at `started` settled.
    fn observe(&self, kind: &'static str, started: Instant, answer: &TracedAnswer) {
        if let Some(observer) = self.observer.get() {
            observer(RoundTrip {
                kind,
                elapsed: started.elapsed(),
                ok: answer.0.is_ok(),
            });
        }
    }

    /// This client's id as carried by its writes.
    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// The tracker currently believed to be leader, if any.
    pub fn leader_hint(&self) -> Option<String> {
        let r = self.routing.lock().ok()?;
        r.leader.and_then(|i| r.addrs.get(i).cloned())
    }

    /// Issues a replicated write, retried until acknowledged or the deadline passes.
    ///
    /// # Errors
    /// The tracker's typed error, or [`ApiError::NoTrackerReachable`] after the deadline (the
    /// write may or may not have been applied then).
    pub async fn write(&self, op: WriteOp) -> Result<Response, ApiError> {
        self.write_traced(op).await.0
    }

    /// [`TrackerClient::write`], also returning the [`ReplyMeta`] of the reply that settled it:
    /// the answering node's for a success or a refusal (`None` for a refusal made on this side,
    /// such as a request over the frame limit); for [`ApiError::NoTrackerReachable`], that of the
    /// last node that answered at all (`None` if none did).
    pub async fn write_traced(&self, op: WriteOp) -> TracedAnswer {
        let started = Instant::now();
        let _turn = self.write_turn.lock().await;
        let serial = self.serial.fetch_add(1, Ordering::SeqCst) + 1;
        let request = Request::Write(WriteRequest {
            client_id: self.client_id,
            serial,
            op,
        });
        let answer = self.send_traced(request).await;
        self.observe("write", started, &answer);
        answer
    }

    /// Issues a linearizable read through the leader.
    ///
    /// # Errors
    /// As [`TrackerClient::write`].
    pub async fn read(&self, op: ReadRequest) -> Result<Response, ApiError> {
        self.read_traced(op).await.0
    }

    /// [`TrackerClient::read`], also returning the [`ReplyMeta`] of the reply that settled it (as
    /// [`TrackerClient::write_traced`]).
    pub async fn read_traced(&self, op: ReadRequest) -> TracedAnswer {
        let started = Instant::now();
        let answer = self.send_traced(Request::Read(op)).await;
        self.observe("read", started, &answer);
        answer
    }

    /// Issues an administrative request to the leader.
    ///
    /// # Errors
    /// As [`TrackerClient::write`].
    pub async fn admin(&self, op: AdminRequest) -> Result<Response, ApiError> {
        self.send(Request::Admin(op)).await
    }

    /// Asks one specific node for its status, without failover; with `digest`, also for the
    /// hash of its whole state (which needs the admin credential in `tls`).
    ///
    /// # Errors
    /// [`ApiError::Unavailable`] if the node does not answer within `timeout`,
    /// [`ApiError::Forbidden`] if `digest` is asked for without the admin credential.
    pub async fn node_status(
        addr: &str,
        tls: &ClientTls,
        digest: bool,
        timeout: Duration,
    ) -> Result<NodeStatus, ApiError> {
        let attempt = async {
            let conn = Connection::open(addr, tls, timeout)
                .await
                .map_err(|e| ApiError::Unavailable(e.to_string()))?;
            match conn
                .call(Request::Admin(AdminRequest::Status { digest }))
                .await
            {
                Ok(Ok(Response::Status(s))) => Ok(s),
                Ok(Ok(other)) => Err(ApiError::Internal(format!("unexpected answer {other:?}"))),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(ApiError::Unavailable(e.to_string())),
            }
        };
        tokio::time::timeout(timeout, attempt)
            .await
            .map_err(|_| ApiError::Unavailable(format!("{addr} did not answer in time")))?
    }

    /// [`TrackerClient::send_traced`] without the meta.
    async fn send(&self, request: Request) -> Result<Response, ApiError> {
        self.send_traced(request).await.0
    }

    /// Sends `request` with leader following, failover and backoff until the deadline; returns
    /// the answer with its reply's meta (see [`TrackerClient::write_traced`]).
    ///
    /// When the leader cannot be reached, another node is asked to name the next leader as soon
    /// as it is elected ([`AdminRequest::AwaitLeader`]), so failover costs one election, not a
    /// series of growing backoffs.
    async fn send_traced(&self, request: Request) -> TracedAnswer {
        let started = Instant::now();
        let deadline = started + self.config.deadline;
        let mut backoff = self.config.backoff_initial;
        let mut attempts: u32 = 0;
        let mut last_error: String;
        let mut target = self.first_target();
        // The last node that could not be reached: a hint naming it is stale.
        let mut unreachable: Option<usize> = None;
        // Meta of the last reply received, whatever it said.
        let mut last_meta: Option<ReplyMeta> = None;
        loop {
            attempts += 1;
            let mut skip_sleep = false;
            let outcome = self.attempt_hedged(target, &request, deadline).await;
            if let Attempt::Answered(_, Some(meta)) = &outcome {
                last_meta = Some(*meta);
            }
            match outcome {
                Attempt::Answered(Ok(response), meta) => {
                    self.set_leader(target);
                    return (Ok(response), meta);
                }
                Attempt::Answered(
                    Err(ApiError::NotLeader {
                        leader_api_addr: Some(hint),
                        ..
                    }),
                    _,
                ) => {
                    let hinted = self.index_of_or_add(&hint);
                    last_error = format!("node {} is not the leader", self.addr_of(target));
                    if Some(hinted) == unreachable {
                        // The node still follows a leader we could not reach: wait for the
                        // election instead of knocking on the dead leader again.
                        if let Some(found) = self.find_new_leader(hinted, deadline).await {
                            target = found;
                            skip_sleep = true;
                        } else {
                            target = self.next_target(target);
                        }
                    } else if hinted != target {
                        self.set_leader(hinted);
                        target = hinted;
                        // Follow a fresh hint at once, but not forever: a stale hint loop
                        // still backs off below after the first hop.
                        skip_sleep = !attempts.is_multiple_of(3);
                    } else {
                        target = self.next_target(target);
                    }
                }
                Attempt::Answered(Err(e), _) if e.is_retryable() => {
                    last_error = e.to_string();
                    self.clear_leader(target);
                    target = self.next_target(target);
                }
                Attempt::Answered(Err(e), meta) => return (Err(e), meta),
                Attempt::Redirected(found) => {
                    last_error = format!("{} stopped answering", self.addr_of(target));
                    unreachable = Some(target);
                    target = found;
                    skip_sleep = true;
                }
                Attempt::Transport(e) => {
                    last_error = e;
                    self.drop_connection(target);
                    self.clear_leader(target);
                    unreachable = Some(target);
                    if let Some(found) = self.find_new_leader(target, deadline).await {
                        target = found;
                        skip_sleep = true;
                    } else {
                        target = self.next_target(target);
                    }
                }
            }
            let now = Instant::now();
            if now >= deadline {
                let gave_up = ApiError::NoTrackerReachable {
                    trackers: self.addr_list(),
                    attempts,
                    last_error,
                };
                return (Err(gave_up), last_meta);
            }
            if skip_sleep {
                continue;
            }
            let jitter = rand::thread_rng().gen_range(0.5..1.5);
            let sleep = backoff.mul_f64(jitter).min(deadline - now);
            tokio::time::sleep(sleep).await;
            backoff = (backoff * 2).min(self.config.backoff_max);
        }
    }

    /// [`TrackerClient::attempt`], but if `target` stays silent past `suspect_after` another node
    /// is asked in parallel whether a different leader exists, and the request moves there.
    async fn attempt_hedged(&self, target: usize, request: &Request, deadline: Instant) -> Attempt {
        let main = self.attempt(target, request);
        if self.node_count() < 2 {
            return Attempt::from(main.await);
        }
        tokio::pin!(main);
        let probe = async {
            tokio::time::sleep(self.config.suspect_after).await;
            match self.find_new_leader(target, deadline).await {
                // Only a different leader is worth moving to; a slow but live leader is waited for.
                Some(found) if found != target => found,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            r = &mut main => Attempt::from(r),
            found = probe => Attempt::Redirected(found),
        }
    }

    /// Asks the other nodes, one at a time, to name a leader other than `failed`, waiting for the
    /// election if one is running. `None` if none answers with one before the deadline.
    async fn find_new_leader(&self, failed: usize, deadline: Instant) -> Option<usize> {
        let n = self.node_count();
        let not_api_addr = self.addr_of(failed);
        for k in 1..n {
            let asked = (failed + k) % n;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return None;
            }
            let wait = self.config.leader_wait.min(remaining);
            let request = Request::Admin(AdminRequest::AwaitLeader {
                not_api_addr: Some(not_api_addr.clone()),
                max_wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            });
            let call = async {
                let conn = self.connection(asked).await.map_err(|e| e.to_string())?;
                conn.call(request).await.map_err(|e| e.to_string())
            };
            let bound = wait + self.config.connect_timeout;
            match tokio::time::timeout(bound, call).await {
                Ok(Ok(Ok(Response::Leader { api_addr, .. }))) => {
                    let found = self.index_of_or_add(&api_addr);
                    self.set_leader(found);
                    return Some(found);
                }
                // The node answered but saw no new leader in time: let the caller back off.
                Ok(Ok(_)) => return None,
                // That node is unreachable too: ask the next one.
                Ok(Err(_)) | Err(_) => self.drop_connection(asked),
            }
        }
        None
    }

    /// One attempt at one tracker: the outer error is transport trouble, the inner the answer.
    async fn attempt(&self, target: usize, request: &Request) -> Result<TracedAnswer, String> {
        let fut = async {
            let conn = self.connection(target).await.map_err(|e| e.to_string())?;
            conn.call_traced(request.clone())
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(self.config.attempt_timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "{} did not answer within {:?}",
                self.addr_of(target),
                self.config.attempt_timeout
            )),
        }
    }

    /// The open connection to `target`, opening one if needed.
    async fn connection(&self, target: usize) -> Result<Arc<Connection>, ConnectionError> {
        let addr = {
            let r = self
                .routing
                .lock()
                .map_err(|_| ConnectionError::Closed("poisoned".into()))?;
            if let Some(c) = r.conns.get(&target) {
                if !c.is_closed() {
                    return Ok(c.clone());
                }
            }
            r.addrs.get(target).cloned().unwrap_or_default()
        };
        let conn =
            Arc::new(Connection::open(&addr, &self.config.tls, self.config.connect_timeout).await?);
        if let Ok(mut r) = self.routing.lock() {
            r.conns.insert(target, conn.clone());
        }
        Ok(conn)
    }

    fn node_count(&self) -> usize {
        self.routing.lock().map(|r| r.addrs.len()).unwrap_or(1)
    }

    fn first_target(&self) -> usize {
        match self.routing.lock() {
            Ok(r) => r.leader.unwrap_or(r.next),
            Err(_) => 0,
        }
    }

    fn next_target(&self, current: usize) -> usize {
        match self.routing.lock() {
            Ok(mut r) => {
                let n = r.addrs.len().max(1);
                r.next = (current + 1) % n;
                r.next
            }
            Err(_) => 0,
        }
    }

    fn set_leader(&self, target: usize) {
        if let Ok(mut r) = self.routing.lock() {
            r.leader = Some(target);
        }
    }

    fn clear_leader(&self, target: usize) {
        if let Ok(mut r) = self.routing.lock() {
            if r.leader == Some(target) {
                r.leader = None;
            }
        }
    }

    fn drop_connection(&self, target: usize) {
        if let Ok(mut r) = self.routing.lock() {
            r.conns.remove(&target);
        }
    }

    fn index_of_or_add(&self, addr: &str) -> usize {
        match self.routing.lock() {
            Ok(mut r) => match r.addrs.iter().position(|a| a == addr) {
                Some(i) => i,
                None => {
                    r.addrs.push(addr.to_string());
                    r.addrs.len() - 1
                }
            },
            Err(_) => 0,
        }
    }

    fn addr_of(&self, target: usize) -> String {
        self.routing
            .lock()
            .ok()
            .and_then(|r| r.addrs.get(target).cloned())
            .unwrap_or_default()
    }

    fn addr_list(&self) -> String {
        self.routing
            .lock()
            .map(|r| r.addrs.join(","))
            .unwrap_or_default()
    }
}
