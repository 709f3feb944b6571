//! The peer wire protocol (data plane): one connection per (downloader, seeder, file), inside
//! mutually authenticated TLS 1.3 ([`crate::tls::peer`]): every frame below travels encrypted.
//!
//! The downloader opens with [`PeerFrame::Hello`] carrying its download ticket; the seeder answers
//! [`PeerFrame::Welcome`] or [`PeerFrame::Refused`]. Then the downloader pipelines
//! [`PeerFrame::Request`]s (several in flight) and the seeder answers each with a
//! [`PeerFrame::Chunk`] or a [`PeerFrame::Status`] (not available, not found, busy).
//!
//! Frames use the same 4-byte length prefix as everywhere, then a type byte and a fixed binary
//! layout, so a 512 KiB chunk is one copy from socket to buffer; decoding checks every length.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::frame::FrameError;
use crate::ticket::SignedTicket;

/// Magic number opening a peer connection ("P2PP").
pub const PEER_MAGIC: u32 = 0x5032_5050;
/// Version of the peer protocol (2: inside TLS, tickets name the downloader's key).
pub const PEER_VERSION: u32 = 2;
/// Largest frame on the peer port: the largest chunk plus its header.
pub const MAX_PEER_FRAME_BYTES: usize = (64 << 20) + 64;
/// Largest hello a seeder reads, before it has checked the ticket: nothing a peer sends before
/// that may make the seeder allocate more (a ticket is a few hundred bytes). It is also the
/// largest frame other than a chunk that [`read_frame_start`] reads (a refusal's reason, a
/// status), so a seeder cannot make a downloader allocate more for them either.
pub const MAX_HELLO_FRAME_BYTES: usize = 16 << 10;
/// Largest frame a seeder reads after the hello: a downloader sends only requests and cancels.
pub const MAX_REQUEST_FRAME_BYTES: usize = 16;

const T_HELLO: u8 = 1;
const T_REQUEST: u8 = 2;
const T_CANCEL: u8 = 3;
const T_WELCOME: u8 = 0x81;
const T_REFUSED: u8 = 0x82;
const T_CHUNK: u8 = 0x83;
const T_STATUS: u8 = 0x84;

/// Why a seeder did not send a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkStatus {
    /// The seeder does not hold this chunk (yet).
    NotAvailable,
    /// The seeder does not share this file (any more) or the index is out of range.
    NotFound,
    /// The seeder is overloaded; retry later or elsewhere.
    Busy,
}

impl ChunkStatus {
    fn code(self) -> u8 {
        match self {
            ChunkStatus::NotAvailable => 1,
            ChunkStatus::NotFound => 2,
            ChunkStatus::Busy => 3,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        match c {
            1 => Some(ChunkStatus::NotAvailable),
            2 => Some(ChunkStatus::NotFound),
            3 => Some(ChunkStatus::Busy),
            _ => None,
        }
    }
}

/// Chunk bytes inside a received frame body (kept in place to avoid a copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkBytes {
    buf: Vec<u8>,
    start: usize,
}

impl ChunkBytes {
    /// The chunk's data.
    pub fn as_slice(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or(&[])
    }

    /// Length of the data.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether the data is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A frame of the peer protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerFrame {
    /// Downloader's opening frame.
    Hello {
        /// Protocol version.
        version: u32,
        /// Requesting peer id (for logs and accounting).
        peer_id: u64,
        /// The download ticket.
        ticket: SignedTicket,
    },
    /// Handshake accepted.
    Welcome,
    /// Handshake refused; the seeder closes.
    Refused(String),
    /// Ask for one chunk.
    Request {
        /// Chunk index.
        index: u32,
    },
    /// Withdraw a request (end-game duplicate no longer needed).
    Cancel {
        /// Chunk index.
        index: u32,
    },
    /// One chunk's data.
    Chunk {
        /// Chunk index.
        index: u32,
        /// Its bytes.
        data: ChunkBytes,
    },
    /// Why a requested chunk is not coming.
    Status {
        /// Chunk index.
        index: u32,
        /// Reason.
        status: ChunkStatus,
    },
}

fn malformed(what: &str) -> FrameError {
    FrameError::Malformed(format!("peer frame: {what}"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, FrameError> {
    let bytes: [u8; 4] = b
        .get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| malformed("truncated"))?;
    Ok(u32::from_be_bytes(bytes))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, FrameError> {
    let bytes: [u8; 8] = b
        .get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| malformed("truncated"))?;
    Ok(u64::from_be_bytes(bytes))
}

/// Decodes the ticket of a hello with the project's bincode layout but a limit of
/// [`MAX_HELLO_FRAME_BYTES`], so a length inside it cannot claim more than a hello holds (the
/// general limit is the Raft frame's, far more than a seeder should allocate for a stranger).
fn decode_hello_ticket(bytes: &[u8]) -> Result<SignedTicket, FrameError> {
    let config = bincode::config::standard()
        .with_big_endian()
        .with_limit::<{ MAX_HELLO_FRAME_BYTES }>();
    let (ticket, used) = bincode::serde::decode_from_slice(bytes, config)
        .map_err(|e| malformed(&format!("ticket: {e}")))?;
    if used != bytes.len() {
        return Err(malformed("trailing bytes after the ticket"));
    }
    Ok(ticket)
}

impl PeerFrame {
    /// Decodes one frame body (without the length prefix).
    ///
    /// # Errors
    /// [`FrameError::Malformed`] for an unknown type, a wrong length or a bad field.
    pub fn decode(body: Vec<u8>) -> Result<PeerFrame, FrameError> {
        let (&kind, rest) = body.split_first().ok_or_else(|| malformed("empty"))?;
        let exact = |n: usize| {
            if rest.len() == n {
                Ok(())
            } else {
                Err(malformed("wrong length"))
            }
        };
        match kind {
            T_HELLO => {
                if body.len() > MAX_HELLO_FRAME_BYTES {
                    return Err(malformed("hello too long"));
                }
                if u32_at(rest, 0)? != PEER_MAGIC {
                    return Err(malformed("bad magic"));
                }
                let version = u32_at(rest, 4)?;
                let peer_id = u64_at(rest, 8)?;
                let ticket = decode_hello_ticket(rest.get(16..).unwrap_or(&[]))?;
                Ok(PeerFrame::Hello {
                    version,
                    peer_id,
                    ticket,
                })
            }
            T_REQUEST => {
                exact(4)?;
                Ok(PeerFrame::Request {
                    index: u32_at(rest, 0)?,
                })
            }
            T_CANCEL => {
                exact(4)?;
                Ok(PeerFrame::Cancel {
                    index: u32_at(rest, 0)?,
                })
            }
            T_WELCOME => {
                exact(0)?;
                Ok(PeerFrame::Welcome)
            }
            T_REFUSED => Ok(PeerFrame::Refused(
                String::from_utf8_lossy(rest).into_owned(),
            )),
            T_CHUNK => {
                let index = u32_at(rest, 0)?;
                Ok(PeerFrame::Chunk {
                    index,
                    data: ChunkBytes {
                        buf: body,
                        start: 5,
                    },
                })
            }
            T_STATUS => {
                exact(5)?;
                let status = rest
                    .get(4)
                    .copied()
                    .and_then(ChunkStatus::from_code)
                    .ok_or_else(|| malformed("unknown status"))?;
                Ok(PeerFrame::Status {
                    index: u32_at(rest, 0)?,
                    status,
                })
            }
            _ => Err(malformed("unknown type")),
        }
    }

    /// Encodes the frame body (without the length prefix).
    ///
    /// # Errors
    /// Only if a ticket cannot be encoded.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::new();
        match self {
            PeerFrame::Hello {
                version,
                peer_id,
                ticket,
            } => {
                out.push(T_HELLO);
                out.extend_from_slice(&PEER_MAGIC.to_be_bytes());
                out.extend_from_slice(&version.to_be_bytes());
                out.extend_from_slice(&peer_id.to_be_bytes());
                out.extend_from_slice(&crate::frame::encode(ticket)?);
            }
            PeerFrame::Welcome => out.push(T_WELCOME),
            PeerFrame::Refused(why) => {
                out.push(T_REFUSED);
                out.extend_from_slice(why.as_bytes());
            }
            PeerFrame::Request { index } => {
                out.push(T_REQUEST);
                out.extend_from_slice(&index.to_be_bytes());
            }
            PeerFrame::Cancel { index } => {
                out.push(T_CANCEL);
                out.extend_from_slice(&index.to_be_bytes());
            }
            PeerFrame::Chunk { index, data } => {
                out.push(T_CHUNK);
                out.extend_from_slice(&index.to_be_bytes());
                out.extend_from_slice(data.as_slice());
            }
            PeerFrame::Status { index, status } => {
                out.push(T_STATUS);
                out.extend_from_slice(&index.to_be_bytes());
                out.push(status.code());
            }
        }
        Ok(out)
    }

    /// Writes the frame (prefix and body).
    ///
    /// # Errors
    /// I/O errors.
    pub async fn write_to<W: AsyncWrite + Unpin>(&self, w: &mut W) -> Result<(), FrameError> {
        let body = self.encode()?;
        crate::frame::write_frame(w, &body, MAX_PEER_FRAME_BYTES).await
    }
}

/// Bytes before a chunk's data on the wire: the length prefix, the type byte and the index.
pub const CHUNK_HEADER_BYTES: usize = 9;

/// The header that goes right before `data_len` bytes of chunk `index`, so a sender can put it
/// in front of data it read into a buffer and send both with one write.
///
/// # Errors
/// [`FrameError::TooLarge`] if the frame would exceed [`MAX_PEER_FRAME_BYTES`].
pub fn chunk_header(index: u32, data_len: usize) -> Result<[u8; CHUNK_HEADER_BYTES], FrameError> {
    let len = data_len + 5;
    let too_large = FrameError::TooLarge {
        len,
        max: MAX_PEER_FRAME_BYTES,
    };
    if len > MAX_PEER_FRAME_BYTES {
        return Err(too_large);
    }
    let prefix = u32::try_from(len).map_err(|_| too_large)?;
    let mut head = [0u8; CHUNK_HEADER_BYTES];
    head[..4].copy_from_slice(&prefix.to_be_bytes());
    head[4] = T_CHUNK;
    head[5..].copy_from_slice(&index.to_be_bytes());
    Ok(head)
}

/// Writes a chunk frame straight from `data` without building a [`PeerFrame`] (no copy).
/// Does not flush.
///
/// # Errors
/// I/O errors, or [`FrameError::TooLarge`].
pub async fn write_chunk<W: AsyncWrite + Unpin>(
    w: &mut W,
    index: u32,
    data: &[u8],
) -> Result<(), FrameError> {
    let head = chunk_header(index, data.len())?;
    w.write_all(&head).await?;
    w.write_all(data).await?;
    Ok(())
}

/// The start of a received frame, as [`read_frame_start`] returns it.
#[derive(Debug)]
pub enum FrameStart {
    /// A chunk frame: its `data_len` bytes of data follow in the stream, for the caller to read
    /// straight into its own buffer (with [`crate::frame::read_body`]).
    Chunk {
        /// Chunk index.
        index: u32,
        /// Bytes of data still to read.
        data_len: usize,
    },
    /// Any other frame, read and decoded whole.
    Other(PeerFrame),
}

/// Reads the next frame up to the start of a chunk's data, enforcing [`MAX_PEER_FRAME_BYTES`]
/// (and [`MAX_HELLO_FRAME_BYTES`] for any other frame) before anything is allocated, so chunk
/// data can go from the socket to its final buffer in one copy. `Ok(None)` on a clean end of
/// stream.
///
/// # Errors
/// As [`crate::frame::read_frame`] and [`PeerFrame::decode`].
pub async fn read_frame_start<R: AsyncRead + Unpin>(
    r: &mut R,
) -> Result<Option<FrameStart>, FrameError> {
    let Some(len) = crate::frame::read_frame_len(r, MAX_PEER_FRAME_BYTES).await? else {
        return Ok(None);
    };
    let mut kind = [0u8; 1];
    if len == 0 {
        return Err(malformed("empty"));
    }
    crate::frame::read_body(r, &mut kind).await?;
    if kind == [T_CHUNK] {
        let mut index = [0u8; 4];
        if len < 5 {
            return Err(malformed("truncated"));
        }
        crate::frame::read_body(r, &mut index).await?;
        return Ok(Some(FrameStart::Chunk {
            index: u32::from_be_bytes(index),
            data_len: len - 5,
        }));
    }
    if len > MAX_HELLO_FRAME_BYTES {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_HELLO_FRAME_BYTES,
        });
    }
    let mut body = vec![0u8; len];
    if let Some((first, rest)) = body.split_first_mut() {
        *first = kind[0];
        crate::frame::read_body(r, rest).await?;
    }
    PeerFrame::decode(body).map(|f| Some(FrameStart::Other(f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames() -> Vec<PeerFrame> {
        vec![
            PeerFrame::Hello {
                version: PEER_VERSION,
                peer_id: 9,
                ticket: SignedTicket {
                    ticket_bytes: vec![1, 2, 3],
                    signature: vec![4; 64],
                },
            },
            PeerFrame::Welcome,
            PeerFrame::Refused("no".into()),
            PeerFrame::Request { index: 7 },
            PeerFrame::Cancel { index: 8 },
            PeerFrame::Chunk {
                index: 3,
                data: ChunkBytes {
                    buf: vec![T_CHUNK, 0, 0, 0, 3, 9, 9, 9],
                    start: 5,
                },
            },
            PeerFrame::Status {
                index: 1,
                status: ChunkStatus::Busy,
            },
        ]
    }

    #[test]
    fn round_trips() {
        for f in frames() {
            let body = f.encode().unwrap();
            let back = PeerFrame::decode(body).unwrap();
            match (&f, &back) {
                (
                    PeerFrame::Chunk { index: a, data: x },
                    PeerFrame::Chunk { index: b, data: y },
                ) => {
                    assert_eq!((a, x.as_slice()), (b, y.as_slice()))
                }
                _ => assert_eq!(f, back),
            }
        }
    }

    #[test]
    fn every_prefix_of_every_frame_decodes_or_errs_without_panic() {
        for f in frames() {
            let body = f.encode().unwrap();
            for cut in 0..body.len() {
                let _ = PeerFrame::decode(body[..cut].to_vec());
            }
        }
        for t in 0..=255u8 {
            let _ = PeerFrame::decode(vec![t; 3]);
        }
    }

    #[tokio::test]
    async fn frame_start_leaves_chunk_data_in_the_stream() {
        let mut wire = Vec::new();
        write_chunk(&mut wire, 5, b"abcdef").await.unwrap();
        PeerFrame::Status {
            index: 2,
            status: ChunkStatus::NotAvailable,
        }
        .write_to(&mut wire)
        .await
        .unwrap();
        let mut rd = &wire[..];
        match read_frame_start(&mut rd).await.unwrap() {
            Some(FrameStart::Chunk { index, data_len }) => assert_eq!((index, data_len), (5, 6)),
            other => panic!("{other:?}"),
        }
        let mut data = [0u8; 6];
        crate::frame::read_body(&mut rd, &mut data).await.unwrap();
        assert_eq!(&data, b"abcdef");
        match read_frame_start(&mut rd).await.unwrap() {
            Some(FrameStart::Other(PeerFrame::Status { index: 2, .. })) => {}
            other => panic!("{other:?}"),
        }
        assert!(read_frame_start(&mut rd).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn frame_start_checks_lengths_and_never_panics() {
        let huge = u32::try_from(MAX_PEER_FRAME_BYTES + 1)
            .unwrap()
            .to_be_bytes();
        assert!(matches!(
            read_frame_start(&mut &huge[..]).await,
            Err(FrameError::TooLarge { .. })
        ));
        // Every prefix of a chunk frame and of a short, lying chunk frame.
        let mut wire = Vec::new();
        write_chunk(&mut wire, 1, b"xyz").await.unwrap();
        let lying = [0, 0, 0, 3, T_CHUNK, 0, 0, 0, 1];
        for bytes in [&wire[..], &lying[..]] {
            for cut in 0..bytes.len() {
                let _ = read_frame_start(&mut &bytes[..cut]).await;
            }
        }
        assert!(read_frame_start(&mut &lying[..]).await.is_err());
        assert!(read_frame_start(&mut &[0u8, 0, 0, 0][..]).await.is_err());
        // A frame other than a chunk may not be larger than a hello (a 1 MiB refusal).
        let mut refusal = ((1u32 << 20) + 1).to_be_bytes().to_vec();
        refusal.push(T_REFUSED);
        assert!(matches!(
            read_frame_start(&mut &refusal[..]).await,
            Err(FrameError::TooLarge {
                max: MAX_HELLO_FRAME_BYTES,
                ..
            })
        ));
    }

    #[test]
    fn a_hello_cannot_claim_more_than_it_holds() {
        let hello = |ticket_bytes: &[u8]| {
            let mut body = vec![T_HELLO];
            body.extend_from_slice(&PEER_MAGIC.to_be_bytes());
            body.extend_from_slice(&PEER_VERSION.to_be_bytes());
            body.extend_from_slice(&9u64.to_be_bytes());
            body.extend_from_slice(ticket_bytes);
            body
        };
        // A ticket whose first byte string claims 60 MB (varint: 252, then a u32), in 30 bytes.
        let mut lying = vec![252];
        lying.extend_from_slice(&60_000_000u32.to_be_bytes());
        lying.extend_from_slice(&[0; 8]);
        assert!(PeerFrame::decode(hello(&lying)).is_err());
        // A real ticket fits easily; one padded past the maximum is refused before decoding.
        let ok = PeerFrame::Hello {
            version: PEER_VERSION,
            peer_id: 9,
            ticket: SignedTicket {
                ticket_bytes: vec![5; 400],
                signature: vec![4; 64],
            },
        };
        assert_eq!(PeerFrame::decode(ok.encode().unwrap()).unwrap(), ok);
        let big = PeerFrame::Hello {
            version: PEER_VERSION,
            peer_id: 9,
            ticket: SignedTicket {
                ticket_bytes: vec![5; MAX_HELLO_FRAME_BYTES],
                signature: vec![4; 64],
            },
        };
        let err = PeerFrame::decode(big.encode().unwrap()).unwrap_err();
        assert!(err.to_string().contains("hello too long"), "{err}");
    }

    #[test]
    fn chunk_header_refuses_oversized_chunks() {
        assert!(chunk_header(0, MAX_PEER_FRAME_BYTES).is_err());
        assert_eq!(
            chunk_header(7, 3).unwrap(),
            [0, 0, 0, 8, T_CHUNK, 0, 0, 0, 7]
        );
    }

    #[tokio::test]
    async fn write_chunk_matches_encode() {
        let mut a = Vec::new();
        write_chunk(&mut a, 5, b"abc").await.unwrap();
        let mut rd = &a[..];
        let body = crate::frame::read_frame(&mut rd, MAX_PEER_FRAME_BYTES)
            .await
            .unwrap()
            .unwrap();
        match PeerFrame::decode(body).unwrap() {
            PeerFrame::Chunk { index, data } => {
                assert_eq!((index, data.as_slice()), (5, &b"abc"[..]))
            }
            other => panic!("{other:?}"),
        }
    }
}
