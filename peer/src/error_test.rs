//! Tests of the error types: which source errors are retried, and user-facing messages.

use super::*;

#[test]
fn network_trouble_is_retried_and_refusals_are_not() {
    let retried = [
        SourceError::ConnectTimedOut,
        SourceError::Io(std::io::ErrorKind::ConnectionRefused.into()),
        SourceError::Frame(FrameError::Truncated),
        SourceError::Closed,
        SourceError::StoppedAnswering,
        SourceError::WrongChunkLength {
            index: 1,
            len: 2,
            expected: Some(3),
        },
        SourceError::Busy,
    ];
    assert!(retried.iter().all(SourceError::is_worth_retrying));
    let final_ = [
        SourceError::Refused("no".into()),
        SourceError::BadHandshake,
        SourceError::Unrequested { index: 4 },
        SourceError::NotShared,
        SourceError::HoldsNothingNeeded,
        SourceError::DroppedForBadData,
    ];
    assert!(!final_.iter().any(SourceError::is_worth_retrying));
}

#[test]
fn user_messages_say_what_to_do() {
    let exists = DownloadError::DestinationExists {
        path: "/tmp/x".into(),
    };
    assert_eq!(
        exists.to_string(),
        "/tmp/x already exists: choose another destination"
    );
    let name = DownloadError::NameNotAllowed { name: "..".into() };
    assert!(name.to_string().contains("is not allowed"), "{name}");
    let stalled = DownloadError::Stalled {
        after: Duration::from_secs(120),
    };
    assert!(
        stalled
            .to_string()
            .starts_with("no progress for 120s: no online peer holds"),
        "{stalled}"
    );
    let home = DownloadError::from(HomeError::NotLoggedIn);
    assert!(home.to_string().contains("peer login"), "{home}");
}
