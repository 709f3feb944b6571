//! Leader elections beyond openraft's own timer: proof that a leader is alive
//! ([`leader_contact`]), an election as soon as a crashed leader's lease runs out
//! ([`leader_link`]), and a way out of split-vote ties ([`watchdog`]).

pub mod leader_contact;
pub mod leader_link;
pub mod watchdog;
