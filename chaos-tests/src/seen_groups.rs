//! [`SeenGroups`]: the workload groups one listing showed, kept compactly. Workload group names
//! are `c<client>-<seq>` ([`group_name`]) and a listing shows nearly every one of a client's
//! groups, so per client the seqs seen are kept as a few inclusive ranges (one more per write
//! that was never applied), not as thousands of names per listing.

use std::collections::BTreeMap;

use serde::Serialize;

/// The name of client `client`'s group number `seq`.
pub fn group_name(client: usize, seq: u64) -> String {
    format!("c{client}-{seq:06}")
}

/// The client and seq of a workload group name; `None` for any other name.
pub fn parse_group_name(name: &str) -> Option<(usize, u64)> {
    let (client, seq) = name.strip_prefix('c')?.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(client) || !digits(seq) {
        return None;
    }
    Some((client.parse().ok()?, seq.parse().ok()?))
}

/// The workload groups of one listing: per client, sorted disjoint inclusive seq ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SeenGroups {
    /// Client -> sorted, disjoint, non-adjacent `(first, last)` seq ranges.
    ranges: BTreeMap<usize, Vec<(u64, u64)>>,
    /// Workload groups seen (a name listed twice counts once).
    total: u64,
}

impl SeenGroups {
    /// The workload groups among `names` (other names are ignored).
    pub fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut by_client: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
        for (client, seq) in names.into_iter().filter_map(parse_group_name) {
            by_client.entry(client).or_default().push(seq);
        }
        let mut total = 0;
        let ranges = by_client
            .into_iter()
            .map(|(client, mut seqs)| {
                seqs.sort_unstable();
                seqs.dedup();
                total += seqs.len() as u64;
                let mut rs: Vec<(u64, u64)> = Vec::new();
                for seq in seqs {
                    match rs.last_mut() {
                        Some((_, last)) if last.checked_add(1) == Some(seq) => *last = seq,
                        _ => rs.push((seq, seq)),
                    }
                }
                (client, rs)
            })
            .collect();
        SeenGroups { ranges, total }
    }

    /// Workload groups seen.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether client `client`'s group `seq` was seen.
    pub fn contains(&self, client: usize, seq: u64) -> bool {
        let Some(rs) = self.ranges.get(&client) else {
            return false;
        };
        let i = rs.partition_point(|&(_, last)| last < seq);
        rs.get(i).is_some_and(|&(first, _)| first <= seq)
    }

    /// The seqs of client `client` not seen, as sorted inclusive ranges covering `0..=u64::MAX`
    /// minus the ranges seen.
    pub fn gaps(&self, client: usize) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut next = Some(0u64);
        for &(first, last) in self.ranges.get(&client).map_or(&[][..], Vec::as_slice) {
            if let Some(n) = next {
                if first > n {
                    out.push((n, first - 1));
                }
            }
            next = last.checked_add(1);
        }
        if let Some(n) = next {
            out.push((n, u64::MAX));
        }
        out
    }

    /// The highest seq of client `client` seen, if any.
    pub fn max_seq(&self, client: usize) -> Option<u64> {
        self.ranges
            .get(&client)
            .and_then(|rs| rs.last())
            .map(|&(_, last)| last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_round_trip() {
        assert_eq!(parse_group_name(&group_name(3, 42)), Some((3, 42)));
        assert_eq!(parse_group_name("c12-001145"), Some((12, 1145)));
        for other in ["share", "c-1", "c1-", "cx-1", "c1-2a", "d1-2", "c1-+2", ""] {
            assert_eq!(parse_group_name(other), None, "{other}");
        }
    }

    #[test]
    fn ranges_contain_exactly_what_was_seen() {
        let names = [
            "c1-000001",
            "c1-000002",
            "c1-000003",
            "c1-000005",
            "c1-000002",
            "c2-000007",
            "share",
        ];
        let seen = SeenGroups::of(names);
        assert_eq!(seen.total(), 5);
        for (client, seq, want) in [
            (1, 0, false),
            (1, 1, true),
            (1, 3, true),
            (1, 4, false),
            (1, 5, true),
            (1, 6, false),
            (2, 7, true),
            (2, 6, false),
            (3, 1, false),
        ] {
            assert_eq!(seen.contains(client, seq), want, "c{client}-{seq}");
        }
        assert_eq!(seen.gaps(1), vec![(0, 0), (4, 4), (6, u64::MAX)]);
        assert_eq!(seen.gaps(3), vec![(0, u64::MAX)]);
        assert_eq!(seen.max_seq(1), Some(5));
        assert_eq!(seen.max_seq(3), None);
    }

    #[test]
    fn gaps_at_the_ends_of_the_range() {
        let top = format!("c1-{}", u64::MAX);
        let seen = SeenGroups::of([top.as_str(), "c1-0"]);
        assert_eq!(seen.gaps(1), vec![(1, u64::MAX - 1)]);
    }
}
