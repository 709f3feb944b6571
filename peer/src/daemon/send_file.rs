//! Sends a chunk of a seeded file to a peer with `sendfile`: the bytes go from the page cache to
//! the socket without passing through user space (a copy out of the page cache and a copy into
//! the socket saved). Blocking, since the file may have to be read from the disk and the socket
//! may be full: callers run it on the blocking pool with a duplicate of the socket's descriptor,
//! while nothing else writes to that socket.

use std::fs::File;
use std::io::{Error, ErrorKind};
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::{send, SendFlags};

/// A socket that stays full this long means the peer stopped reading.
const STALL_LIMIT: Duration = Duration::from_secs(20);

/// Sends `header`, then `len` bytes of `file` from `offset`.
///
/// # Errors
/// Socket errors, a peer that stops reading for 20 s, or a file shorter than the
/// chunk.
pub fn send_chunk(
    sock: &OwnedFd,
    file: &File,
    header: &[u8],
    offset: u64,
    len: usize,
) -> std::io::Result<()> {
    let mut sent = 0usize;
    while sent < header.len() {
        let rest = header.get(sent..).unwrap_or(&[]);
        // MORE: the header waits for the data instead of leaving as a packet of its own.
        match send(sock, rest, SendFlags::MORE | SendFlags::NOSIGNAL) {
            Ok(n) => sent += n,
            Err(Errno::AGAIN) => wait_writable(sock)?,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let end = offset + len as u64;
    let mut at = offset;
    while at < end {
        let want = usize::try_from(end - at).unwrap_or(usize::MAX);
        match rustix::fs::sendfile(sock, file, Some(&mut at), want) {
            Ok(0) => {
                return Err(Error::new(
                    ErrorKind::UnexpectedEof,
                    "the file is shorter than the chunk",
                ))
            }
            Ok(_) => {}
            Err(Errno::AGAIN) => wait_writable(sock)?,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn wait_writable(sock: &OwnedFd) -> std::io::Result<()> {
    let mut fds = [PollFd::new(sock, PollFlags::OUT)];
    let limit = Timespec {
        tv_sec: i64::try_from(STALL_LIMIT.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: 0,
    };
    match poll(&mut fds, Some(&limit)) {
        Ok(0) => Err(Error::new(ErrorKind::TimedOut, "the peer stopped reading")),
        Ok(_) | Err(Errno::INTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsFd;

    #[test]
    fn sends_header_then_the_file_range_through_a_full_socket() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..24_000_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let file = File::open(&p).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let sock = server.as_fd().try_clone_to_owned().unwrap();
        // A reader that starts late, so the socket fills (more than the socket buffers hold)
        // and the sender has to wait.
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let mut got = Vec::new();
            let mut c = client;
            c.read_to_end(&mut got).unwrap();
            got
        });
        send_chunk(&sock, &file, b"HEAD", 1000, 20_000_000).unwrap();
        let short = send_chunk(&sock, &file, b"", 23_900_000, 200_000);
        assert_eq!(short.unwrap_err().kind(), ErrorKind::UnexpectedEof);
        drop(sock);
        drop(server);
        let got = reader.join().unwrap();
        assert_eq!(&got[..4], b"HEAD");
        assert_eq!(&got[4..4 + 20_000_000], &data[1000..20_001_000]);
        assert_eq!(&got[4 + 20_000_000..], &data[23_900_000..]);
    }
}
