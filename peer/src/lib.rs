//! The peer: a command-line tool for accounts, groups and files, and the daemon that serves
//! verified chunks and downloads files in parallel from many seeders.
//!
//! # Layout
//! - [`home`]: the per-user home directory (session, peer id, socket, shares, downloads).
//! - [`hashing`]: SHA-1 manifests of files and chunk checks.
//! - [`control`]: the daemon's local control protocol (a unix socket in the home, owner-only).
//! - [`rate_limit`]: upload and download caps.
//! - [`scheduler`]: which chunk to ask which peer for (rarest first, end-game), no I/O.
//! - [`daemon`]: seeding, downloading, reporting, heartbeats.
//! - [`cli`]: the subcommands.
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cli;
pub mod control;
pub mod daemon;
pub mod hashing;
pub mod home;
pub mod rate_limit;
pub mod scheduler;
