//! Seeders serve only holders of a valid ticket: no ticket, a forged one, or one for another file
//! is refused; non-members cannot get a ticket at all.

use std::time::Duration;

use tokio::io::BufReader;
use tokio::net::TcpStream;

use proto::frame::read_frame;
use proto::peer_msg::{PeerFrame, MAX_PEER_FRAME_BYTES, PEER_VERSION};
use proto::ticket::{SignedTicket, Ticket};
use proto::tracker_msg::{PageRequest, ReadRequest, Response};
use proto::TrackerClient;

use super::util::{group_with, random_file, Peer};

async fn handshake(addr: &str, ticket: SignedTicket) -> PeerFrame {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (rd, mut wr) = stream.into_split();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeders_refuse_missing_forged_and_foreign_tickets() {
    let root = tempfile::tempdir().unwrap();
    let (cluster, mut alice, _) = group_with(root.path(), &[]).await;
    alice.start_daemon(&[]).await;
    let f = root.path().join("secret.bin");
    random_file(&f, 100_000, 5);
    alice.ok(&["upload", "g", f.to_str().unwrap()]);

    // A member gets sources and a valid ticket; a non-member gets a refusal from the tracker.
    let client = TrackerClient::new(cluster.user_config()).unwrap();
    let token = Peer::token_of(&alice);
    let (addr, good) = match client
        .read(ReadRequest::FileSources {
            token,
            group: "g".into(),
            name: "secret.bin".into(),
            page: PageRequest::default(),
        })
        .await
        .unwrap()
    {
        Response::Sources {
            sources,
            ticket: Some(t),
            ..
        } => (sources[0].addr.clone(), t),
        other => panic!("{other:?}"),
    };
    let eve = Peer::signup(root.path(), "eve", &cluster);
    let err = eve.fails(&["files", "g"]);
    assert!(err.contains("not a member"), "{err}");

    assert_eq!(handshake(&addr, good.clone()).await, PeerFrame::Welcome);

    let garbage = SignedTicket {
        ticket_bytes: vec![1, 2, 3],
        signature: vec![0; 64],
    };
    assert!(matches!(
        handshake(&addr, garbage).await,
        PeerFrame::Refused(_)
    ));

    let forged_ticket = Ticket {
        username: "eve".into(),
        group: "g".into(),
        file_name: "secret.bin".into(),
        file_hash: [0; 20],
        not_before_ms: 0,
        expires_at_ms: u64::MAX,
    };
    let forged = SignedTicket::sign(&forged_ticket, &[9u8; 32]).unwrap();
    match handshake(&addr, forged).await {
        PeerFrame::Refused(why) => assert!(why.contains("signature"), "{why}"),
        other => panic!("forged ticket accepted: {other:?}"),
    }

    // A valid signature over another file's ticket does not open this one.
    let mut tampered = good;
    tampered.ticket_bytes[0] ^= 1;
    assert!(matches!(
        handshake(&addr, tampered).await,
        PeerFrame::Refused(_)
    ));
}
