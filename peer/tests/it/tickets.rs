//! Seeders serve only the holder of a valid ticket, over TLS, presenting the key the ticket names:
//! a forged ticket, one for another file, or a good ticket presented with another key (a copied
//! ticket) is refused; a plaintext hello gets no answer; non-members cannot get a ticket at all,
//! and a ticket is issued only for one of the caller's own peers, naming its registered key.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use peer::home::Home;
use peer::identity::Identity;
use proto::frame::read_frame;
use proto::peer_msg::{PeerFrame, MAX_PEER_FRAME_BYTES, PEER_VERSION};
use proto::ticket::{SignedTicket, Ticket};
use proto::tracker_msg::{PageRequest, ReadRequest, Response, SessionToken, WriteOp};
use proto::{ApiError, TrackerClient};

use super::util::{group_with, random_file, Peer};

/// A key pair of its own, kept in a home at `dir` (as a daemon's would be).
pub fn identity_at(dir: &Path) -> Identity {
    peer::identity::load_or_create(&Home::open(dir).unwrap()).unwrap()
}

/// Opens TLS to the seeder at `addr` as `me`, pinned to `seeder_key`, sends a hello with
/// `ticket` and returns the seeder's first frame.
pub(super) async fn handshake(
    me: &Identity,
    addr: &str,
    seeder_key: [u8; 32],
    ticket: SignedTicket,
) -> PeerFrame {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = me.tls.connect(seeder_key, tcp).await.unwrap();
    let (rd, mut wr) = tokio::io::split(tls);
    let mut rd = BufReader::new(rd);
    PeerFrame::Hello {
        version: PEER_VERSION,
        peer_id: 1,
        ticket,
    }
    .write_to(&mut wr)
    .await
    .unwrap();
    let body = tokio::time::timeout(
        Duration::from_secs(10),
        read_frame(&mut rd, MAX_PEER_FRAME_BYTES),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    PeerFrame::decode(body).unwrap()
}

/// The sources of `g/secret.bin` and the ticket, asking for peer `peer_id`'s.
async fn sources(
    client: &TrackerClient,
    token: SessionToken,
    peer_id: Option<u64>,
) -> Result<(Vec<proto::tracker_msg::Source>, Option<SignedTicket>), ApiError> {
    match client
        .read(ReadRequest::FileSources {
            token,
            group: "g".into(),
            name: "secret.bin".into(),
            peer_id,
            include_offline: false,
            page: PageRequest::default(),
        })
        .await?
    {
        Response::Sources {
            sources, ticket, ..
        } => Ok((sources, ticket)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeders_refuse_forged_foreign_copied_and_plaintext_tickets() {
    let root = tempfile::tempdir().unwrap();
    let (cluster, mut alice, _) = group_with(root.path(), &[]).await;
    alice.start_daemon(&[]).await;
    let f = root.path().join("secret.bin");
    random_file(&f, 100_000, 5);
    alice.ok(&["upload", "g", f.to_str().unwrap()]);
    let alice_key = identity_at(&alice.home).public_key;

    // A peer of alice's with a key of its own (this test's side of the connections).
    let client = TrackerClient::new(cluster.user_config()).unwrap();
    let token = Peer::token_of(&alice);
    let mine = identity_at(&root.path().join("tool"));
    let my_peer_id = 777;
    client
        .write(WriteOp::RegisterPeer {
            token,
            peer_id: my_peer_id,
            addr: "127.0.0.1:9".into(),
            peer_key: mine.public_key,
        })
        .await
        .unwrap();

    // Without a peer id: the sources, with the daemon's registered key, and no ticket.
    let (listed, none) = sources(&client, token, None).await.unwrap();
    assert!(none.is_none());
    let seeder = listed
        .iter()
        .find(|s| s.peer_id == alice.peer_id())
        .unwrap();
    assert_eq!(seeder.peer_key, alice_key);
    let addr = seeder.addr.clone();
    // For a peer id that is not one of alice's: refused.
    let refused = sources(&client, token, Some(4243)).await.unwrap_err();
    assert!(
        matches!(refused, ApiError::PeerNotFound(4243)),
        "{refused:?}"
    );
    // For her own peer: a ticket naming that peer's registered key.
    let (_, good) = sources(&client, token, Some(my_peer_id)).await.unwrap();
    let good = good.unwrap();
    let named: Ticket = proto::frame::decode(&good.ticket_bytes).unwrap();
    assert_eq!(named.downloader_key, mine.public_key);
    let eve = Peer::signup(root.path(), "eve", &cluster);
    let err = eve.fails(&["files", "g"]);
    assert!(err.contains("not a member"), "{err}");

    assert_eq!(
        handshake(&mine, &addr, alice_key, good.clone()).await,
        PeerFrame::Welcome
    );

    // The same ticket presented by someone who copied it, with a key of their own.
    let thief = identity_at(&root.path().join("thief"));
    match handshake(&thief, &addr, alice_key, good.clone()).await {
        PeerFrame::Refused(why) => assert!(why.contains("another peer's key"), "{why}"),
        other => panic!("a copied ticket was accepted: {other:?}"),
    }

    let garbage = SignedTicket {
        ticket_bytes: vec![1, 2, 3],
        signature: vec![0; 64],
    };
    assert!(matches!(
        handshake(&mine, &addr, alice_key, garbage).await,
        PeerFrame::Refused(_)
    ));

    let forged_ticket = Ticket {
        username: "eve".into(),
        group: "g".into(),
        file_name: "secret.bin".into(),
        file_hash: [0; 20],
        not_before_ms: 0,
        expires_at_ms: u64::MAX,
        downloader_key: thief.public_key,
    };
    let forged = SignedTicket::sign(&forged_ticket, &[9u8; 32]).unwrap();
    match handshake(&thief, &addr, alice_key, forged).await {
        PeerFrame::Refused(why) => assert!(why.contains("signature"), "{why}"),
        other => panic!("forged ticket accepted: {other:?}"),
    }

    // A valid signature over another file's ticket does not open this one.
    let mut tampered = good.clone();
    tampered.ticket_bytes[0] ^= 1;
    assert!(matches!(
        handshake(&mine, &addr, alice_key, tampered).await,
        PeerFrame::Refused(_)
    ));

    // The good ticket in a plaintext hello: the handshake fails, no welcome comes back.
    let mut plain = TcpStream::connect(&addr).await.unwrap();
    let body = PeerFrame::Hello {
        version: PEER_VERSION,
        peer_id: 1,
        ticket: good,
    }
    .encode()
    .unwrap();
    let mut wire = (body.len() as u32).to_be_bytes().to_vec();
    wire.extend_from_slice(&body);
    plain.write_all(&wire).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer))
        .await
        .expect("the seeder closes a plaintext connection at once")
        .ok();
    let welcome = [0, 0, 0, 1, 0x81];
    assert!(
        !answer.windows(welcome.len()).any(|w| w == welcome),
        "plaintext got a welcome: {answer:?}"
    );
}
