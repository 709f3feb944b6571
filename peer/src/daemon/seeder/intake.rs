//! The requests of one welcomed connection. A reader task takes the downloader's frames (only
//! requests and cancels, each at most [`MAX_REQUEST_FRAME_BYTES`]) and queues the requests for
//! the serving loop, which takes them with [`Intake::next`]. What a downloader can make the
//! seeder hold is bounded: at most [`MAX_OUTSTANDING_REQUESTS`] requests asked and not yet
//! taken (one more ends the connection), a cancel is kept only for such a request (so the
//! cancelled set is never larger), and a connection with nothing asked for [`IDLE_TIMEOUT`]
//! is closed.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

use proto::frame::read_frame;
use proto::peer_msg::{PeerFrame, MAX_REQUEST_FRAME_BYTES};

use crate::error::ServeError;

/// Requests one connection may have asked and not yet had taken up. A downloader keeps at most
/// 16 in flight, but in the end-game each cancel is followed by a new request while the
/// cancelled one still waits here to be skipped; the margin covers that.
pub(super) const MAX_OUTSTANDING_REQUESTS: usize = 256;
/// A welcomed connection with nothing asked for this long is closed.
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The requests asked and not yet taken up, and which of them were cancelled (a subset).
#[derive(Default)]
struct Outstanding {
    queued: HashSet<u32>,
    cancelled: HashSet<u32>,
}

/// The serving loop's end of one connection's requests.
pub(super) struct Intake {
    outstanding: Arc<Mutex<Outstanding>>,
    requests: mpsc::Receiver<u32>,
    reader: JoinHandle<()>,
}

impl Intake {
    /// Starts the reader task on `rd`, in the current span.
    pub(super) fn start<R: AsyncRead + Unpin + Send + 'static>(rd: R) -> Intake {
        let outstanding: Arc<Mutex<Outstanding>> = Arc::default();
        let (tx, requests) = mpsc::channel(MAX_OUTSTANDING_REQUESTS);
        let shared = outstanding.clone();
        let reader = tokio::spawn(
            async move {
                if let Err(why) = read_requests(rd, &shared, &tx).await {
                    tracing::debug!(%why, "stopped reading requests");
                }
            }
            .in_current_span(),
        );
        Intake {
            outstanding,
            requests,
            reader,
        }
    }

    /// The next request to serve (cancelled ones are skipped); `Ok(None)` once the reader has
    /// stopped (the peer closed, or sent something it must not) and every request was taken.
    ///
    /// # Errors
    /// [`ServeError::Idle`] if nothing is asked for [`IDLE_TIMEOUT`].
    pub(super) async fn next(&mut self) -> Result<Option<u32>, ServeError> {
        loop {
            let index = tokio::time::timeout(IDLE_TIMEOUT, self.requests.recv())
                .await
                .map_err(|_| ServeError::Idle {
                    after: IDLE_TIMEOUT,
                })?;
            let Some(index) = index else {
                return Ok(None);
            };
            let cancelled = self
                .outstanding
                .lock()
                .map(|mut o| {
                    o.queued.remove(&index);
                    o.cancelled.remove(&index)
                })
                .unwrap_or(false);
            if !cancelled {
                return Ok(Some(index));
            }
        }
    }

    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        self.outstanding
            .lock()
            .map(|o| (o.queued.len(), o.cancelled.len()))
            .unwrap_or_default()
    }
}

impl Drop for Intake {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Reads requests and cancels until the peer closes or breaks a rule.
async fn read_requests<R: AsyncRead + Unpin>(
    mut rd: R,
    outstanding: &Mutex<Outstanding>,
    tx: &mpsc::Sender<u32>,
) -> Result<(), ServeError> {
    while let Some(body) = read_frame(&mut rd, MAX_REQUEST_FRAME_BYTES).await? {
        let frame = PeerFrame::decode(body)?;
        let Ok(mut o) = outstanding.lock() else {
            return Ok(());
        };
        match frame {
            PeerFrame::Request { index } => {
                if o.queued.contains(&index) {
                    // Asked again after a cancel: serve it once after all.
                    o.cancelled.remove(&index);
                    continue;
                }
                if o.queued.len() >= MAX_OUTSTANDING_REQUESTS {
                    return Err(ServeError::TooManyRequests {
                        max: MAX_OUTSTANDING_REQUESTS,
                    });
                }
                o.queued.insert(index);
                // Never full: every queued index is in `queued` until taken, so at most
                // MAX_OUTSTANDING_REQUESTS are in the channel.
                if tx.try_send(index).is_err() {
                    return Ok(());
                }
            }
            PeerFrame::Cancel { index } => {
                if o.queued.contains(&index) {
                    o.cancelled.insert(index);
                }
            }
            _ => return Err(ServeError::UnexpectedFrame),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncWriteExt, DuplexStream};

    async fn send(wr: &mut DuplexStream, frames: &[PeerFrame]) {
        for f in frames {
            f.write_to(wr).await.unwrap();
        }
    }

    /// Lets the reader task take what was sent.
    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn cancels_skip_queued_requests_and_are_kept_only_for_them() {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let mut intake = Intake::start(ours);
        let mut frames: Vec<_> = (0..3).map(|index| PeerFrame::Request { index }).collect();
        frames.push(PeerFrame::Cancel { index: 1 });
        // Cancels for requests never made (or already taken) are not kept.
        frames.extend((1000..6000).map(|index| PeerFrame::Cancel { index }));
        send(&mut theirs, &frames).await;
        settle().await;
        assert_eq!(intake.sizes(), (3, 1));
        assert_eq!(intake.next().await.unwrap(), Some(0));
        assert_eq!(intake.next().await.unwrap(), Some(2));
        assert_eq!(intake.sizes(), (0, 0));
        // Cancelled, then asked again: served once.
        send(
            &mut theirs,
            &[
                PeerFrame::Request { index: 7 },
                PeerFrame::Cancel { index: 7 },
                PeerFrame::Request { index: 7 },
            ],
        )
        .await;
        drop(theirs);
        assert_eq!(intake.next().await.unwrap(), Some(7));
        assert_eq!(intake.next().await.unwrap(), None);
    }

    #[tokio::test]
    async fn too_many_outstanding_requests_end_the_connection() {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let mut intake = Intake::start(ours);
        let frames: Vec<_> = (0..=MAX_OUTSTANDING_REQUESTS as u32)
            .map(|index| PeerFrame::Request { index })
            .collect();
        send(&mut theirs, &frames).await;
        // Nothing taken up yet while the reader reads all of them.
        settle().await;
        let mut served = 0;
        while intake.next().await.unwrap().is_some() {
            served += 1;
        }
        assert_eq!(
            served, MAX_OUTSTANDING_REQUESTS,
            "the one over the limit ends it"
        );
        // The reader is gone: the peer's side sees the connection closed.
        let mut buf = [0u8; 1];
        let _ = tokio::io::AsyncReadExt::read(&mut theirs, &mut buf).await;
        assert!(theirs.write_all(&[0; 64]).await.is_err());
    }

    #[tokio::test]
    async fn oversized_or_foreign_frames_end_the_connection() {
        for bad in [
            // A length prefix over the request frame limit.
            ((MAX_REQUEST_FRAME_BYTES + 1) as u32)
                .to_be_bytes()
                .to_vec(),
            // A welcome is not a downloader's frame.
            vec![0, 0, 0, 1, 0x81],
        ] {
            let (ours, mut theirs) = tokio::io::duplex(1 << 16);
            let mut intake = Intake::start(ours);
            send(&mut theirs, &[PeerFrame::Request { index: 3 }]).await;
            theirs.write_all(&bad).await.unwrap();
            assert_eq!(intake.next().await.unwrap(), Some(3));
            assert_eq!(intake.next().await.unwrap(), None);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_with_nothing_asked_is_closed_after_the_idle_timeout() {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let mut intake = Intake::start(ours);
        send(&mut theirs, &[PeerFrame::Request { index: 1 }]).await;
        assert_eq!(intake.next().await.unwrap(), Some(1));
        let started = tokio::time::Instant::now();
        // Cancels of nothing do not count as asking.
        send(&mut theirs, &[PeerFrame::Cancel { index: 9 }]).await;
        let idle = intake.next().await;
        assert!(matches!(idle, Err(ServeError::Idle { .. })), "{idle:?}");
        assert_eq!(started.elapsed(), IDLE_TIMEOUT);
    }
}
