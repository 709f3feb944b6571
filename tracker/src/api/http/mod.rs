//! The node's HTTP surface (`--http-addr`), for operators and monitoring: `GET /metrics`
//! (Prometheus text, [`metrics`]), `GET /livez` and `GET /readyz` ([`health`]), `GET /v1/status`
//! (JSON, [`status`]) and `GET /` (an HTML page, [`page`]); [`server`] is the bounded listener,
//! [`process`] reads this process's resource use from `/proc`.
//!
//! Plain HTTP without authentication: nothing here is secret (no user, group or file name, no
//! token; numbers, roles and node addresses only), but it tells how the cluster is doing, so bind
//! it to a loopback or private address, or put it behind the operator's proxy.

pub mod health;
pub mod metrics;
pub mod page;
pub mod process;
pub mod server;
pub mod status;

use std::sync::Arc;

use proto::conn_limits::ConnCounter;

use crate::app::App;

pub use server::serve;

/// What the HTTP handlers share.
pub struct HttpContext {
    /// The node's handler state (Raft handle, config, committed state, leader contact).
    pub app: Arc<App>,
    /// The client API listener's connection counter (open connections, refusals).
    pub api_caps: ConnCounter,
    /// The counted totals of the state, cached.
    pub counts: status::CountsCache,
}
