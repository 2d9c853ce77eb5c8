//! The login rate limit: after `max_failures` failed logins within `window` from one
//! address, further attempts from it are refused until the oldest failure ages out.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many distinct addresses are tracked at most; past that the stalest are dropped,
/// so a flood of spoofed sources cannot grow memory without bound.
const MAX_TRACKED_SOURCES: usize = 10_000;

/// Per-address sliding window of failed logins.
#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<Option<IpAddr>, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub fn new(max_failures: usize, window: Duration) -> LoginLimiter {
        LoginLimiter {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` when `source` has used up its failures in the window.
    pub fn check(&self, source: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let mut failures = self.lock();
        let Some(times) = failures.get_mut(&source) else {
            return Ok(());
        };
        self.expire(times, now);
        if times.len() >= self.max_failures {
            let oldest = times[0];
            return Err(self
                .window
                .saturating_sub(now - oldest)
                .max(Duration::from_secs(1)));
        }
        Ok(())
    }

    /// Counts one failed attempt from `source`.
    pub fn record_failure(&self, source: Option<IpAddr>, now: Instant) {
        let mut failures = self.lock();
        if failures.len() >= MAX_TRACKED_SOURCES && !failures.contains_key(&source) {
            let window = self.window;
            failures.retain(|_, times| times.back().is_some_and(|t| now - *t < window));
            if failures.len() >= MAX_TRACKED_SOURCES {
                if let Some(stalest) = failures
                    .iter()
                    .min_by_key(|(_, times)| times.back().copied())
                    .map(|(key, _)| *key)
                {
                    failures.remove(&stalest);
                }
            }
        }
        let times = failures.entry(source).or_default();
        self.expire(times, now);
        times.push_back(now);
        // Keep no more history than the decision needs.
        while times.len() > self.max_failures {
            times.pop_front();
        }
    }

    /// Forgets the failures of `source` after it signed in.
    pub fn clear(&self, source: Option<IpAddr>) {
        self.lock().remove(&source);
    }

    fn expire(&self, times: &mut VecDeque<Instant>, now: Instant) {
        while times.front().is_some_and(|t| now - *t >= self.window) {
            times.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Option<IpAddr>, VecDeque<Instant>>> {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn the_sixth_attempt_within_the_window_is_refused() {
        let limiter = LoginLimiter::new(5, Duration::from_secs(60));
        let start = Instant::now();
        for i in 0..5 {
            let now = start + Duration::from_secs(i);
            assert!(limiter.check(ip(1), now).is_ok(), "attempt {}", i + 1);
            limiter.record_failure(ip(1), now);
        }
        let retry = limiter
            .check(ip(1), start + Duration::from_secs(5))
            .unwrap_err();
        assert_eq!(retry, Duration::from_secs(55));
        assert!(
            limiter.check(ip(2), start).is_ok(),
            "other addresses unaffected"
        );
    }

    #[test]
    fn failures_age_out_of_the_window() {
        let limiter = LoginLimiter::new(5, Duration::from_secs(60));
        let start = Instant::now();
        for _ in 0..5 {
            limiter.record_failure(ip(1), start);
        }
        assert!(limiter
            .check(ip(1), start + Duration::from_secs(59))
            .is_err());
        assert!(limiter
            .check(ip(1), start + Duration::from_secs(60))
            .is_ok());
    }

    #[test]
    fn a_successful_login_clears_the_count() {
        let limiter = LoginLimiter::new(5, Duration::from_secs(60));
        let now = Instant::now();
        for _ in 0..4 {
            limiter.record_failure(ip(1), now);
        }
        limiter.clear(ip(1));
        for _ in 0..4 {
            limiter.record_failure(ip(1), now);
        }
        assert!(limiter.check(ip(1), now).is_ok());
    }

    #[test]
    fn tracked_sources_are_bounded() {
        let limiter = LoginLimiter::new(5, Duration::from_secs(60));
        let now = Instant::now();
        for i in 0..(MAX_TRACKED_SOURCES as u32 + 50) {
            limiter.record_failure(Some(IpAddr::from(i.to_be_bytes())), now);
        }
        assert!(limiter.lock().len() <= MAX_TRACKED_SOURCES);
    }
}
