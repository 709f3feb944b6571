//! Fault injection and benchmarks against real tracker processes and peer daemons.
//!
//! # Layout
//! - [`procs`]: running this binary's embedded `node` / `peer` entry points as separate processes.
//! - [`history`], [`workload`], [`run`]: chaos runs (faults under load, then the checkers).
//! - [`bench`]: the benchmark scenarios of the `bench` binary.
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bench;
pub mod history;
pub mod procs;
pub mod run;
pub mod workload;
