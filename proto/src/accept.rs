//! The accept loop every listener in the workspace runs (a tracker's client and Raft ports, a
//! peer's seeding port): accept, spawn one task per connection in a span the caller names, and
//! log how each connection ended with its whole error chain. What a connection may do (its
//! handshake, its limits) stays with the caller's handler.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tracing::{Instrument, Span};

/// How long the loop waits after a failed accept (e.g. out of file descriptors) before the next.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Accepts connections on `listener` forever; each runs `handler(stream)` in a task of its own,
/// inside `conn_span(peer_addr)`, which is opened in the caller's current span.
///
/// `name` starts the log lines: a failed accept is a warning `"{name} accept failed"`, and a
/// handler's `Err` is logged at debug as `"{name} connection closed"` with its source chain in
/// the `why` field.
pub async fn serve_each<H, Fut, E>(
    listener: TcpListener,
    name: &'static str,
    conn_span: impl Fn(SocketAddr) -> Span,
    mut handler: H,
) where
    H: FnMut(TcpStream) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<Box<dyn Error + Send + Sync>>,
{
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(%e, "{name} accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        let connection = handler(stream);
        tokio::spawn(
            async move {
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
