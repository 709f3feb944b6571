//! Raft RPCs between tracker nodes: length-prefixed bincode frames over mutual TLS after a hello
//! ([`msg`]), the outgoing side openraft drives ([`client`]), the listener ([`server`]), and the
//! pre-vote asked before a campaign ([`pre_vote`]).

pub mod client;
pub mod msg;
pub mod pre_vote;
pub mod server;

pub use client::NetworkFactory;
