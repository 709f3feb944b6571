//! What happened around a violation: every operation within [`WINDOW_MS`] of the violating read
//! (which node answered it, in which term, at which applied index), the writes it missed wherever
//! they fell, and every fault overlapping the window (plus the last one before it). Kept in the
//! JSON report ([`ViolationContext`]) and printed, shortened, in the run's summary.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use proto::ReplyMeta;

use crate::history::{OpRecord, Outcome, ReadKind, ReadRecord, WriteRecord};
use crate::scenario::FaultRecord;
use crate::seen_groups::SeenGroups;

/// Operations this far before or after the violating read are shown.
pub const WINDOW_MS: u64 = 2000;
/// Violations given a context in one report (the earliest ones).
pub const MAX_CONTEXTS: usize = 5;
/// Operations kept per context (the marked ones, then the nearest in time).
const MAX_ENTRIES: usize = 1500;
/// Unmarked operations printed per context (the nearest in time).
const PRINTED_NEAREST: usize = 40;

/// What a violation is about: when, which reader, which writes.
#[derive(Debug, Clone)]
pub struct Anchor {
    /// The violation as reported.
    pub violation: String,
    /// When the violating read was sent (ms since the run started).
    pub at_ms: u64,
    /// The client that read.
    pub reader: usize,
    /// Group names the read should have shown.
    pub keys: Vec<String>,
}

/// One operation on the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Client number.
    pub client: usize,
    /// `create_group`, `join`, `accept`, `register_file`, `report_have`, `list_groups` or
    /// `list_requests`.
    pub kind: String,
    /// Group name or op key (empty for a listing of every group).
    pub key: String,
    /// Sent (ms since the run started).
    pub sent_ms: u64,
    /// Answered (ms since the run started).
    pub done_ms: u64,
    /// `ok`, `failed: ...` or `unknown: ...`.
    pub outcome: String,
    /// The node that answered, its term and applied index.
    pub served_by: Option<ReplyMeta>,
    /// A few words on a read's answer.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub answer: String,
    /// Why this entry matters (`VIOLATING READ`, `MISSING FROM THE READ`), if it does.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mark: String,
    /// What the violating read showed (its workload groups as seq ranges per client).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen: Option<SeenGroups>,
}

/// What one node's answers in the window carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeAnswers {
    /// Raft id.
    pub node_id: u64,
    /// Answers it sent (to operations on the timeline).
    pub answers: usize,
    /// Lowest and highest term.
    pub terms: [u64; 2],
    /// Lowest and highest applied index.
    pub applied: [u64; 2],
}

/// Per node, what the answers of `entries` carried.
fn node_answers(entries: &[Entry]) -> Vec<NodeAnswers> {
    let mut nodes: BTreeMap<u64, NodeAnswers> = BTreeMap::new();
    for m in entries.iter().filter_map(|e| e.served_by) {
        let n = nodes.entry(m.node_id).or_insert(NodeAnswers {
            node_id: m.node_id,
            answers: 0,
            terms: [m.term; 2],
            applied: [m.applied_index; 2],
        });
        n.answers += 1;
        n.terms = [n.terms[0].min(m.term), n.terms[1].max(m.term)];
        n.applied = [
            n.applied[0].min(m.applied_index),
            n.applied[1].max(m.applied_index),
        ];
    }
    nodes.into_values().collect()
}

/// A violation with the operations and faults around it.
#[derive(Debug, Clone, Serialize)]
pub struct ViolationContext {
    /// The violation.
    pub violation: String,
    /// When the violating read was sent.
    pub at_ms: u64,
    /// Start of the window (ms since the run started).
    pub from_ms: u64,
    /// End of the window.
    pub to_ms: u64,
    /// Faults overlapping the window, and the last one before it.
    pub faults: Vec<FaultRecord>,
    /// Per node, what all its answers on the timeline carried (left-off ones included).
    pub nodes: Vec<NodeAnswers>,
    /// Operations overlapping the window and the missed writes, by send time.
    pub ops: Vec<Entry>,
    /// Operations in the window left off (beyond the per-context bound).
    pub ops_left_off: usize,
}

/// Everything a run recorded.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// Group creations.
    pub writes: &'a [WriteRecord],
    /// Other writes.
    pub ops: &'a [OpRecord],
    /// Reads.
    pub reads: &'a [ReadRecord],
    /// Faults.
    pub faults: &'a [FaultRecord],
}

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Acked => "ok".into(),
        Outcome::Failed(why) => format!("failed: {why}"),
        Outcome::Unknown(why) => format!("unknown: {why}"),
    }
}

/// The context of the violation `anchor`.
pub fn context(anchor: &Anchor, src: Sources<'_>) -> ViolationContext {
    let from_ms = anchor.at_ms.saturating_sub(WINDOW_MS);
    let to_ms = anchor.at_ms.saturating_add(WINDOW_MS);
    let overlaps = |sent: u64, done: u64| sent <= to_ms && done >= from_ms;
    let keys: BTreeSet<&str> = anchor.keys.iter().map(String::as_str).collect();
    let mut entries = Vec::new();
    for w in src.writes {
        let missed = keys.contains(w.key.as_str());
        if missed || overlaps(w.sent_ms, w.done_ms) {
            entries.push(Entry {
                client: w.client,
                kind: "create_group".into(),
                key: w.key.clone(),
                sent_ms: w.sent_ms,
                done_ms: w.done_ms,
                outcome: outcome_text(&w.outcome),
                served_by: w.served_by,
                answer: String::new(),
                mark: if missed {
                    "MISSING FROM THE READ".into()
                } else {
                    String::new()
                },
                seen: None,
            });
        }
    }
    for o in src.ops.iter().filter(|o| overlaps(o.sent_ms, o.done_ms)) {
        entries.push(Entry {
            client: o.client,
            kind: o.op.label().into(),
            key: o.op.key(),
            sent_ms: o.sent_ms,
            done_ms: o.done_ms,
            outcome: outcome_text(&o.outcome),
            served_by: o.served_by,
            answer: String::new(),
            mark: String::new(),
            seen: None,
        });
    }
    for r in src.reads.iter().filter(|r| overlaps(r.sent_ms, r.done_ms)) {
        let violating = r.kind == ReadKind::ListGroups
            && r.client == anchor.reader
            && r.sent_ms == anchor.at_ms;
        entries.push(Entry {
            client: r.client,
            kind: r.kind.label().into(),
            key: r.key.clone(),
            sent_ms: r.sent_ms,
            done_ms: r.done_ms,
            outcome: outcome_text(&r.outcome),
            served_by: r.served_by,
            answer: r.answer.clone(),
            mark: if violating {
                "VIOLATING READ".into()
            } else {
                String::new()
            },
            seen: if violating { r.seen.clone() } else { None },
        });
    }
    let nodes = node_answers(&entries);
    let ops_left_off = entries.len().saturating_sub(MAX_ENTRIES);
    keep_nearest(&mut entries, anchor.at_ms, MAX_ENTRIES);
    entries.sort_by_key(|e| (e.sent_ms, e.done_ms, e.client));

    let end_of = |f: &FaultRecord| f.end_ms.unwrap_or(f.at_ms);
    let mut faults: Vec<FaultRecord> = Vec::new();
    if let Some(before) = src
        .faults
        .iter()
        .filter(|f| end_of(f) < from_ms)
        .max_by_key(|f| f.at_ms)
    {
        faults.push(before.clone());
    }
    faults.extend(
        src.faults
            .iter()
            .filter(|f| f.at_ms <= to_ms && end_of(f) >= from_ms)
            .cloned(),
    );
    ViolationContext {
        violation: anchor.violation.clone(),
        at_ms: anchor.at_ms,
        from_ms,
        to_ms,
        faults,
        nodes,
        ops: entries,
        ops_left_off,
    }
}

/// Keeps the marked entries and, of the others, those nearest to `at_ms`, `max` in all.
fn keep_nearest(entries: &mut Vec<Entry>, at_ms: u64, max: usize) {
    if entries.len() <= max {
        return;
    }
    entries.sort_by_key(|e| (e.mark.is_empty(), e.sent_ms.abs_diff(at_ms)));
    entries.truncate(max);
}

/// Shortens `s` to `max` characters.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max).collect();
        format!("{head}...")
    }
}

fn meta_text(m: Option<ReplyMeta>) -> String {
    m.map_or_else(
        || "no node".to_string(),
        |m| format!("node {} t{} a{}", m.node_id, m.term, m.applied_index),
    )
}

impl ViolationContext {
    /// A few dozen lines for people: the faults, what each node answered with, the marked
    /// operations and the ones nearest the violation.
    pub fn render(&self) -> String {
        let mut out = vec![format!("- {}", self.violation)];
        out.push(format!(
            "  window {}..{} ms around the read sent at {} ms: {} fault(s), {} op(s){}",
            self.from_ms,
            self.to_ms,
            self.at_ms,
            self.faults.len(),
            self.ops.len() + self.ops_left_off,
            if self.ops_left_off > 0 {
                format!(" ({} left off the report)", self.ops_left_off)
            } else {
                String::new()
            }
        ));
        for f in &self.faults {
            let before = if f.end_ms.unwrap_or(f.at_ms) < self.from_ms {
                " (last fault before the window)"
            } else {
                ""
            };
            let end = f.end_ms.map_or_else(|| "?".to_string(), |e| e.to_string());
            out.push(format!(
                "  fault {} nodes {:?} {}..{end} ms{before} {}",
                f.kind,
                f.nodes,
                f.at_ms,
                clip(&f.detail, 160)
            ));
        }
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| {
                format!(
                    "node {}: {} answers, terms {}-{}, applied {}-{}",
                    n.node_id, n.answers, n.terms[0], n.terms[1], n.applied[0], n.applied[1]
                )
            })
            .collect();
        if !nodes.is_empty() {
            out.push(format!("  answered by {}", nodes.join("; ")));
        }
        let mut unmarked: Vec<&Entry> = self.ops.iter().filter(|e| e.mark.is_empty()).collect();
        unmarked.sort_by_key(|e| e.sent_ms.abs_diff(self.at_ms));
        let shown_unmarked = unmarked.len().min(PRINTED_NEAREST);
        let mut shown: Vec<&Entry> = self.ops.iter().filter(|e| !e.mark.is_empty()).collect();
        shown.extend(unmarked.into_iter().take(PRINTED_NEAREST));
        shown.sort_by_key(|e| (e.sent_ms, e.done_ms, e.client));
        out.push(format!(
            "  {} marked op(s) and the {shown_unmarked} nearest of the others (all in the JSON report):",
            shown.len() - shown_unmarked
        ));
        for e in shown {
            let answer = if e.answer.is_empty() {
                String::new()
            } else {
                format!(" [{}]", e.answer)
            };
            let mark = if e.mark.is_empty() {
                String::new()
            } else {
                format!("   <== {}", e.mark)
            };
            out.push(format!(
                "    {:>7}..{:<7} c{} {} {} {} by {}{answer}{mark}",
                e.sent_ms,
                e.done_ms,
                e.client,
                e.kind,
                e.key,
                clip(&e.outcome, 60),
                meta_text(e.served_by)
            ));
        }
        out.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(node_id: u64, term: u64, applied_index: u64) -> Option<ReplyMeta> {
        Some(ReplyMeta {
            node_id,
            term,
            applied_index,
        })
    }

    #[test]
    fn context_marks_the_read_and_the_missed_write_and_keeps_overlapping_faults() {
        let writes = vec![
            WriteRecord {
                client: 2,
                key: "c2-000001".into(),
                sent_ms: 100,
                done_ms: 120,
                done_us: 120_000,
                outcome: Outcome::Acked,
                served_by: meta(1, 4, 50),
            },
            WriteRecord {
                client: 3,
                key: "c3-000001".into(),
                sent_ms: 9000,
                done_ms: 9010,
                done_us: 9_010_000,
                outcome: Outcome::Acked,
                served_by: meta(1, 4, 90),
            },
        ];
        let reads = vec![ReadRecord {
            client: 2,
            kind: ReadKind::ListGroups,
            key: String::new(),
            sent_ms: 5000,
            sent_us: 5_000_000,
            done_ms: 5020,
            outcome: Outcome::Acked,
            served_by: meta(1, 4, 40),
            answer: "0 groups".into(),
            seen: Some(SeenGroups::default()),
        }];
        let fault = |at_ms: u64, end_ms: u64| FaultRecord {
            kind: "RestartLeader".into(),
            nodes: vec![1],
            at_ms,
            end_ms: Some(end_ms),
            failover_ms: None,
            detail: String::new(),
        };
        let faults = vec![
            fault(1000, 1100),
            fault(2000, 2100),
            fault(4000, 4100),
            fault(8000, 8100),
        ];
        let anchor = Anchor {
            violation: "client 2: read misses acknowledged writes [\"c2-000001\"]".into(),
            at_ms: 5000,
            reader: 2,
            keys: vec!["c2-000001".into()],
        };
        let src = Sources {
            writes: &writes,
            ops: &[],
            reads: &reads,
            faults: &faults,
        };
        let c = context(&anchor, src);
        assert_eq!((c.from_ms, c.to_ms), (3000, 7000));
        // The missed write (outside the window) and the read; not the write at 9 s.
        let marks: Vec<(&str, &str)> = c
            .ops
            .iter()
            .map(|e| (e.kind.as_str(), e.mark.as_str()))
            .collect();
        assert_eq!(
            marks,
            vec![
                ("create_group", "MISSING FROM THE READ"),
                ("list_groups", "VIOLATING READ")
            ]
        );
        // The last fault before the window and the one inside it.
        let at: Vec<u64> = c.faults.iter().map(|f| f.at_ms).collect();
        assert_eq!(at, vec![2000, 4000]);
        assert_eq!(
            c.nodes,
            vec![NodeAnswers {
                node_id: 1,
                answers: 2,
                terms: [4, 4],
                applied: [40, 50],
            }]
        );
        let text = c.render();
        assert!(text.contains("<== VIOLATING READ"), "{text}");
        assert!(text.contains("node 1 t4 a40"), "{text}");
        assert!(text.contains("last fault before the window"), "{text}");
    }
}
