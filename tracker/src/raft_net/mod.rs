//! Raft RPCs between tracker nodes: length-prefixed bincode frames over mutual TLS after a hello
//! ([`msg`]), the outgoing side openraft drives ([`client`]) and the listener ([`server`]).

pub mod client;
pub mod msg;
pub mod server;

pub use client::NetworkFactory;
