//! Fault injection and benchmarks against real tracker processes and peer daemons.
//!
//! # Layout
//! - [`procs`]: running this binary's embedded `node` / `peer` entry points as separate processes.
//! - [`history`], [`workload`], [`run`]: chaos runs (faults under load, then the checkers).
//! - [`seen_groups`], [`cross_client`]: what each listing showed, and the checker that it shows
//!   every group any client had acknowledged before it was sent.
//! - [`timeline`]: the operations and faults around a violation, for the report.
//! - [`client_ops`], [`state_check`]: the client-library writes beyond group creation (join,
//!   accept, file registration, chunk reports) and their final-state checker.
//! - [`peer_workload`]: real peer daemons downloading real files during the faults.
//! - [`scenario`], [`faults`], [`rejoin`]: the fault schedules and the faults a run injects.
//! - [`proxy`]: the fault-injecting TCP proxy in front of each node's Raft port.
//! - [`bench`]: the benchmark scenarios of the `bench` binary.
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bench;
pub mod client_ops;
pub mod cross_client;
pub mod faults;
pub mod history;
pub mod peer_workload;
pub mod procs;
pub mod proxy;
pub mod rejoin;
pub mod run;
pub mod scenario;
pub mod seen_groups;
pub mod state_check;
pub mod timeline;
pub mod workload;
