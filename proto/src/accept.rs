//! The accept loop every listener in the workspace runs (a tracker's client and Raft ports, a
//! peer's seeding port): accept, close at once what is over the listener's connection caps
//! ([`crate::conn_limits`]), spawn one task per admitted connection in a span the caller names,
//! and log how each connection ended with its whole error chain. What a connection may do (its
//! handshake, its timeouts) stays with the caller's handler.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use std::time::Instant;

use tokio::net::{TcpListener, TcpStream};
use tracing::{Instrument, Span};

use crate::conn_limits::{ConnCounter, ConnLimits};

/// How long the loop waits after a failed accept (e.g. out of file descriptors) before the next.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);
/// At most one warning per this long about connections refused over a cap (each refusal is
/// logged at debug).
const REFUSAL_WARNING_EVERY: Duration = Duration::from_secs(10);

/// Accepts connections on `listener` forever; each runs `handler(stream)` in a task of its own,
/// inside `conn_span(peer_addr)`, which is opened in the caller's current span. No connection cap.
///
/// `name` starts the log lines: a failed accept is a warning `"{name} accept failed"`, and a
/// handler's `Err` is logged at debug as `"{name} connection closed"` with its source chain in
/// the `why` field.
pub async fn serve_each<H, Fut, E>(
    listener: TcpListener,
    name: &'static str,
    conn_span: impl Fn(SocketAddr) -> Span,
    handler: H,
) where
    H: FnMut(TcpStream) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<Box<dyn Error + Send + Sync>>,
{
    serve_each_capped(
        listener,
        name,
        ConnCounter::new(ConnLimits::UNLIMITED),
        conn_span,
        handler,
    )
    .await
}

/// [`serve_each`] under the caps of `counter`: a connection over one is closed before its
/// handler runs (logged at debug, and in a warning at most every 10 s with the count).
pub async fn serve_each_capped<H, Fut, E>(
    listener: TcpListener,
    name: &'static str,
    counter: ConnCounter,
    conn_span: impl Fn(SocketAddr) -> Span,
    mut handler: H,
) where
    H: FnMut(TcpStream) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<Box<dyn Error + Send + Sync>>,
{
    let mut refused_since_warning = 0u64;
    let mut last_warning: Option<Instant> = None;
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(%e, "{name} accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        let slot = match counter.admit(addr.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                drop(stream);
                refused_since_warning += 1;
                tracing::debug!(%addr, %why, "{name} connection refused");
                if last_warning.is_none_or(|t| t.elapsed() >= REFUSAL_WARNING_EVERY) {
                    tracing::warn!(
                        refused = refused_since_warning,
                        last = %addr,
                        %why,
                        "{name} connections refused over the connection caps"
                    );
                    refused_since_warning = 0;
                    last_warning = Some(Instant::now());
                }
                continue;
            }
        };
        let connection = handler(stream);
        tokio::spawn(
            async move {
                let _slot = slot;
                if let Err(why) = connection.await {
                    let why: Box<dyn Error + Send + Sync> = why.into();
                    tracing::debug!(why = %ErrorChain(&*why), "{name} connection closed");
                }
            }
            .instrument(conn_span(addr)),
        );
    }
}

/// Displays an error followed by each of its sources, separated by `": "`. A source whose text
/// the error before it already ends with (`#[error("cannot send chunk {index}: {source}")]`) is
/// not repeated.
pub struct ErrorChain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            let text = e.to_string();
            if !shown.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
            source = e.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chain_lists_every_source() {
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(ErrorChain(&e).to_string(), "outer: inner");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot send chunk 3: {0}")]
    struct Embeds(#[source] std::io::Error);

    #[test]
    fn a_source_already_in_the_message_is_not_repeated() {
        let e = Embeds(std::io::Error::other("broken pipe"));
        assert_eq!(
            ErrorChain(&e).to_string(),
            "cannot send chunk 3: broken pipe"
        );
    }

    #[test]
    fn a_string_error_shows_as_itself() {
        let e: Box<dyn Error + Send + Sync> = "no hello in time".to_string().into();
        assert_eq!(ErrorChain(&*e).to_string(), "no hello in time");
    }

    #[tokio::test]
    async fn a_connection_over_the_cap_is_closed_until_one_ends() {
        use tokio::io::AsyncReadExt;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let counter = ConnCounter::new(ConnLimits {
            total: 10,
            per_source: 2,
        });
        let server = tokio::spawn(serve_each_capped(
            listener,
            "test",
            counter.clone(),
            |peer| tracing::debug_span!("test_conn", %peer),
            move |_stream| {
                let mut release = release_rx.clone();
                async move {
                    // Holds the connection open until released.
                    let _ = release.wait_for(|r| *r).await;
                    Ok::<(), String>(())
                }
            },
        ));
        let ip = addr.ip();
        let _a = TcpStream::connect(addr).await.unwrap();
        let _b = TcpStream::connect(addr).await.unwrap();
        // Bounded wait until both are admitted.
        for _ in 0..200 {
            if counter.open(ip).1 == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(counter.open(ip), (2, 2));
        // The third is closed by the server without a byte: read sees the end at once.
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
            .await
            .unwrap();
        assert!(matches!(n, Ok(0) | Err(_)), "over the cap, got {n:?}");
        // Once the first two end, a new one is admitted again.
        release_tx.send(true).unwrap();
        for _ in 0..200 {
            if counter.open(ip).1 == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(counter.open(ip), (0, 0));
        server.abort();
    }

    #[tokio::test]
    async fn each_connection_runs_the_handler() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let server = tokio::spawn(serve_each(
            listener,
            "test",
            |peer| tracing::debug_span!("test_conn", %peer),
            move |_stream| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(());
                    Err::<(), _>("done".to_string())
                }
            },
        ));
        for _ in 0..3 {
            let _conn = TcpStream::connect(addr).await.unwrap();
            rx.recv().await.unwrap();
        }
        server.abort();
    }
}
