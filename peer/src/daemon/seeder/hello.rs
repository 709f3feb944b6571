//! The seeder's side of the handshake, before the download ticket is checked: everything a
//! stranger can make the seeder do. The TLS handshake, then the hello, are done within
//! [`HELLO_TIMEOUT`] of the connection's arrival (the caller's deadline); the hello is at most
//! [`MAX_HELLO_FRAME_BYTES`] (so nothing sized by the peer is allocated beyond that; the ticket
//! inside decodes within the same bound), and the ticket's Ed25519 check runs on the blocking
//! pool, at most [`TICKET_CHECKS`] at once for the whole daemon; a connection waiting for a
//! check slot still has to be done by the deadline.

use std::time::Duration;

use tokio::io::AsyncRead;
use tokio::sync::Semaphore;

use proto::frame::read_frame;
use proto::peer_msg::{PeerFrame, MAX_HELLO_FRAME_BYTES, PEER_VERSION};
use proto::ticket::{SignedTicket, Ticket};

use crate::daemon::wall_ms;
use crate::error::ServeError;

/// A connection completes its TLS handshake, sends its hello and has its ticket checked within
/// this long, or is closed.
pub(super) const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Ticket checks running at once on the blocking pool, across every connection.
const TICKET_CHECKS: usize = 4;
/// The slots of [`TICKET_CHECKS`].
static TICKET_SLOTS: Semaphore = Semaphore::const_new(TICKET_CHECKS);

/// Reads the hello and checks its ticket against `cluster_key`, all by `deadline` (the
/// connection's arrival plus [`HELLO_TIMEOUT`]). `Ok(Err(why))`: the peer is to be refused with
/// `why`.
///
/// # Errors
/// [`ServeError::HelloTimeout`], [`ServeError::ClosedBeforeHello`], or the frame error (an
/// oversized hello fails on its length prefix, before anything is allocated for it).
pub(super) async fn accept<R: AsyncRead + Unpin>(
    rd: &mut R,
    cluster_key: [u8; 32],
    deadline: tokio::time::Instant,
) -> Result<Result<Ticket, String>, ServeError> {
    tokio::time::timeout_at(deadline, read_and_check(rd, cluster_key))
        .await
        .map_err(|_| ServeError::HelloTimeout)?
}

async fn read_and_check<R: AsyncRead + Unpin>(
    rd: &mut R,
    cluster_key: [u8; 32],
) -> Result<Result<Ticket, String>, ServeError> {
    let hello = read_frame(rd, MAX_HELLO_FRAME_BYTES)
        .await?
        .ok_or(ServeError::ClosedBeforeHello)?;
    let (version, ticket) = match PeerFrame::decode(hello) {
        Ok(PeerFrame::Hello {
            version, ticket, ..
        }) => (version, ticket),
        _ => return Ok(Err("the first frame must be a hello".into())),
    };
    if version != PEER_VERSION {
        return Ok(Err(format!("unsupported peer protocol version {version}")));
    }
    Ok(check_ticket(ticket, cluster_key)
        .await?
        .map_err(|e| format!("ticket refused: {e}")))
}

/// Verifies `ticket` on the blocking pool once a check slot is free.
async fn check_ticket(
    ticket: SignedTicket,
    cluster_key: [u8; 32],
) -> Result<Result<Ticket, proto::ticket::TicketError>, ServeError> {
    let _slot = TICKET_SLOTS.acquire().await?;
    Ok(tokio::task::spawn_blocking(move || ticket.verify(&cluster_key, wall_ms())).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::ticket::public_key_of;
    use tokio::io::AsyncWriteExt;

    const SECRET: [u8; 32] = [7; 32];

    fn hello_bytes(ticket: SignedTicket) -> Vec<u8> {
        let body = PeerFrame::Hello {
            version: PEER_VERSION,
            peer_id: 1,
            ticket,
        }
        .encode()
        .unwrap();
        let mut wire = (body.len() as u32).to_be_bytes().to_vec();
        wire.extend_from_slice(&body);
        wire
    }

    /// The deadline of a connection arriving now.
    fn within() -> tokio::time::Instant {
        tokio::time::Instant::now() + HELLO_TIMEOUT
    }

    fn ticket() -> Ticket {
        Ticket {
            username: "u".into(),
            group: "g".into(),
            file_name: "f".into(),
            file_hash: [1; 20],
            not_before_ms: 0,
            expires_at_ms: u64::MAX,
            downloader_key: [2; 32],
        }
    }

    #[tokio::test]
    async fn a_good_ticket_is_accepted_and_a_forged_one_refused() {
        let key = public_key_of(&SECRET);
        let good = SignedTicket::sign(&ticket(), &SECRET).unwrap();
        let mut rd = &hello_bytes(good)[..];
        assert_eq!(accept(&mut rd, key, within()).await.unwrap(), Ok(ticket()));
        let forged = SignedTicket::sign(&ticket(), &[8; 32]).unwrap();
        let mut rd = &hello_bytes(forged)[..];
        let why = accept(&mut rd, key, within()).await.unwrap().unwrap_err();
        assert!(why.contains("signature"), "{why}");
        let mut rd = &[0u8, 0, 0, 5, 2, 0, 0, 0, 1][..];
        let why = accept(&mut rd, key, within()).await.unwrap().unwrap_err();
        assert_eq!(why, "the first frame must be a hello");
    }

    #[tokio::test]
    async fn an_oversized_hello_is_refused_on_its_length_alone() {
        // The prefix claims 1 MiB; no body follows, so reading any of it would fail otherwise.
        let mut rd = &(1u32 << 20).to_be_bytes()[..];
        match accept(&mut rd, public_key_of(&SECRET), within()).await {
            Err(ServeError::Frame(proto::frame::FrameError::TooLarge { max, .. })) => {
                assert_eq!(max, MAX_HELLO_FRAME_BYTES)
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_or_slow_peer_is_dropped_after_the_hello_timeout() {
        let (mut ours, mut theirs) = tokio::io::duplex(1024);
        let started = tokio::time::Instant::now();
        let silent = accept(&mut ours, public_key_of(&SECRET), within()).await;
        assert!(
            matches!(silent, Err(ServeError::HelloTimeout)),
            "{silent:?}"
        );
        assert_eq!(started.elapsed(), HELLO_TIMEOUT);
        // Half a hello, then nothing: the same.
        let wire = hello_bytes(SignedTicket::sign(&ticket(), &SECRET).unwrap());
        theirs.write_all(&wire[..wire.len() / 2]).await.unwrap();
        let slow = accept(&mut ours, public_key_of(&SECRET), within()).await;
        assert!(matches!(slow, Err(ServeError::HelloTimeout)), "{slow:?}");
    }
}
