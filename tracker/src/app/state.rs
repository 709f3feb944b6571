//! [`StateView`]: the read interface of the committed state for the request handlers and the
//! leader's loops. Queries run on [`StateView::kv`], which implements the domain's
//! [`crate::domain::kv::KvRead`] port; nothing above `app` names the store's types.

use crate::cmd::TokenBytes;
use crate::domain::kv::{decode_record, Entries, KvRead, StoreError, Table};
use crate::domain::offline::decode_stamp;
use crate::domain::records::{PeerRec, SessionRec};
use crate::leader::cluster_key;
use crate::store::image;
use crate::store::overlay::Committed;
use crate::store::sm_trees::SmTrees;

/// How often a digest is taken again when `last_applied` moved while it was computed.
const DIGEST_TRIES: usize = 10;

/// The committed tables as the domain's read port, for one request.
pub struct Kv<'a>(Committed<'a>);

impl KvRead for Kv<'_> {
    fn get_raw(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get_raw(table, key)
    }

    fn with_raw<R>(
        &self,
        table: Table,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R, StoreError> {
        self.0.with_raw(table, key, f)
    }

    fn scan_raw(&self, table: Table, prefix: &[u8]) -> Result<Entries, StoreError> {
        self.0.scan_raw(table, prefix)
    }

    fn scan_page(
        &self,
        table: Table,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Entries, Option<Vec<u8>>), StoreError> {
        self.0.scan_page(table, prefix, after, limit)
    }
}

/// A cheap handle on the committed state (clones share it).
#[derive(Clone)]
pub struct StateView {
    /// The state-machine tables with what is staged over them.
    trees: SmTrees,
}

impl StateView {
    /// A view of `trees`.
    pub fn new(trees: SmTrees) -> Self {
        StateView { trees }
    }

    /// The committed tables, for the domain's queries and lookups.
    pub fn kv(&self) -> Kv<'_> {
        Kv(Committed(&self.trees))
    }

    /// The cluster's ticket signing key, if it has one yet.
    pub fn cluster_secret(&self) -> Option<[u8; 32]> {
        cluster_key::secret(&self.kv())
    }

    /// Calls `found` with the id of every peer marked online, in one pass that sees whole batches
    /// (entries whose key or record does not decode are skipped). `found` must not read the state.
    ///
    /// # Errors
    /// Storage errors (the peers found before one are still passed on).
    pub fn visit_online_peers(&self, mut found: impl FnMut(u64)) -> Result<(), StoreError> {
        self.trees.visit(Table::Peers, b"", |k, v| {
            let Ok(bytes) = <[u8; 8]>::try_from(k) else {
                return Ok(());
            };
            let Ok(peer) = decode_record::<PeerRec>(Table::Peers, v) else {
                return Ok(());
            };
            if peer.online {
                found(u64::from_be_bytes(bytes));
            }
            Ok(())
        })
    }

    /// Counts the entries of `table` and, of them, those whose value `matching` accepts, one
    /// page of `page` entries at a time (each page holds off batch writes only that long), at
    /// most `max_pages` pages. Returns `(entries, matching, complete)`; `complete` is false if
    /// the page cap stopped the count. Call it off the async executor.
    ///
    /// # Errors
    /// Storage errors.
    pub fn count_entries(
        &self,
        table: Table,
        page: usize,
        max_pages: usize,
        mut matching: impl FnMut(&[u8]) -> bool,
    ) -> Result<(u64, u64, bool), StoreError> {
        let (mut all, mut matched) = (0u64, 0u64);
        let mut after: Option<Vec<u8>> = None;
        for _ in 0..max_pages {
            after = self
                .trees
                .visit_page(table, b"", after.as_deref(), page, |_, v| {
                    all += 1;
                    if matching(v) {
                        matched += 1;
                    }
                    Ok(())
                })?;
            if after.is_none() {
                return Ok((all, matched, true));
            }
        }
        Ok((all, matched, false))
    }

    /// Whether a stored peer record says the peer is online (false if it does not decode).
    pub fn peer_is_online(record: &[u8]) -> bool {
        decode_record::<PeerRec>(Table::Peers, record).is_ok_and(|p| p.online)
    }

    /// One page of the sessions expired at `now_ms`: it looks at the sessions after `after` (from
    /// the first if `None`), at most `limit` of them, holding off batch writes only that long.
    /// Returns the expired tokens among them and where the next page starts (`None` at the end).
    /// Records that do not decode are skipped (the sweep must not stop on one).
    ///
    /// # Errors
    /// Storage errors.
    pub fn expired_sessions_page(
        &self,
        now_ms: u64,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Vec<TokenBytes>, Option<Vec<u8>>), StoreError> {
        let mut expired = Vec::new();
        let next = self
            .trees
            .visit_page(Table::Sessions, b"", after, limit, |k, v| {
                let (Ok(token), Ok(s)) = (
                    TokenBytes::try_from(k),
                    decode_record::<SessionRec>(Table::Sessions, v),
                ) else {
                    return Ok(());
                };
                if s.expires_at_ms <= now_ms {
                    expired.push(token);
                }
                Ok(())
            })?;
        Ok((expired, next))
    }

    /// One page of the offline stamps: the peers after `after` (from the first if `None`), at
    /// most `limit` of them, marked offline at or before `offline_before_ms`, and where the next
    /// page starts (`None` at the end). Stamps that do not decode are skipped.
    ///
    /// # Errors
    /// Storage errors.
    pub fn stale_peers_page(
        &self,
        offline_before_ms: u64,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Vec<u64>, Option<Vec<u8>>), StoreError> {
        let mut stale = Vec::new();
        let next = self
            .trees
            .visit_page(Table::PeersOffline, b"", after, limit, |k, v| {
                let (Ok(id), Ok(since)) = (<[u8; 8]>::try_from(k), decode_stamp(v)) else {
                    return Ok(());
                };
                if since <= offline_before_ms {
                    stale.push(u64::from_be_bytes(id));
                }
                Ok(())
            })?;
        Ok((stale, next))
    }

    /// Writes an image of every data table to `out` at one applied log id ([`image::export`];
    /// apply waits for the whole write). Call it off the async executor.
    ///
    /// # Errors
    /// Storage errors, or a write error on `out`.
    pub fn export_image(
        &self,
        out: &mut impl std::io::Write,
    ) -> Result<image::Exported, StoreError> {
        image::export(&self.trees, out)
    }

    /// The state digest ([`image::digest`]), taken again until `last_applied` did not move while
    /// it was computed. Reads every data table: call it off the async executor.
    ///
    /// # Errors
    /// Storage errors.
    pub fn stable_digest(&self) -> Result<String, StoreError> {
        let applied_marker = || Committed(&self.trees).get_raw(Table::Meta, b"last_applied");
        let mut digest = String::new();
        for _ in 0..DIGEST_TRIES {
            let before = applied_marker()?;
            digest = image::digest(&self.trees)?;
            if applied_marker()? == before {
                break;
            }
        }
        Ok(digest)
    }
}
