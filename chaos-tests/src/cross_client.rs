//! The cross-client read checker: a group creation acknowledged (to any client) before a listing
//! was sent must be in that listing. Read-your-writes ([`crate::workload`]) checks this for the
//! reader's own writes only; linearizability promises it for everyone's.
//!
//! Both times come from one clock ([`crate::history::History::now_us`], the microseconds behind
//! `now_ms`): a write's `done_us` is taken after its acknowledgement arrived and a listing's
//! `sent_us` before it was sent, so `done_us < sent_us` means the acknowledgement really came
//! first (milliseconds are too coarse: at full load the ack of one client and the next listing
//! of another often share one). Run after the workload stopped, over the whole history (no race
//! with writes still being recorded).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::history::{Outcome, ReadKind, ReadRecord, WriteRecord};
use crate::seen_groups::{parse_group_name, SeenGroups};

/// Most missing names spelled out in one finding.
const NAMES_SHOWN: usize = 10;

/// One listing that missed writes acknowledged before it was sent.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The reading client.
    pub client: usize,
    /// When the listing was sent (ms since the run started).
    pub at_ms: u64,
    /// The missing group names (every one).
    pub missing: Vec<String>,
    /// What was wrong, for people.
    pub what: String,
}

/// What the checker saw.
#[derive(Debug, Clone, Default)]
pub struct Outcomes {
    /// Answered listings checked.
    pub checked: u64,
    /// Listings that missed something, in send order.
    pub findings: Vec<Finding>,
}

/// One client's acknowledged group creations, sorted by seq.
struct Acked<'a> {
    /// `(seq, write)` in seq order.
    writes: Vec<(u64, &'a WriteRecord)>,
    /// `suffix_min[i]`: the smallest `done_us` of `writes[i..]`, so the writes done before a time
    /// all sit in a prefix found by binary search even if `done_us` were not sorted.
    suffix_min: Vec<u64>,
}

impl<'a> Acked<'a> {
    fn new(mut writes: Vec<(u64, &'a WriteRecord)>) -> Self {
        writes.sort_by_key(|&(seq, _)| seq);
        let mut suffix_min = vec![0; writes.len()];
        let mut min = u64::MAX;
        for (i, (_, w)) in writes.iter().enumerate().rev() {
            min = min.min(w.done_us);
            suffix_min[i] = min;
        }
        Acked { writes, suffix_min }
    }

    /// The writes acknowledged before `sent_us` whose seq `seen` lacks for `client`.
    fn missing_from(&self, client: usize, seen: &SeenGroups, sent_us: u64) -> Vec<&'a WriteRecord> {
        let end = self.suffix_min.partition_point(|&m| m < sent_us);
        let before = &self.writes[..end];
        let Some(&(max_seq, _)) = before.last() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        // Only the gaps of what was seen can hold a missing write; there are few of them.
        for (first, last) in seen.gaps(client) {
            if first > max_seq {
                break;
            }
            let lo = before.partition_point(|&(seq, _)| seq < first);
            let hi = before.partition_point(|&(seq, _)| seq <= last);
            out.extend(
                before[lo..hi]
                    .iter()
                    .filter(|(_, w)| w.done_us < sent_us)
                    .map(|&(_, w)| w),
            );
        }
        out
    }
}

/// Checks every answered listing of every group in `reads` against every acknowledged group
/// creation in `writes`.
pub fn check(writes: &[WriteRecord], reads: &[ReadRecord]) -> Outcomes {
    let mut by_client: BTreeMap<usize, Vec<(u64, &WriteRecord)>> = BTreeMap::new();
    for w in writes.iter().filter(|w| w.outcome == Outcome::Acked) {
        if let Some((client, seq)) = parse_group_name(&w.key) {
            by_client.entry(client).or_default().push((seq, w));
        }
    }
    let acked: BTreeMap<usize, Acked> = by_client
        .into_iter()
        .map(|(c, ws)| (c, Acked::new(ws)))
        .collect();
    let mut listings: Vec<(&ReadRecord, &SeenGroups)> = reads
        .iter()
        .filter(|r| r.kind == ReadKind::ListGroups && r.outcome == Outcome::Acked)
        .filter_map(|r| r.seen.as_ref().map(|s| (r, s)))
        .collect();
    listings.sort_by_key(|(r, _)| (r.sent_us, r.client));
    let mut out = Outcomes::default();
    for (read, seen) in listings {
        out.checked += 1;
        let missing: Vec<&WriteRecord> = acked
            .iter()
            .flat_map(|(&client, a)| a.missing_from(client, seen, read.sent_us))
            .collect();
        if !missing.is_empty() {
            out.findings.push(finding(read, &missing));
        }
    }
    out
}

/// Microseconds as milliseconds with three decimals (the order within one ms is what counts).
fn ms(us: u64) -> String {
    format!("{}.{:03}", us / 1000, us % 1000)
}

fn finding(read: &ReadRecord, missing: &[&WriteRecord]) -> Finding {
    let by = read.served_by.map_or_else(
        || "no node named".to_string(),
        |m| {
            format!(
                "node {} term {} applied {}",
                m.node_id, m.term, m.applied_index
            )
        },
    );
    let shown: Vec<String> = missing
        .iter()
        .take(NAMES_SHOWN)
        .map(|w| {
            let acked_by = w
                .served_by
                .map(|m| {
                    format!(
                        " by node {} term {} applied {}",
                        m.node_id, m.term, m.applied_index
                    )
                })
                .unwrap_or_default();
            format!(
                "{} (client {}, acked at {} ms{acked_by})",
                w.key,
                w.client,
                ms(w.done_us)
            )
        })
        .collect();
    let more = missing.len().saturating_sub(NAMES_SHOWN);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Finding {
        client: read.client,
        at_ms: read.sent_ms,
        missing: missing.iter().map(|w| w.key.clone()).collect(),
        what: format!(
            "listing sent at {} ms (answered at {} ms by {by}) misses {} group(s) acknowledged before it was sent: {}{more}",
            ms(read.sent_us),
            read.done_ms,
            missing.len(),
            shown.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seen_groups::group_name;

    fn write(client: usize, seq: u64, done_ms: u64, outcome: Outcome) -> WriteRecord {
        WriteRecord {
            client,
            key: group_name(client, seq),
            sent_ms: done_ms.saturating_sub(5),
            done_ms,
            done_us: done_ms * 1000,
            outcome,
            served_by: None,
        }
    }

    fn listing(client: usize, sent_ms: u64, names: &[String]) -> ReadRecord {
        ReadRecord {
            client,
            kind: ReadKind::ListGroups,
            key: String::new(),
            sent_ms,
            sent_us: sent_ms * 1000,
            done_ms: sent_ms + 3,
            outcome: Outcome::Acked,
            served_by: None,
            answer: String::new(),
            seen: Some(SeenGroups::of(names.iter().map(String::as_str))),
        }
    }

    #[test]
    fn flags_a_listing_missing_another_clients_earlier_ack() {
        // Client 2's seq 3 was acknowledged at 100 ms; client 1 lists at 150 ms without it.
        let writes = vec![
            write(2, 1, 50, Outcome::Acked),
            write(2, 2, 80, Outcome::Acked),
            write(2, 3, 100, Outcome::Acked),
        ];
        let reads = vec![listing(1, 150, &[group_name(2, 1), group_name(2, 2)])];
        let out = check(&writes, &reads);
        assert_eq!(out.checked, 1);
        assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
        assert_eq!(out.findings[0].client, 1);
        assert_eq!(out.findings[0].missing, vec![group_name(2, 3)]);
        assert!(
            out.findings[0].what.contains("c2-000003"),
            "{}",
            out.findings[0].what
        );
    }

    #[test]
    fn does_not_flag_writes_acknowledged_after_the_listing_was_sent() {
        let writes = vec![
            write(2, 1, 50, Outcome::Acked),
            // Acknowledged at the very ms the listing was sent, and after: both may be missing.
            write(2, 2, 150, Outcome::Acked),
            write(2, 3, 160, Outcome::Acked),
        ];
        let reads = vec![listing(1, 150, &[group_name(2, 1)])];
        let out = check(&writes, &reads);
        assert_eq!(out.checked, 1);
        assert!(out.findings.is_empty(), "{:?}", out.findings);
    }

    #[test]
    fn orders_by_microseconds_within_one_millisecond() {
        // Same ms (150): acked at 150.2 ms, listing sent at 150.7 ms must show it; a write acked
        // at 150.9 ms need not.
        let mut early = write(2, 1, 150, Outcome::Acked);
        early.done_us = 150_200;
        let mut late = write(3, 1, 150, Outcome::Acked);
        late.done_us = 150_900;
        let mut read = listing(1, 150, &[]);
        read.sent_us = 150_700;
        let out = check(&[early, late], &[read]);
        assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
        assert_eq!(out.findings[0].missing, vec![group_name(2, 1)]);
    }

    #[test]
    fn ignores_unacknowledged_writes_and_unanswered_listings() {
        let writes = vec![
            write(2, 1, 50, Outcome::Unknown("timed out".into())),
            write(2, 2, 60, Outcome::Failed("refused".into())),
            write(3, 1, 70, Outcome::Acked),
        ];
        let mut unanswered = listing(1, 200, &[]);
        unanswered.outcome = Outcome::Unknown("no tracker".into());
        unanswered.seen = None;
        let reads = vec![listing(1, 100, &[group_name(3, 1)]), unanswered];
        let out = check(&writes, &reads);
        assert_eq!(out.checked, 1);
        assert!(out.findings.is_empty(), "{:?}", out.findings);
    }

    #[test]
    fn finds_holes_in_the_middle_and_past_the_end() {
        let writes: Vec<WriteRecord> = (1..=6)
            .map(|seq| write(0, seq, seq * 10, Outcome::Acked))
            .collect();
        // Sent at 55 ms: seqs 1-5 were acknowledged; 2 and 5 are missing, 6 came later.
        let seen: Vec<String> = [1, 3, 4].iter().map(|&s| group_name(0, s)).collect();
        let out = check(&writes, &[listing(4, 55, &seen)]);
        assert_eq!(out.findings.len(), 1);
        assert_eq!(
            out.findings[0].missing,
            vec![group_name(0, 2), group_name(0, 5)]
        );
    }
}
