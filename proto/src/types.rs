//! Plain value types shared by the tracker messages and the download tickets, so neither module
//! imports the other for them.

/// SHA-1 digest bytes (of a chunk or of a whole file).
pub type Sha1Digest = [u8; 20];
