//! Tracker operations that both the command line ([`crate::cli`]) and the daemon's HTTP API
//! (`crate::daemon::http`) perform: accounts and sessions ([`account`]), groups ([`groups`]),
//! file lists ([`files`]), finding files by SHA-1 ([`find`]), the peers of a file and of a group ([`swarm`]). Each returns typed results; the callers print or serialize them, and
//! their errors ([`crate::error::TrackerOpError`]) carry the one-line messages the CLI prints.

pub mod account;
pub mod files;
pub mod find;
pub mod groups;
pub mod swarm;
