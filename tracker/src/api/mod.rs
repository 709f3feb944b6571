//! The client API: the listener and its connections ([`server`]), then one file per kind of
//! request: [`write`](mod@write) (replicated writes), [`login`] (a write that first checks a password),
//! [`read`] (linearizable queries), [`heartbeat`] (a peer's heartbeat: a read that may propose a
//! write), [`last_seen`] (the leader's last-seen times added to the listings of peers) and [`admin`] (status, membership and, through [`quotas`], [`members`] and
//! [`snapshot`], the quotas, the member list and snapshot exports). [`token`] parses session
//! tokens. [`http`] is the operators' HTTP surface (metrics, health, status).
//!
//! Handlers go through [`crate::app`] and the domain's queries; none of them names the store.

pub mod admin;
pub mod heartbeat;
pub mod http;
pub mod last_seen;
pub mod login;
pub mod members;
pub mod quotas;
pub mod read;
pub mod server;
pub mod snapshot;
pub mod token;
pub mod write;

pub use server::serve;
