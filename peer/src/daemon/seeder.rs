//! Serves chunks to other peers: checks the download ticket offline with the cluster's public key,
//! then answers pipelined requests from the file's original location (or from a download still in
//! progress, for the chunks already verified). Before sending a chunk of an uploaded file it
//! checks that the file is unchanged and that the chunk still hashes to the registered SHA-1; if
//! not, it stops seeding that file and tells the tracker.

use std::collections::HashSet;
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::Instrument;

use proto::frame::read_frame;
use proto::peer_msg::{write_chunk, ChunkStatus, PeerFrame, MAX_PEER_FRAME_BYTES, PEER_VERSION};
use proto::tracker_msg::FileManifest;

use super::shares::ShareEntry;
use super::Daemon;
use crate::hashing::{read_chunk, sha1};

const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests one connection may queue.
const MAX_QUEUED_REQUESTS: usize = 256;

/// Accepts peer connections forever.
pub async fn task_serve(daemon: Arc<Daemon>, listener: TcpListener) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(%e, "peer accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let daemon = daemon.clone();
        let span = tracing::debug_span!("serve", peer = %addr);
        tokio::spawn(
            async move {
                if let Err(why) = serve_connection(daemon, stream).await {
                    tracing::debug!(%why, "peer connection ended");
                }
            }
            .instrument(span),
        );
    }
}

/// Where a connection's chunks come from.
enum Source {
    /// An uploaded file or a finished download.
    Share(Arc<ShareEntry>),
    /// A download in progress: only verified chunks.
    Partial(Arc<super::download::DownloadHandle>),
}

impl Source {
    fn manifest(&self) -> &FileManifest {
        match self {
            Source::Share(s) => &s.manifest,
            Source::Partial(d) => &d.manifest,
        }
    }
}

async fn refuse(wr: &mut tokio::net::tcp::OwnedWriteHalf, why: &str) -> String {
    let _ = PeerFrame::Refused(why.to_string()).write_to(wr).await;
    why.to_string()
}

async fn serve_connection(daemon: Arc<Daemon>, stream: TcpStream) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let hello = tokio::time::timeout(HELLO_TIMEOUT, read_frame(&mut rd, MAX_PEER_FRAME_BYTES))
        .await
        .map_err(|_| "no hello in time".to_string())?
        .map_err(|e| e.to_string())?
        .ok_or("closed before hello")?;
    let (version, ticket) = match PeerFrame::decode(hello) {
        Ok(PeerFrame::Hello {
            version, ticket, ..
        }) => (version, ticket),
        _ => return Err(refuse(&mut wr, "the first frame must be a hello").await),
    };
    if version != PEER_VERSION {
        return Err(refuse(
            &mut wr,
            &format!("unsupported peer protocol version {version}"),
        )
        .await);
    }
    let ticket = match ticket.verify(&daemon.cluster_key, super::wall_ms()) {
        Ok(t) => t,
        Err(e) => return Err(refuse(&mut wr, &format!("ticket refused: {e}")).await),
    };
    let source = if let Some(share) = daemon.shares.get(&ticket.group, &ticket.file_name) {
        Source::Share(share)
    } else if let Some(d) = daemon.download_for(&ticket.group, &ticket.file_name) {
        Source::Partial(d)
    } else {
        return Err(refuse(&mut wr, "file not shared here").await);
    };
    if source.manifest().file_hash != ticket.file_hash {
        return Err(refuse(&mut wr, "ticket is for another version of this file").await);
    }
    let path = match &source {
        Source::Share(s) => {
            if let Err(why) = s.check_unchanged() {
                daemon.withdraw_share(s, &why).await;
                return Err(refuse(&mut wr, "file not shared here any more").await);
            }
            s.path.clone()
        }
        Source::Partial(d) => d.part.clone(),
    };
    let file = match File::open(&path) {
        Ok(f) => Arc::new(f),
        Err(e) => return Err(refuse(&mut wr, &format!("cannot open the file: {e}")).await),
    };
    PeerFrame::Welcome
        .write_to(&mut wr)
        .await
        .map_err(|e| e.to_string())?;
    tracing::debug!(user = %ticket.username, group = %ticket.group, name = %ticket.file_name, "serving");

    // A reader task queues requests and records cancels; this loop serves them in order.
    let cancelled: Arc<Mutex<HashSet<u32>>> = Arc::default();
    let (req_tx, mut req_rx) = mpsc::channel::<u32>(MAX_QUEUED_REQUESTS);
    let reader_cancelled = cancelled.clone();
    let reader = tokio::spawn(async move {
        loop {
            let body = match read_frame(&mut rd, MAX_PEER_FRAME_BYTES).await {
                Ok(Some(b)) => b,
                _ => return,
            };
            match PeerFrame::decode(body) {
                Ok(PeerFrame::Request { index }) => {
                    if req_tx.send(index).await.is_err() {
                        return;
                    }
                }
                Ok(PeerFrame::Cancel { index }) => {
                    if let Ok(mut c) = reader_cancelled.lock() {
                        c.insert(index);
                    }
                }
                _ => return,
            }
        }
    });
    let mut wr = BufWriter::with_capacity(1 << 20, wr);
    let outcome = serve_requests(&daemon, &source, &file, &mut wr, &mut req_rx, &cancelled).await;
    reader.abort();
    let _ = wr.flush().await;
    outcome
}

async fn serve_requests(
    daemon: &Arc<Daemon>,
    source: &Source,
    file: &Arc<File>,
    wr: &mut BufWriter<tokio::net::tcp::OwnedWriteHalf>,
    req_rx: &mut mpsc::Receiver<u32>,
    cancelled: &Arc<Mutex<HashSet<u32>>>,
) -> Result<(), String> {
    let manifest = Arc::new(source.manifest().clone());
    loop {
        // Flush only when no further request is queued, so pipelined chunks share syscalls.
        let index = match req_rx.try_recv() {
            Ok(i) => i,
            Err(_) => {
                wr.flush().await.map_err(|e| e.to_string())?;
                match req_rx.recv().await {
                    Some(i) => i,
                    None => return Ok(()),
                }
            }
        };
        if cancelled
            .lock()
            .map(|mut c| c.remove(&index))
            .unwrap_or(false)
        {
            continue;
        }
        if index as usize >= manifest.chunk_hashes.len() {
            send_status(wr, index, ChunkStatus::NotFound).await?;
            continue;
        }
        if let Source::Partial(d) = source {
            if !d.has_chunk(index) {
                send_status(wr, index, ChunkStatus::NotAvailable).await?;
                continue;
            }
        }
        let (f, m) = (file.clone(), manifest.clone());
        let read = tokio::task::spawn_blocking(move || {
            let data = read_chunk(&f, &m, index)?;
            let ok = m.chunk_hashes.get(index as usize) == Some(&sha1(&data));
            Ok::<_, std::io::Error>((data, ok))
        })
        .await
        .map_err(|e| e.to_string())?;
        let data = match read {
            Ok((data, true)) => data,
            Ok((_, false)) | Err(_) => {
                if let Source::Share(s) = source {
                    daemon
                        .withdraw_share(
                            s,
                            &format!(
                                "chunk {index} of {} no longer matches its hash",
                                s.path.display()
                            ),
                        )
                        .await;
                }
                send_status(wr, index, ChunkStatus::NotFound).await?;
                return Err("file changed under us".into());
            }
        };
        let data = if daemon.corrupt_for_testing {
            let mut d = data;
            if let Some(b) = d.first_mut() {
                *b ^= 0xff;
            }
            d
        } else {
            data
        };
        if let Some(l) = &daemon.upload_limiter {
            l.acquire(data.len()).await;
        }
        write_chunk(wr, index, &data)
            .await
            .map_err(|e| e.to_string())?;
        daemon.chunks_served.fetch_add(1, Ordering::Relaxed);
        daemon.touch_transfer();
    }
}

async fn send_status(
    wr: &mut BufWriter<tokio::net::tcp::OwnedWriteHalf>,
    index: u32,
    status: ChunkStatus,
) -> Result<(), String> {
    let body = PeerFrame::Status { index, status }
        .encode()
        .map_err(|e| e.to_string())?;
    proto::frame::write_frame(wr, &body, MAX_PEER_FRAME_BYTES)
        .await
        .map_err(|e| e.to_string())
}
