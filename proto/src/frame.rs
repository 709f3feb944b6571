//! Length-prefixed frames: a 4-byte big-endian length, then that many bytes of bincode.
//!
//! Every reader enforces a maximum frame size *before* allocating, so a hostile 4 GiB length
//! prefix costs nothing but a closed connection. A clean end of stream between frames is not an
//! error ([`read_frame`] returns `Ok(None)`); an end of stream inside a frame is.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest frame accepted on the client API port (file registrations carry one SHA-1 per chunk,
/// so a 100 GiB file needs about 4 MiB).
pub const MAX_API_FRAME_BYTES: usize = 16 << 20;

/// Largest frame accepted on the Raft port (batches of log entries and snapshot chunks).
pub const MAX_RAFT_FRAME_BYTES: usize = 64 << 20;

/// Why a frame could not be read or decoded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix announced more than the maximum this port accepts.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// Maximum accepted on this port.
        max: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
    /// The socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a valid message of the expected type.
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// bincode configuration used on every port; the limit stops hostile inner lengths from
/// allocating more than a frame can hold.
fn config() -> bincode::config::Configuration<
    bincode::config::BigEndian,
    bincode::config::Varint,
    bincode::config::Limit<{ MAX_RAFT_FRAME_BYTES }>,
> {
    bincode::config::standard()
        .with_big_endian()
        .with_limit::<{ MAX_RAFT_FRAME_BYTES }>()
}

/// Serializes a message with the project's bincode configuration.
///
/// # Errors
/// Fails only if the value cannot be represented (a bug in a message type).
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, FrameError> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Deserializes a message; trailing bytes are rejected.
///
/// # Errors
/// [`FrameError::Malformed`] if the bytes are not exactly one value of type `T`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FrameError> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| FrameError::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(FrameError::Malformed(format!(
            "{} trailing bytes after the message",
            bytes.len() - used
        )));
    }
    Ok(value)
}

/// Deserializes a value from the start of `bytes`, ignoring what follows it: for reading the
/// leading fields of a larger record without decoding the rest.
///
/// # Errors
/// [`FrameError::Malformed`] if the bytes do not start with a `T`.
pub fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FrameError> {
    bincode::serde::decode_from_slice(bytes, config())
        .map(|(value, _)| value)
        .map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Reads one frame. Returns `Ok(None)` on a clean end of stream before the length prefix.
///
/// # Errors
/// [`FrameError::TooLarge`] before reading the body if the prefix exceeds `max_bytes`,
/// [`FrameError::Truncated`] if the stream ends inside the frame, [`FrameError::Io`] otherwise.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_bytes: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let Some(len) = read_frame_len(reader, max_bytes).await? else {
        return Ok(None);
    };
    read_body_growing(reader, Vec::new(), len).await.map(Some)
}

/// The first step of [`read_body_growing`]; each later step doubles what was read.
const FIRST_READ_STEP_BYTES: usize = 64 << 10;

/// Reads the rest of a frame body into `body` (which may hold its first bytes already) until it
/// holds `len` bytes, growing it as the bytes arrive: at most twice what was received plus 64 KiB
/// is allocated, so a length prefix alone (a peer that then sends nothing) costs no more than
/// that, not the whole announced length.
///
/// # Errors
/// As [`read_body`].
pub async fn read_body_growing<R: AsyncRead + Unpin>(
    reader: &mut R,
    mut body: Vec<u8>,
    len: usize,
) -> Result<Vec<u8>, FrameError> {
    while body.len() < len {
        let have = body.len();
        let step = (len - have).min(FIRST_READ_STEP_BYTES.max(have));
        body.resize(have + step, 0);
        if let Some(fresh) = body.get_mut(have..) {
            read_body(reader, fresh).await?;
        }
    }
    Ok(body)
}

/// Reads a frame's length prefix and checks it against `max_bytes`; the body stays in the stream
/// for the caller to read where it wants it. `Ok(None)` on a clean end of stream.
///
/// # Errors
/// As [`read_frame`].
pub async fn read_frame_len<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_bytes: usize,
) -> Result<Option<usize>, FrameError> {
    let mut prefix = [0u8; 4];
    let mut filled = 0;
    while filled < prefix.len() {
        let n = reader.read(&mut prefix[filled..]).await?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(FrameError::Truncated)
            };
        }
        filled += n;
    }
    let len = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
    if len > max_bytes {
        return Err(FrameError::TooLarge {
            len,
            max: max_bytes,
        });
    }
    Ok(Some(len))
}

/// Fills `buf` with the next bytes of a frame whose prefix was read.
///
/// # Errors
/// [`FrameError::Truncated`] if the stream ends first, [`FrameError::Io`] otherwise.
pub async fn read_body<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
) -> Result<(), FrameError> {
    match reader.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(FrameError::Truncated),
        Err(e) => Err(FrameError::Io(e)),
    }
}

/// Writes one frame (prefix and body) and flushes it.
///
/// # Errors
/// [`FrameError::TooLarge`] if `body` exceeds `max_bytes`, [`FrameError::Io`] if the socket fails.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    body: &[u8],
    max_bytes: usize,
) -> Result<(), FrameError> {
    if body.len() > max_bytes {
        return Err(FrameError::TooLarge {
            len: body.len(),
            max: max_bytes,
        });
    }
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge {
        len: body.len(),
        max: max_bytes,
    })?;
    write_prefixed(writer, len.to_be_bytes(), body).await?;
    writer.flush().await?;
    Ok(())
}

/// Writes `prefix` then `body` with vectored writes, so a frame that fits the socket buffer is one
/// system call (and one wake-up of the reader) rather than two.
async fn write_prefixed<W: AsyncWrite + Unpin>(
    writer: &mut W,
    prefix: [u8; 4],
    body: &[u8],
) -> std::io::Result<()> {
    let mut sent = 0;
    while sent < prefix.len() {
        let parts = [
            std::io::IoSlice::new(&prefix[sent..]),
            std::io::IoSlice::new(body),
        ];
        let n = writer.write_vectored(&parts).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        sent += n;
    }
    let body_sent = sent - prefix.len();
    writer.write_all(&body[body_sent..]).await
}

/// Reads one frame and decodes it as `T`; `Ok(None)` on a clean end of stream.
///
/// # Errors
/// As [`read_frame`] and [`decode`].
pub async fn read_message<T: DeserializeOwned, R: AsyncRead + Unpin>(
    reader: &mut R,
    max_bytes: usize,
) -> Result<Option<T>, FrameError> {
    match read_frame(reader, max_bytes).await? {
        Some(body) => decode(&body).map(Some),
        None => Ok(None),
    }
}

/// Reads the first message of a new connection (its hello), allowing it `within`.
///
/// # Errors
/// A one-line reason: no hello in time, or why the frame did not read or decode. `Ok(None)` if the
/// peer closed the connection first.
pub async fn read_hello<T: DeserializeOwned, R: AsyncRead + Unpin>(
    reader: &mut R,
    max_bytes: usize,
    within: std::time::Duration,
) -> Result<Option<T>, String> {
    tokio::time::timeout(within, read_message::<T, R>(reader, max_bytes))
        .await
        .map_err(|_| "no hello in time".to_string())?
        .map_err(|e| e.to_string())
}

/// Most bytes of frames gathered into one write by a connection's writer: about four TLS records
/// of 16 KiB, so a burst of small replies costs one system call and a few records, not one each.
pub const MAX_BATCH_BYTES: usize = 64 << 10;

/// Encodes `value` and appends it as one frame (prefix and body) to `batch`, to be written with
/// other frames at once. `batch` is unchanged on error.
///
/// # Errors
/// As [`encode`], or [`FrameError::TooLarge`] if the body exceeds `max_bytes`.
pub fn push_message<T: Serialize>(
    batch: &mut Vec<u8>,
    value: &T,
    max_bytes: usize,
) -> Result<(), FrameError> {
    push_frame(batch, &encode(value)?, max_bytes)
}

/// Appends an encoded message `body` as one frame to `batch` ([`push_message`] without the
/// encoding). `batch` is unchanged on error.
///
/// # Errors
/// [`FrameError::TooLarge`] if the body exceeds `max_bytes`.
pub fn push_frame(batch: &mut Vec<u8>, body: &[u8], max_bytes: usize) -> Result<(), FrameError> {
    let too_large = || FrameError::TooLarge {
        len: body.len(),
        max: max_bytes,
    };
    if body.len() > max_bytes {
        return Err(too_large());
    }
    let len = u32::try_from(body.len()).map_err(|_| too_large())?;
    batch.extend_from_slice(&len.to_be_bytes());
    batch.extend_from_slice(body);
    Ok(())
}

/// Encodes `value` and writes it as one frame.
///
/// # Errors
/// As [`encode`] and [`write_frame`].
pub async fn write_message<T: Serialize, W: AsyncWrite + Unpin>(
    writer: &mut W,
    value: &T,
    max_bytes: usize,
) -> Result<(), FrameError> {
    let body = encode(value)?;
    write_frame(writer, &body, max_bytes).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_clean_eof() {
        let mut buf = Vec::new();
        write_message(&mut buf, &("hello".to_string(), 7u64), 1024)
            .await
            .unwrap();
        let mut rd = &buf[..];
        let got: Option<(String, u64)> = read_message(&mut rd, 1024).await.unwrap();
        assert_eq!(got, Some(("hello".to_string(), 7)));
        let eof: Option<(String, u64)> = read_message(&mut rd, 1024).await.unwrap();
        assert_eq!(eof, None);
    }

    #[tokio::test]
    async fn frames_survive_writes_cut_into_three_byte_pieces() {
        let (mut wr, mut rd) = tokio::io::duplex(3);
        let body: Vec<u8> = (0..=255u8).collect();
        let sent = body.clone();
        let writer = tokio::spawn(async move {
            write_frame(&mut wr, &sent, 1024).await.unwrap();
            write_frame(&mut wr, b"x", 1024).await.unwrap();
        });
        assert_eq!(read_frame(&mut rd, 1024).await.unwrap(), Some(body));
        assert_eq!(
            read_frame(&mut rd, 1024).await.unwrap(),
            Some(b"x".to_vec())
        );
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn oversized_prefix_is_rejected_before_allocation() {
        let buf = u32::MAX.to_be_bytes();
        let err = read_frame(&mut &buf[..], 1024).await.unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_body_read_in_growing_steps_is_the_body_sent() {
        let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut buf = Vec::new();
        write_frame(&mut buf, &body, 1 << 20).await.unwrap();
        assert_eq!(
            read_frame(&mut &buf[..], 1 << 20).await.unwrap(),
            Some(body)
        );
        let mut short = &buf[..200_000];
        assert!(matches!(
            read_frame(&mut short, 1 << 20).await,
            Err(FrameError::Truncated)
        ));
    }

    #[tokio::test]
    async fn every_truncation_is_an_error_not_a_panic() {
        let mut buf = Vec::new();
        write_message(&mut buf, &vec![1u8; 100], 1024)
            .await
            .unwrap();
        for cut in 1..buf.len() {
            let res = read_frame(&mut &buf[..cut], 1024).await;
            assert!(matches!(res, Err(FrameError::Truncated)), "cut {cut}");
        }
    }

    #[test]
    fn garbage_bodies_never_panic() {
        // Every length of a pseudo-random byte string must decode to an error or a value.
        let mut x: u32 = 12345;
        let bytes: Vec<u8> = (0..512)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        for len in 0..bytes.len() {
            let _ = decode::<crate::tracker_msg::ClientFrame>(&bytes[..len]);
            let _ = decode::<(String, Vec<u64>)>(&bytes[..len]);
        }
    }

    #[tokio::test]
    async fn pushed_messages_read_back_in_order_and_an_oversized_one_is_left_out() {
        let mut batch = Vec::new();
        push_message(&mut batch, &("a".to_string(), 1u64), 1024).unwrap();
        let before = batch.len();
        let big = ("x".repeat(2000), 2u64);
        assert!(matches!(
            push_message(&mut batch, &big, 1024),
            Err(FrameError::TooLarge { .. })
        ));
        assert_eq!(
            batch.len(),
            before,
            "a refused message leaves the batch as it was"
        );
        push_message(&mut batch, &("b".to_string(), 3u64), 1024).unwrap();
        let mut rd = batch.as_slice();
        let first: Option<(String, u64)> = read_message(&mut rd, 1024).await.unwrap();
        let second: Option<(String, u64)> = read_message(&mut rd, 1024).await.unwrap();
        let end: Option<(String, u64)> = read_message(&mut rd, 1024).await.unwrap();
        assert_eq!(first, Some(("a".to_string(), 1)));
        assert_eq!(second, Some(("b".to_string(), 3)));
        assert_eq!(end, None);
    }
}
