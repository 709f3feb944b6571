//! Fault injection and benchmarks against real tracker processes and peer daemons.
//!
//! # Layout
//! - [`procs`]: running this binary's embedded `node` / `peer` entry points as separate processes.
//! - [`history`], [`workload`], [`run`]: chaos runs (faults under load, then the checkers).
//! - [`faults`], [`rejoin`]: the faults a run injects.
//! - [`proxy`]: the fault-injecting TCP proxy in front of each node's Raft port.
//! - [`bench`]: the benchmark scenarios of the `bench` binary.
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bench;
pub mod faults;
pub mod history;
pub mod procs;
pub mod proxy;
pub mod rejoin;
pub mod run;
pub mod workload;
