//! [`LoginThrottle`]: failed logins slow down further attempts, per username and per source
//! address. Kept by the leader in memory (it is not replicated: a new leader starts afresh, which
//! costs an attacker at most one more round of free attempts per election).
//!
//! The policy, for each key (a username, an IP address): the first [`FREE_FAILURES_PER_USER`]
//! failures for a username (or [`FREE_FAILURES_PER_ADDR`] from an address, which many users may
//! share) cost nothing. After that, each attempt must wait [`FIRST_DELAY`] after the last
//! failure, doubling with every further failure up to [`MAX_DELAY`]; an attempt made sooner is
//! refused at once, before any password work, with [`ApiError::TooManyFailedLogins`] and the
//! time left, and does not count as a failure. A success clears the username's failures (not the
//! address's). Failures are forgotten [`FORGET_AFTER`] after the last one. Attempts still being
//! checked count as failures until they finish, so a burst of parallel guesses gets no more
//! tries than a sequence.
//!
//! What a locked-out user sees: `peer login` fails with "too many failed logins for this account
//! or from this address: try again in N s", even with the right password, until the delay has
//! passed; the right password then works at once and clears the account's count. Someone who
//! knows a username can keep that account delayed by failing on purpose (at most one failure per
//! [`MAX_DELAY`] once the cap is reached); that is the price of per-account throttling, and the
//! per-address limit keeps one source from doing it to many accounts.
//!
//! Memory: at most [`MAX_TRACKED`] usernames and as many addresses; when a map is full the entry
//! touched longest ago goes first (forgetting a key only ever makes the throttle laxer for it).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use proto::ApiError;

/// Failures per username before attempts are delayed.
pub const FREE_FAILURES_PER_USER: u32 = 5;
/// Failures per source address before attempts are delayed.
pub const FREE_FAILURES_PER_ADDR: u32 = 20;
/// Wait after the first failure past the free ones.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// Longest wait between attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A key's failures are forgotten this long after its last one.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Most usernames (and, apart, most addresses) tracked at once.
pub const MAX_TRACKED: usize = 10_000;

/// What is known of one key.
#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    in_flight: u32,
    last_failure: Option<Instant>,
    touched: Instant,
}

/// A capped map of records for one kind of key.
struct Tracked<K> {
    free: u32,
    records: HashMap<K, Record>,
}

impl<K: Hash + Eq + Clone> Tracked<K> {
    fn new(free: u32) -> Self {
        Tracked {
            free,
            records: HashMap::new(),
        }
    }

    /// How long `key` must still wait at `now`, if it must.
    fn wait(&mut self, key: &K, now: Instant) -> Option<Duration> {
        let rec = self.records.get_mut(key)?;
        if rec.in_flight == 0
            && rec
                .last_failure
                .is_some_and(|t| now.saturating_duration_since(t) >= FORGET_AFTER)
        {
            self.records.remove(key);
            return None;
        }
        let counted = rec.failures.saturating_add(rec.in_flight);
        if counted < self.free {
            return None;
        }
        let doublings = (counted - self.free).min(16);
        let delay = FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY);
        let since = rec.last_failure.unwrap_or(now);
        let until = since + delay;
        (until > now).then(|| until - now)
    }

    fn record_mut(&mut self, key: &K, now: Instant) -> &mut Record {
        if !self.records.contains_key(key) && self.records.len() >= MAX_TRACKED {
            let oldest = self
                .records
                .iter()
                .min_by_key(|(_, r)| r.touched)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.records.remove(&k);
            }
        }
        let rec = self.records.entry(key.clone()).or_insert(Record {
            failures: 0,
            in_flight: 0,
            last_failure: None,
            touched: now,
        });
        rec.touched = now;
        rec
    }

    fn begin(&mut self, key: &K, now: Instant) {
        let rec = self.record_mut(key, now);
        rec.in_flight = rec.in_flight.saturating_add(1);
    }

    fn finish(&mut self, key: &K, now: Instant, failed: bool, clear: bool) {
        let rec = self.record_mut(key, now);
        rec.in_flight = rec.in_flight.saturating_sub(1);
        if failed {
            rec.failures = rec.failures.saturating_add(1);
            rec.last_failure = Some(now);
        }
        if clear {
            rec.failures = 0;
            rec.last_failure = None;
        }
        if rec.failures == 0 && rec.in_flight == 0 {
            self.records.remove(key);
        }
    }
}

/// Both maps, behind one lock.
struct Inner {
    users: Tracked<String>,
    addrs: Tracked<IpAddr>,
}

/// The leader's record of failed logins (see the module doc).
pub struct LoginThrottle {
    inner: Mutex<Inner>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            inner: Mutex::new(Inner {
                users: Tracked::new(FREE_FAILURES_PER_USER),
                addrs: Tracked::new(FREE_FAILURES_PER_ADDR),
            }),
        }
    }
}

impl LoginThrottle {
    /// Starts an attempt to log in as `username` (None for a name no account can have) from
    /// `addr` at `now`; report its outcome on the returned [`Attempt`].
    ///
    /// # Errors
    /// [`ApiError::TooManyFailedLogins`] with the time left if the username or the address must
    /// still wait.
    pub fn begin(
        &self,
        username: Option<&str>,
        addr: IpAddr,
        now: Instant,
    ) -> Result<Attempt<'_>, ApiError> {
        let mut inner = self.lock();
        let user = username.map(str::to_string);
        let wait = [
            user.as_ref().and_then(|u| inner.users.wait(u, now)),
            inner.addrs.wait(&addr, now),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(wait) = wait {
            return Err(ApiError::TooManyFailedLogins {
                retry_after_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1),
            });
        }
        if let Some(u) = &user {
            inner.users.begin(u, now);
        }
        inner.addrs.begin(&addr, now);
        Ok(Attempt {
            throttle: self,
            user,
            addr,
            settled: false,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The maps hold plain counters; a panic elsewhere cannot leave them half-changed in a way
        // that matters more than a lost count.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn finish(&self, user: Option<&String>, addr: IpAddr, now: Instant, failed: bool) {
        let mut inner = self.lock();
        if let Some(u) = user {
            inner.users.finish(u, now, failed, !failed);
        }
        inner.addrs.finish(&addr, now, failed, false);
    }

    /// Usernames and addresses tracked now (for tests and metrics).
    pub fn tracked(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.users.records.len(), inner.addrs.records.len())
    }
}

/// One login attempt in progress. Report [`Attempt::failed`] or [`Attempt::succeeded`]; dropped
/// without either (the check could not be made: busy, not leader), it counts as neither.
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    user: Option<String>,
    addr: IpAddr,
    settled: bool,
}

impl Attempt<'_> {
    /// The password was wrong or the account does not exist.
    pub fn failed(mut self, now: Instant) {
        self.settled = true;
        self.throttle
            .finish(self.user.as_ref(), self.addr, now, true);
    }

    /// The password was right: the username's failures are cleared.
    pub fn succeeded(mut self, now: Instant) {
        self.settled = true;
        self.throttle
            .finish(self.user.as_ref(), self.addr, now, false);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            let mut inner = self.throttle.lock();
            let now = Instant::now();
            if let Some(u) = &self.user {
                inner.users.finish(u, now, false, false);
            }
            inner.addrs.finish(&self.addr, now, false, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn fail(t: &LoginThrottle, user: &str, addr: IpAddr, now: Instant) {
        t.begin(Some(user), addr, now).unwrap().failed(now);
    }

    fn waits(t: &LoginThrottle, user: &str, addr: IpAddr, now: Instant) -> Option<u64> {
        match t.begin(Some(user), addr, now) {
            Ok(_) => None,
            Err(ApiError::TooManyFailedLogins { retry_after_ms }) => Some(retry_after_ms),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn five_failures_are_free_then_the_delay_doubles_up_to_the_cap() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES_PER_USER {
            fail(&t, "ann", ADDR, t0);
        }
        assert_eq!(waits(&t, "ann", ADDR, t0), Some(1000));
        assert_eq!(
            waits(&t, "ann", ADDR, t0 + Duration::from_millis(400)),
            Some(600)
        );
        // Refused attempts do not count; after the delay one more try is allowed.
        let t1 = t0 + FIRST_DELAY;
        fail(&t, "ann", ADDR, t1);
        assert_eq!(waits(&t, "ann", ADDR, t1), Some(2000));
        let mut now = t1;
        for _ in 0..10 {
            now += MAX_DELAY;
            fail(&t, "ann", ADDR, now);
        }
        assert_eq!(waits(&t, "ann", ADDR, now), Some(60_000));
        // Another user from another address is not affected.
        let other = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(waits(&t, "bob", other, now), None);
        // Forgotten after a quiet while.
        assert_eq!(waits(&t, "ann", ADDR, now + FORGET_AFTER), None);
    }

    #[test]
    fn a_success_clears_the_username_but_not_the_address() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES_PER_USER {
            fail(&t, "ann", ADDR, t0);
        }
        let later = t0 + FIRST_DELAY;
        t.begin(Some("ann"), ADDR, later).unwrap().succeeded(later);
        for _ in 0..FREE_FAILURES_PER_USER - 1 {
            fail(&t, "ann", ADDR, later);
        }
        assert_eq!(
            waits(&t, "ann", ADDR, later),
            None,
            "the count started over"
        );
        assert_eq!(t.tracked(), (1, 1));
    }

    #[test]
    fn an_address_spraying_many_usernames_is_delayed() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..FREE_FAILURES_PER_ADDR {
            fail(&t, &format!("user{i}"), ADDR, t0);
        }
        assert!(waits(&t, "fresh", ADDR, t0).is_some());
        let elsewhere = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(waits(&t, "fresh", elsewhere, t0), None);
    }

    #[test]
    fn attempts_in_flight_count_so_a_parallel_burst_gets_no_more_tries() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        let burst: Vec<_> = (0..FREE_FAILURES_PER_USER)
            .map(|_| t.begin(Some("ann"), ADDR, t0).unwrap())
            .collect();
        assert!(waits(&t, "ann", ADDR, t0).is_some());
        // An attempt that could not be checked (dropped) counts as nothing.
        drop(burst);
        assert_eq!(waits(&t, "ann", ADDR, t0), None);
        assert_eq!(t.tracked(), (0, 0));
    }

    #[test]
    fn the_maps_stay_bounded() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED + 50 {
            let addr = IpAddr::V6(std::net::Ipv6Addr::from(i as u128));
            fail(
                &t,
                &format!("u{i}"),
                addr,
                t0 + Duration::from_micros(i as u64),
            );
        }
        assert_eq!(t.tracked(), (MAX_TRACKED, MAX_TRACKED));
    }
}
