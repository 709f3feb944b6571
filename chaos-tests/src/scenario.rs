//! What a chaos run injects: the fault schedules ([`Scenario`]) and the record of one injected
//! fault ([`FaultRecord`]), shared by the injector ([`crate::faults`]), the run ([`crate::run`])
//! and the violation context ([`crate::timeline`]).

use serde::Serialize;

/// The fault schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
pub enum Scenario {
    /// SIGKILL the leader every interval; restart it shortly after.
    LeaderKills,
    /// SIGKILL a random node every interval; restart it shortly after.
    RandomKills,
    /// SIGSTOP the leader long enough for a new election, then SIGCONT it.
    PauseLeader,
    /// SIGKILL the leader and start it again at once, before the followers' election timeout,
    /// so it comes back as leader of the same term.
    RestartLeader,
    /// SIGKILL every node at once, then restart them all on their data.
    WholeClusterRestart,
    /// Cut the leader off from the others (both ways, or one way) for a few election timeouts,
    /// then heal; a write sent straight to it meanwhile must not be acknowledged.
    PartitionLeader,
    /// SIGKILL a node (usually a follower), delete its data, remove it from the voters, add it
    /// back as a learner (it catches up by snapshot), then make it a voter again.
    WipeAndRejoin,
    /// A random mix of the above, plus slow links (20-100 ms on random links for a while).
    Mixed,
}

impl Scenario {
    /// Extra tracker flags: frequent snapshots and a short log where a wiped node must catch up
    /// by snapshot install.
    pub(crate) fn tracker_args(self) -> Vec<String> {
        match self {
            Scenario::WipeAndRejoin | Scenario::Mixed => {
                vec!["--snapshot-every=300".into(), "--logs-to-keep=100".into()]
            }
            _ => Vec::new(),
        }
    }
}

/// One injected fault.
#[derive(Debug, Clone, Serialize)]
pub struct FaultRecord {
    /// What was done.
    pub kind: String,
    /// Which node(s).
    pub nodes: Vec<u64>,
    /// When (ms since the run started).
    pub at_ms: u64,
    /// When it was over: the node restarted or resumed, the links healed, the rejoin done (ms
    /// since the run started; `None` if it never finished).
    pub end_ms: Option<u64>,
    /// From the fault to the first write acknowledged after it, if any.
    pub failover_ms: Option<u64>,
    /// What else the fault saw (new leader, probe answer, slowed links, snapshot install).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}
