//! A fault-injecting TCP proxy in front of each tracker's Raft port, in-process on tokio, so
//! links can be cut, delayed or cut one way without root or iptables.
//!
//! Every node listens on a private address (`--raft-listen`) and advertises its proxy's address
//! as its `raft_addr`, so the membership routes all Raft traffic through a proxy. The proxy in
//! front of node `to` learns the connecting node `from` from the connection's first frame (the
//! Raft handshake `RaftRequest::Hello { from, .. }`). From then on every byte belongs to a
//! directed link: `from -> to` for requests, `to -> from` for their replies, and each directed
//! link has a [`LinkRule`]. A connection whose first frame is not a hello has no known source and
//! always passes.
//!
//! A rule change closes every open connection whose rules it changes (the Raft client
//! reconnects), so a cut applies at once to connections already open, and a heal never resumes a
//! byte stream that lost bytes in the middle.
//!
//! # Layout
//! - this file: [`FaultNet`] (the rule table and one proxy per node) and [`LinkRule`].
//! - `link.rs`: one proxied connection (handshake sniffing, one pump per direction).

mod link;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// What happens to the bytes of one directed link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRule {
    /// Forwarded at once.
    Pass,
    /// Read and discarded (a blackhole: the sender sees a stall, never an error).
    Drop,
    /// Forwarded after this extra delay (per chunk, order kept).
    Delay(Duration),
}

/// Which directions of a node's links [`FaultNet::isolate`] cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Nothing gets in or out.
    Both,
    /// The node's bytes to the others are dropped; theirs still reach it.
    Outgoing,
    /// The others' bytes to the node are dropped; its bytes still reach them.
    Incoming,
}

/// The shared rule table; every change bumps a generation that open connections watch.
struct Rules {
    /// Rules by (from, to); a missing entry means [`LinkRule::Pass`].
    links: Mutex<HashMap<(u64, u64), LinkRule>>,
    /// Bumped on every change.
    changed: watch::Sender<u64>,
}

impl Rules {
    fn get(&self, from: u64, to: u64) -> LinkRule {
        self.links
            .lock()
            .ok()
            .and_then(|m| m.get(&(from, to)).copied())
            .unwrap_or(LinkRule::Pass)
    }

    fn update(&self, f: impl FnOnce(&mut HashMap<(u64, u64), LinkRule>)) {
        if let Ok(mut m) = self.links.lock() {
            f(&mut m);
            m.retain(|_, r| *r != LinkRule::Pass);
        }
        self.changed.send_modify(|g| *g = g.wrapping_add(1));
    }
}

/// One proxy per node and the rule table they share. Dropping it stops every proxy and closes
/// every proxied connection.
pub struct FaultNet {
    rules: Arc<Rules>,
    proxies: BTreeMap<u64, (SocketAddr, JoinHandle<()>)>,
}

impl Default for FaultNet {
    fn default() -> Self {
        Self::new()
    }
}

impl FaultNet {
    /// No proxies yet, every link passes.
    pub fn new() -> Self {
        FaultNet {
            rules: Arc::new(Rules {
                links: Mutex::new(HashMap::new()),
                changed: watch::channel(0).0,
            }),
            proxies: BTreeMap::new(),
        }
    }

    /// Starts the proxy in front of node `to` on a free port of 127.0.0.1 that is not in
    /// `avoid` (ports planned for other listeners), forwarding to `upstream` (host:port).
    /// Returns the proxy's address, the one to advertise as the node's `raft_addr`.
    ///
    /// # Errors
    /// If no port can be bound.
    pub async fn add_proxy(
        &mut self,
        to: u64,
        upstream: String,
        avoid: &[u16],
    ) -> std::io::Result<SocketAddr> {
        // Held until the loop ends so the kernel does not hand the same port out again.
        let mut rejected = Vec::new();
        let listener = loop {
            let l = TcpListener::bind("127.0.0.1:0").await?;
            if !avoid.contains(&l.local_addr()?.port()) {
                break l;
            }
            rejected.push(l);
            if rejected.len() > 16 {
                return Err(std::io::Error::other(
                    "no free proxy port outside the planned ports",
                ));
            }
        };
        let addr = listener.local_addr()?;
        let task = tokio::spawn(task_accept(listener, to, upstream, self.rules.clone()));
        if let Some((_, old)) = self.proxies.insert(to, (addr, task)) {
            old.abort();
        }
        Ok(addr)
    }

    /// The address of node `id`'s proxy.
    pub fn proxy_addr(&self, id: u64) -> Option<SocketAddr> {
        self.proxies.get(&id).map(|(a, _)| *a)
    }

    /// The rule of the directed link `from -> to`.
    pub fn rule(&self, from: u64, to: u64) -> LinkRule {
        self.rules.get(from, to)
    }

    /// Sets the rule of the directed link `from -> to` (open connections on it are closed if it
    /// changes).
    pub fn set(&self, from: u64, to: u64, rule: LinkRule) {
        self.rules.update(|m| {
            m.insert((from, to), rule);
        });
    }

    /// Cuts `node` off from every node in `others`, in the directions `cut` names.
    pub fn isolate(&self, node: u64, others: &[u64], cut: Cut) {
        self.rules.update(|m| {
            for &o in others.iter().filter(|&&o| o != node) {
                if cut != Cut::Incoming {
                    m.insert((node, o), LinkRule::Drop);
                }
                if cut != Cut::Outgoing {
                    m.insert((o, node), LinkRule::Drop);
                }
            }
        });
    }

    /// Every link passes again.
    pub fn heal(&self) {
        self.rules.update(HashMap::clear);
    }

    /// Every directed link whose rule is not [`LinkRule::Pass`], sorted.
    pub fn faulty_links(&self) -> Vec<(u64, u64, LinkRule)> {
        let mut v: Vec<_> = self
            .rules
            .links
            .lock()
            .map(|m| m.iter().map(|(&(f, t), &r)| (f, t, r)).collect())
            .unwrap_or_default();
        v.sort_by_key(|&(f, t, _)| (f, t));
        v
    }
}

impl Drop for FaultNet {
    fn drop(&mut self) {
        for (_, task) in self.proxies.values() {
            task.abort();
        }
    }
}

/// Accepts connections to one node's proxy; aborting it closes every connection it started.
async fn task_accept(listener: TcpListener, to: u64, upstream: String, rules: Arc<Rules>) {
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, _)) => {
                conns.spawn(link::task_connection(
                    stream,
                    to,
                    upstream.clone(),
                    rules.clone(),
                ));
            }
            Err(e) => {
                tracing::warn!(%e, node = to, "proxy accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
