//! One proxied connection: read the first frame to learn the source node, connect to the node's
//! real Raft listener, then run one pump per direction under that direction's rule until both
//! ends close or a rule of the connection changes.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use tracker::raft_net::msg::RaftRequest;

use super::{LinkRule, Rules};

/// Source id of a connection whose first frame is not a Raft hello (no rule ever names it).
const UNKNOWN_SOURCE: u64 = 0;

/// A hello is a few bytes; a larger first frame is not one and is not buffered.
const MAX_HELLO_BYTES: usize = 4096;

/// How long a new connection may take to send its first frame.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(5);

/// Chunks read but not yet written by a delaying pump.
const DELAY_QUEUE_CHUNKS: usize = 1024;

/// The first frame's bytes (to forward unchanged) and the node that sent it, if it is a hello.
struct FirstFrame {
    bytes: Vec<u8>,
    from: Option<u64>,
}

/// Reads the length prefix and, if it is small enough to be a hello, the body.
async fn read_first_frame<R: AsyncRead + Unpin>(rd: &mut R) -> std::io::Result<FirstFrame> {
    let mut prefix = [0u8; 4];
    rd.read_exact(&mut prefix).await?;
    let len = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
    let mut bytes = prefix.to_vec();
    if len > MAX_HELLO_BYTES {
        return Ok(FirstFrame { bytes, from: None });
    }
    let mut body = vec![0u8; len];
    rd.read_exact(&mut body).await?;
    let from = match proto::frame::decode::<RaftRequest>(&body) {
        Ok(RaftRequest::Hello { from, .. }) => Some(from),
        _ => None,
    };
    bytes.extend_from_slice(&body);
    Ok(FirstFrame { bytes, from })
}

/// Proxies one accepted connection to node `to`'s listener at `upstream`.
pub(super) async fn task_connection(
    client: TcpStream,
    to: u64,
    upstream: String,
    rules: Arc<Rules>,
) {
    // Subscribed before the rules are read, so no change can slip in between.
    let mut changed = rules.changed.subscribe();
    let _ = client.set_nodelay(true);
    let (mut client_rd, client_wr) = client.into_split();
    let first =
        match tokio::time::timeout(FIRST_FRAME_TIMEOUT, read_first_frame(&mut client_rd)).await {
            Ok(Ok(f)) => f,
            _ => return,
        };
    let from = first.from.unwrap_or(UNKNOWN_SOURCE);
    let server = match TcpStream::connect(&upstream).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(%e, node = to, "proxy cannot reach the node; closing");
            return;
        }
    };
    let _ = server.set_nodelay(true);
    let (server_rd, server_wr) = server.into_split();
    let forward = Direction {
        rules: &rules,
        from,
        to,
        rule: rules.get(from, to),
    };
    let backward = Direction {
        rules: &rules,
        from: to,
        to: from,
        rule: rules.get(to, from),
    };
    let pumps = async {
        tokio::join!(
            forward.pump(client_rd, server_wr, first.bytes),
            backward.pump(server_rd, client_wr, Vec::new()),
        )
    };
    let rules_changed = async {
        // Ends when a rule of this connection changes or the rule table is gone.
        while changed.changed().await.is_ok() {
            if forward.changed() || backward.changed() {
                return;
            }
        }
    };
    tokio::select! {
        _ = pumps => {}
        _ = rules_changed => {}
    }
}

/// One direction of a connection and the rule it started with.
struct Direction<'a> {
    rules: &'a Rules,
    from: u64,
    to: u64,
    rule: LinkRule,
}

impl Direction<'_> {
    /// Whether this direction's rule is no longer the one the connection started with.
    fn changed(&self) -> bool {
        self.rules.get(self.from, self.to) != self.rule
    }

    /// Moves bytes from `rd` to `wr` under the rule until `rd` ends, a write fails or the rule
    /// changes. `first` is sent before anything read from `rd`.
    async fn pump<R, W>(&self, mut rd: R, mut wr: W, first: Vec<u8>)
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        match self.rule {
            LinkRule::Drop => {
                // A blackhole: swallow everything, and never pass the end of stream on either.
                let mut buf = vec![0u8; 16 << 10];
                while matches!(rd.read(&mut buf).await, Ok(n) if n > 0) {}
            }
            LinkRule::Pass => self.pass(rd, &mut wr, first).await,
            LinkRule::Delay(delay) => self.delay(rd, &mut wr, first, delay).await,
        }
    }

    async fn pass<R, W>(&self, mut rd: R, wr: &mut W, first: Vec<u8>)
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        if !first.is_empty() && (self.changed() || wr.write_all(&first).await.is_err()) {
            return;
        }
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // Checked before every write, so no byte crosses a link after its rule changed.
            if self.changed() || wr.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    }

    async fn delay<R, W>(&self, mut rd: R, wr: &mut W, first: Vec<u8>, delay: Duration)
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(DELAY_QUEUE_CHUNKS);
        let reader = async move {
            if !first.is_empty() && tx.send((Instant::now() + delay, first)).await.is_err() {
                return;
            }
            let mut buf = vec![0u8; 64 << 10];
            loop {
                let n = match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let chunk = buf[..n].to_vec();
                if tx.send((Instant::now() + delay, chunk)).await.is_err() {
                    return;
                }
            }
        };
        let writer = async move {
            while let Some((due, chunk)) = rx.recv().await {
                tokio::time::sleep_until(due).await;
                if self.changed() || wr.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            let _ = wr.shutdown().await;
        };
        tokio::join!(reader, writer);
    }
}
