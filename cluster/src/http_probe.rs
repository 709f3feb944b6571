//! A minimal HTTP/1.1 GET client for a tracker's HTTP surface (`--http-addr`): one request per
//! connection, the reply bounded in size and time. For the tests and the benchmarks' scraper;
//! operators use curl or Prometheus.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest reply read (status line, headers and body).
pub const MAX_REPLY_BYTES: usize = 8 << 20;

/// One HTTP reply.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: String,
}

impl HttpReply {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What went wrong with a probe.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Connecting, writing or reading failed.
    #[error("HTTP request to {addr} failed: {source}")]
    Io {
        /// The address.
        addr: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// No complete reply within the time limit.
    #[error("no HTTP reply from {0} in time")]
    Timeout(String),
    /// The reply is not HTTP/1.1 as expected, or too large.
    #[error("bad HTTP reply from {addr}: {why}")]
    Malformed {
        /// The address.
        addr: String,
        /// What is wrong.
        why: String,
    },
}

/// `GET path` on `addr`, within `timeout`.
///
/// # Errors
/// [`ProbeError`].
pub async fn get(addr: &str, path: &str, timeout: Duration) -> Result<HttpReply, ProbeError> {
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    request(addr, head.as_bytes(), timeout).await
}

/// Sends `raw` bytes on a new connection to `addr` and reads the reply until the server closes.
///
/// # Errors
/// [`ProbeError`].
pub async fn request(addr: &str, raw: &[u8], timeout: Duration) -> Result<HttpReply, ProbeError> {
    let io = |source| ProbeError::Io {
        addr: addr.to_string(),
        source,
    };
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.map_err(io)?;
        stream.write_all(raw).await.map_err(io)?;
        let mut bytes = Vec::new();
        let mut limited =
            (&mut stream).take(u64::try_from(MAX_REPLY_BYTES).unwrap_or(u64::MAX) + 1);
        limited.read_to_end(&mut bytes).await.map_err(io)?;
        Ok::<_, ProbeError>(bytes)
    };
    let bytes = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| ProbeError::Timeout(addr.to_string()))??;
    parse(&bytes).map_err(|why| ProbeError::Malformed {
        addr: addr.to_string(),
        why,
    })
}

/// Parses a whole reply.
fn parse(bytes: &[u8]) -> Result<HttpReply, String> {
    if bytes.len() > MAX_REPLY_BYTES {
        return Err(format!("more than {MAX_REPLY_BYTES} bytes"));
    }
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let (head, rest) = bytes.split_at(split);
    let body = rest.get(4..).unwrap_or_default();
    let head = std::str::from_utf8(head).map_err(|e| e.to_string())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("empty reply")?;
    let mut parts = status_line.splitn(3, ' ');
    if parts.next() != Some("HTTP/1.1") {
        return Err(format!("not an HTTP/1.1 status line: {status_line:?}"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status code in {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok(HttpReply {
        status,
        headers,
        body: String::from_utf8(body).map_err(|e| e.to_string())?,
    })
}

/// Joins a chunked body's chunks.
fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size without end")?;
        let size_text =
            std::str::from_utf8(body.get(..end).unwrap_or_default()).map_err(|e| e.to_string())?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|e| e.to_string())?;
        let data = body
            .get(end + 2..end + 2 + size)
            .ok_or("chunk shorter than its size")?;
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data);
        body = body
            .get(end + 2 + size + 2..)
            .ok_or("chunk without its end")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_replies() {
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n").unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
        assert_eq!(r.header("content-length"), Some("3"));
        let r = parse(
            b"HTTP/1.1 503 X\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_str()), (503, "abc"));
        for bad in [
            &b""[..],
            b"HTTP/1.1 200",
            b"HTTP/1.0 200 OK\r\n\r\n",
            b"HTTP/1.1 x OK\r\n\r\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab").is_err());
    }
}
