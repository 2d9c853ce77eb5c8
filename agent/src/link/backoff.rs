//! Reconnect delays: exponential from 1 s to 30 s with ±20 % jitter, so a console restart
//! does not see every agent at the same instant; reset after a connection that lasted.

use std::time::Duration;

/// The shape of the delays. [`BackoffPolicy::default`] is the contract's (docs/CLUSTER.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffPolicy {
    /// The first delay.
    pub initial: Duration,
    /// No delay (before jitter) is longer.
    pub max: Duration,
    /// Each delay is multiplied by a factor drawn from `1 ± jitter`.
    pub jitter: f64,
    /// A connection that lasted longer than this resets the delay to `initial`.
    pub reset_after: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            jitter: 0.2,
            reset_after: Duration::from_secs(30),
        }
    }
}

/// A source of numbers in `[0, 1)`; injected so tests are deterministic.
pub type RandomSource = Box<dyn FnMut() -> f64 + Send>;

/// The delay sequence of one agent.
pub struct Backoff {
    policy: BackoffPolicy,
    random: RandomSource,
    /// Failures since the last reset.
    attempt: u32,
}

impl std::fmt::Debug for Backoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backoff")
            .field("policy", &self.policy)
            .field("attempt", &self.attempt)
            .finish()
    }
}

impl Backoff {
    /// A backoff drawing its jitter from the operating system's random generator.
    pub fn new(policy: BackoffPolicy) -> Backoff {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::from_entropy();
        Backoff::with_random(policy, Box::new(move || rng.gen::<f64>()))
    }

    pub fn with_random(policy: BackoffPolicy, random: RandomSource) -> Backoff {
        Backoff {
            policy,
            random,
            attempt: 0,
        }
    }

    /// The delay before the next attempt; each call doubles the base delay up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let base = self
            .policy
            .initial
            .saturating_mul(2u32.saturating_pow(self.attempt.min(31)))
            .min(self.policy.max);
        self.attempt = self.attempt.saturating_add(1);
        let unit = (self.random)().clamp(0.0, 1.0);
        let factor = 1.0 + self.policy.jitter * (2.0 * unit - 1.0);
        // Whole milliseconds, so the same random numbers always give the same delays.
        Duration::from_millis((base.as_millis() as f64 * factor.max(0.0)).round() as u64)
    }

    /// Called when a connection ends: one that lasted long enough starts the sequence over.
    pub fn connection_ended(&mut self, lasted: Duration) {
        if lasted > self.policy.reset_after {
            self.reset();
        }
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(unit: f64) -> Backoff {
        Backoff::with_random(BackoffPolicy::default(), Box::new(move || unit))
    }

    fn secs(delays: &[Duration]) -> Vec<f64> {
        delays.iter().map(Duration::as_secs_f64).collect()
    }

    #[test]
    fn delays_double_from_one_second_up_to_thirty() {
        let mut backoff = fixed(0.5); // the middle of the jitter range: no jitter
        let delays: Vec<_> = (0..8).map(|_| backoff.next_delay()).collect();
        assert_eq!(secs(&delays), [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let mut low = fixed(0.0);
        let mut high = fixed(0.999_999);
        for _ in 0..10 {
            let (l, h) = (low.next_delay(), high.next_delay());
            assert!(h > l);
        }
        let mut low = fixed(0.0);
        assert_eq!(low.next_delay(), Duration::from_millis(800));
        let mut high = fixed(1.0);
        assert_eq!(high.next_delay(), Duration::from_millis(1200));
        for _ in 0..10 {
            high.next_delay();
        }
        assert_eq!(high.next_delay(), Duration::from_secs(36));
    }

    #[test]
    fn the_random_source_is_used_for_every_delay() {
        let mut values = [0.0, 1.0, 0.5].into_iter().cycle();
        let mut backoff = Backoff::with_random(
            BackoffPolicy::default(),
            Box::new(move || values.next().unwrap()),
        );
        let delays: Vec<_> = (0..3).map(|_| backoff.next_delay()).collect();
        assert_eq!(secs(&delays), [0.8, 2.4, 4.0]);
    }

    #[test]
    fn a_long_connection_resets_the_sequence_and_a_short_one_does_not() {
        let mut backoff = fixed(0.5);
        for _ in 0..4 {
            backoff.next_delay();
        }
        backoff.connection_ended(Duration::from_secs(5));
        assert_eq!(backoff.next_delay(), Duration::from_secs(16));
        backoff.connection_ended(Duration::from_secs(31));
        assert_eq!(backoff.next_delay(), Duration::from_secs(1));
        assert_eq!(backoff.next_delay(), Duration::from_secs(2));
    }

    #[test]
    fn the_real_generator_stays_in_range() {
        let mut backoff = Backoff::new(BackoffPolicy::default());
        for expected in [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0] {
            let delay = backoff.next_delay().as_secs_f64();
            assert!(
                (expected * 0.8..=expected * 1.2).contains(&delay),
                "{delay} not within 20 % of {expected}"
            );
        }
    }
}
