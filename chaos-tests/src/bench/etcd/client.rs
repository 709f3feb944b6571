//! A put-only client of etcd's JSON gateway (`POST /v3/kv/put` over one kept-alive HTTP/1.1
//! connection), the load generator of `bench etcd`. It speaks only what that one call needs:
//! a request with a `Content-Length` body, and an answer framed by `Content-Length`, whose head
//! and body are bounded; anything else is an error. A load generator this small costs the
//! machine less than a general HTTP client would, so etcd gets at least as much of it as ours.

use std::io;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest answer head accepted.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Largest answer body accepted (a put's answer is about 110 bytes).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a put failed.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// The socket failed.
    #[error("etcd connection: {0}")]
    Io(#[from] io::Error),
    /// The answer was not the HTTP this client reads.
    #[error("etcd answer not understood: {0}")]
    Protocol(String),
    /// etcd answered, but not 200.
    #[error("etcd answered HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
}

/// One connection to one etcd member, opened on first use and again after an error.
pub struct EtcdClient {
    /// `host:port` of the member's client URL.
    addr: String,
    /// The kept-alive connection, if open.
    stream: Option<TcpStream>,
    /// Bytes read past the last answer (none in practice: one request in flight).
    buf: Vec<u8>,
}

impl EtcdClient {
    /// A client of the member at `addr` (`host:port`); nothing is opened yet.
    pub fn new(addr: String) -> Self {
        EtcdClient {
            addr,
            stream: None,
            buf: Vec::new(),
        }
    }

    /// Puts `value` under `key` and waits for etcd's acknowledgement (a committed write).
    ///
    /// # Errors
    /// [`PutError`]; the connection is dropped and reopened by the next put.
    pub async fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), PutError> {
        let result = self.put_once(key, value).await;
        if result.is_err() {
            self.stream = None;
            self.buf.clear();
        }
        result
    }

    async fn put_once(&mut self, key: &[u8], value: &[u8]) -> Result<(), PutError> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(PutError::Protocol("no connection".into()));
        };
        let body = format!(
            r#"{{"key":"{}","value":"{}"}}"#,
            STANDARD.encode(key),
            STANDARD.encode(value)
        );
        let request = format!(
            "POST /v3/kv/put HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let (status, body) = read_answer(stream, &mut self.buf).await?;
        if status != 200 {
            return Err(PutError::Status {
                status,
                body: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            });
        }
        Ok(())
    }
}

/// Reads one answer: its status code and body.
async fn read_answer(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> Result<(u16, Vec<u8>), PutError> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(PutError::Protocol(format!(
                "head over {MAX_HEAD_BYTES} bytes"
            )));
        }
        read_more(stream, buf).await?;
    };
    let (status, length) = parse_head(&buf[..head_end])?;
    if length > MAX_BODY_BYTES {
        return Err(PutError::Protocol(format!("body of {length} bytes")));
    }
    while buf.len() < head_end + length {
        read_more(stream, buf).await?;
    }
    let body = buf[head_end..head_end + length].to_vec();
    buf.drain(..head_end + length);
    Ok((status, body))
}

/// Appends what the socket has to `buf`; a closed socket is an error.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(), PutError> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(PutError::Io(io::ErrorKind::UnexpectedEof.into()));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// The status code and `Content-Length` of an answer head.
fn parse_head(head: &[u8]) -> Result<(u16, usize), PutError> {
    let text =
        std::str::from_utf8(head).map_err(|_| PutError::Protocol("head not UTF-8".into()))?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| PutError::Protocol("no status line".into()))?;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(PutError::Protocol(format!(
                "transfer-encoding {}",
                value.trim()
            )));
        }
    }
    let length = length.ok_or_else(|| PutError::Protocol("no Content-Length".into()))?;
    Ok((status, length))
}

/// Index of the first `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_gives_its_status_and_length() {
        let head =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 111\r\n\r\n";
        assert_eq!(parse_head(head).ok().map(|x| (x.0, x.1)), Some((200, 111)));
    }

    #[test]
    fn a_head_without_length_or_with_chunks_is_refused() {
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(parse_head(chunked).is_err());
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }
}
