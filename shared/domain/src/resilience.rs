//! Rate limiting and circuit breaking for calls to external services.
//!
//! Both are plain state machines over an explicit `now`: no clock reads, no
//! sleeping, no locks. The caller (the Optimizely client) keeps one of each per
//! service behind a mutex and passes the clock port's time, so tests drive them
//! with a `ManualClock`.
//!
//! Hand-written rather than taken from `governor` (token bucket) or `failsafe`
//! (breaker): each is about fifty lines here, both must run on the `Clock` port's
//! `OffsetDateTime` rather than a crate-specific clock, and the breaker's
//! half-open probe limit is not something `failsafe` offers.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

// ---- token bucket ----------------------------------------------------------------

/// A token bucket holding `burst` tokens, refilled at `per_minute` tokens a minute.
///
/// Implemented as GCRA (the "virtual scheduling" form of a token bucket): one
/// timestamp instead of a fractional token count, so no rounding drift however
/// often it is asked.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Time one token takes to refill.
    interval: Duration,
    /// How far ahead of `now` the schedule may run: `(burst − 1) · interval`.
    tolerance: Duration,
    /// When the bucket would be full again had every admitted call been spaced
    /// exactly `interval` apart; `None` while it has never been used (full).
    theoretical_arrival: Option<OffsetDateTime>,
}

impl TokenBucket {
    /// `per_minute` and `burst` of zero are treated as one, so a misconfiguration
    /// throttles hard instead of dividing by zero or refusing everything forever.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let interval = Duration::from_secs(60) / per_minute.max(1);
        TokenBucket {
            interval,
            tolerance: interval * (burst.max(1) - 1),
            theoretical_arrival: None,
        }
    }

    /// Takes a token if one is available; otherwise says how long until one is.
    pub fn try_acquire(&mut self, now: OffsetDateTime) -> Result<(), Duration> {
        let tat = self.theoretical_arrival.map_or(now, |t| t.max(now));
        let allowed_from = tat - self.tolerance;
        if now < allowed_from {
            return Err(to_std(allowed_from - now));
        }
        self.theoretical_arrival = Some(tat + self.interval);
        Ok(())
    }

    /// Whole tokens available at `now`, for status views.
    pub fn available(&self, now: OffsetDateTime) -> u32 {
        let burst = (self.tolerance.as_nanos() / self.interval.as_nanos()) as u32 + 1;
        match self.theoretical_arrival {
            None => burst,
            Some(tat) if tat <= now => burst,
            Some(tat) => {
                let backlog = to_std(tat - now)
                    .as_nanos()
                    .div_ceil(self.interval.as_nanos());
                burst.saturating_sub(backlog as u32)
            }
        }
    }
}

// ---- circuit breaker --------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failed calls that open the circuit.
    pub failure_threshold: u32,
    /// How long it stays open before letting probe calls through.
    pub reset_timeout: Duration,
    /// Probe calls admitted at once while half-open.
    pub half_open_max_calls: u32,
}

/// The breaker's state, as status views show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BreakerState {
    Closed { consecutive_failures: u32 },
    Open { retry_after_ms: u64 },
    HalfOpen { probes_in_flight: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: OffsetDateTime,
    },
    HalfOpen {
        since: OffsetDateTime,
        admitted: u32,
    },
}

/// Leave to make one call. Report what became of it with [`CircuitBreaker::on_success`],
/// [`CircuitBreaker::on_failure`] or [`CircuitBreaker::release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "report the call's outcome to the breaker"]
pub struct Permit {
    /// The state generation it was issued in: outcomes of calls admitted before
    /// the last transition are ignored, so a slow call from before the circuit
    /// opened cannot close it again.
    epoch: u64,
    probe: bool,
}

/// Closed → (threshold consecutive failures) → Open → (reset timeout) → HalfOpen,
/// admitting up to `half_open_max_calls` probes → Closed on a probe's success,
/// Open again on a probe's failure.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    settings: BreakerSettings,
    state: State,
    epoch: u64,
}

impl CircuitBreaker {
    pub fn new(settings: BreakerSettings) -> Self {
        CircuitBreaker {
            settings,
            state: State::Closed { failures: 0 },
            epoch: 0,
        }
    }

    /// Admits a call, or says how long until the circuit will let one through.
    pub fn try_acquire(&mut self, now: OffsetDateTime) -> Result<Permit, Duration> {
        match self.state {
            State::Closed { .. } => Ok(Permit {
                epoch: self.epoch,
                probe: false,
            }),
            State::Open { until } if now < until => Err(to_std(until - now)),
            State::Open { .. } => {
                self.transition(State::HalfOpen {
                    since: now,
                    admitted: 0,
                });
                self.admit_probe(now)
            }
            State::HalfOpen { .. } => self.admit_probe(now),
        }
    }

    pub fn on_success(&mut self, permit: Permit, _now: OffsetDateTime) {
        if permit.epoch != self.epoch {
            return;
        }
        match self.state {
            State::Closed { .. } => self.state = State::Closed { failures: 0 },
            State::HalfOpen { .. } if permit.probe => {
                self.transition(State::Closed { failures: 0 })
            }
            _ => {}
        }
    }

    pub fn on_failure(&mut self, permit: Permit, now: OffsetDateTime) {
        if permit.epoch != self.epoch {
            return;
        }
        match self.state {
            State::Closed { failures } => {
                let failures = failures.saturating_add(1);
                if failures >= self.settings.failure_threshold.max(1) {
                    self.open(now);
                } else {
                    self.state = State::Closed { failures };
                }
            }
            State::HalfOpen { .. } if permit.probe => self.open(now),
            _ => {}
        }
    }

    /// The call ended without saying anything about the service's health
    /// (refused locally, throttled): give a probe slot back.
    pub fn release(&mut self, permit: Permit) {
        if permit.epoch != self.epoch || !permit.probe {
            return;
        }
        if let State::HalfOpen { since, admitted } = self.state {
            self.state = State::HalfOpen {
                since,
                admitted: admitted.saturating_sub(1),
            };
        }
    }

    pub fn state(&self, now: OffsetDateTime) -> BreakerState {
        match self.state {
            State::Closed { failures } => BreakerState::Closed {
                consecutive_failures: failures,
            },
            State::Open { until } if now < until => BreakerState::Open {
                retry_after_ms: u64::try_from(to_std(until - now).as_millis()).unwrap_or(u64::MAX),
            },
            // Due to half-open on the next call.
            State::Open { .. } => BreakerState::HalfOpen {
                probes_in_flight: 0,
            },
            State::HalfOpen { admitted, .. } => BreakerState::HalfOpen {
                probes_in_flight: admitted,
            },
        }
    }

    fn admit_probe(&mut self, now: OffsetDateTime) -> Result<Permit, Duration> {
        let State::HalfOpen { since, admitted } = self.state else {
            return Err(self.settings.reset_timeout);
        };
        let window_end = since + self.settings.reset_timeout;
        if admitted >= self.settings.half_open_max_calls.max(1) {
            if now < window_end {
                return Err(to_std(window_end - now));
            }
            // Probes that never reported (a cancelled call) must not wedge the
            // breaker half-open: after another reset timeout, start a new window.
            self.transition(State::HalfOpen {
                since: now,
                admitted: 0,
            });
            return self.admit_probe(now);
        }
        self.state = State::HalfOpen {
            since,
            admitted: admitted + 1,
        };
        Ok(Permit {
            epoch: self.epoch,
            probe: true,
        })
    }

    fn open(&mut self, now: OffsetDateTime) {
        self.transition(State::Open {
            until: now + self.settings.reset_timeout,
        });
    }

    fn transition(&mut self, to: State) {
        self.state = to;
        self.epoch = self.epoch.wrapping_add(1);
    }
}

/// A non-negative `time::Duration` as `std::time::Duration` (negative → zero).
fn to_std(d: time::Duration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_764_064_800).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    const SETTINGS: BreakerSettings = BreakerSettings {
        failure_threshold: 3,
        reset_timeout: Duration::from_secs(30),
        half_open_max_calls: 2,
    };

    #[test]
    fn bucket_allows_the_burst_then_refuses_with_the_wait() {
        // 100 a minute: one token every 600 ms; 20 at once.
        let mut b = TokenBucket::new(100, 20);
        assert_eq!(b.available(t0()), 20);
        for i in 0..20 {
            assert_eq!(b.try_acquire(t0()), Ok(()), "call {i}");
        }
        assert_eq!(b.available(t0()), 0);
        assert_eq!(b.try_acquire(t0()), Err(ms(600)));
        assert_eq!(b.try_acquire(t0() + ms(599)), Err(ms(1)));
        assert_eq!(b.try_acquire(t0() + ms(600)), Ok(()));
        assert_eq!(b.try_acquire(t0() + ms(600)), Err(ms(600)));
        // A long pause refills to the burst, never beyond.
        let later = t0() + Duration::from_secs(3_600);
        assert_eq!(b.available(later), 20);
        for _ in 0..20 {
            assert_eq!(b.try_acquire(later), Ok(()));
        }
        assert!(b.try_acquire(later).is_err());
    }

    #[test]
    fn bucket_holds_its_rate_over_ten_minutes() {
        // 200 a minute, burst 50, asked every 10 ms for 10 minutes.
        let mut b = TokenBucket::new(200, 50);
        let mut allowed = 0u32;
        let mut now = t0();
        let end = t0() + Duration::from_secs(600);
        while now < end {
            if b.try_acquire(now).is_ok() {
                allowed += 1;
            }
            now += ms(10);
        }
        // The burst, plus one token per 300 ms after the first call.
        assert_eq!(allowed, 50 + 2_000 - 1);
        assert!(allowed <= 50 + 200 * 10);
    }

    #[test]
    fn bucket_with_zero_settings_still_works() {
        let mut b = TokenBucket::new(0, 0);
        assert_eq!(b.try_acquire(t0()), Ok(()));
        assert_eq!(b.try_acquire(t0()), Err(Duration::from_secs(60)));
    }

    #[test]
    fn breaker_opens_at_the_threshold() {
        let mut cb = CircuitBreaker::new(SETTINGS);
        for _ in 0..2 {
            let p = cb.try_acquire(t0()).expect("closed");
            cb.on_failure(p, t0());
        }
        assert_eq!(
            cb.state(t0()),
            BreakerState::Closed {
                consecutive_failures: 2
            }
        );
        let p = cb.try_acquire(t0()).expect("still closed");
        cb.on_failure(p, t0());
        assert_eq!(
            cb.state(t0()),
            BreakerState::Open {
                retry_after_ms: 30_000
            }
        );
        assert_eq!(cb.try_acquire(t0() + ms(10_000)), Err(ms(20_000)));
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut cb = CircuitBreaker::new(SETTINGS);
        for _ in 0..2 {
            let p = cb.try_acquire(t0()).expect("closed");
            cb.on_failure(p, t0());
        }
        let p = cb.try_acquire(t0()).expect("closed");
        cb.on_success(p, t0());
        for _ in 0..2 {
            let p = cb.try_acquire(t0()).expect("closed");
            cb.on_failure(p, t0());
        }
        assert!(cb.try_acquire(t0()).is_ok());
    }

    fn opened() -> CircuitBreaker {
        let mut cb = CircuitBreaker::new(SETTINGS);
        for _ in 0..3 {
            let p = cb.try_acquire(t0()).expect("closed");
            cb.on_failure(p, t0());
        }
        cb
    }

    #[test]
    fn half_opens_after_the_reset_timeout_with_limited_probes() {
        let mut cb = opened();
        let after = t0() + SETTINGS.reset_timeout;
        assert_eq!(
            cb.state(after),
            BreakerState::HalfOpen {
                probes_in_flight: 0
            }
        );
        let p1 = cb.try_acquire(after).expect("probe 1");
        let _p2 = cb.try_acquire(after).expect("probe 2");
        assert!(cb.try_acquire(after).is_err(), "only two probes at once");
        cb.on_success(p1, after);
        assert_eq!(
            cb.state(after),
            BreakerState::Closed {
                consecutive_failures: 0
            }
        );
        assert!(cb.try_acquire(after).is_ok());
    }

    #[test]
    fn a_failed_probe_opens_it_again() {
        let mut cb = opened();
        let after = t0() + SETTINGS.reset_timeout;
        let p1 = cb.try_acquire(after).expect("probe");
        let p2 = cb.try_acquire(after).expect("probe");
        cb.on_failure(p1, after);
        assert_eq!(
            cb.state(after),
            BreakerState::Open {
                retry_after_ms: 30_000
            }
        );
        // The other probe's late success belongs to the old half-open window.
        cb.on_success(p2, after + ms(5));
        assert!(matches!(cb.state(after + ms(5)), BreakerState::Open { .. }));
    }

    #[test]
    fn a_stale_permit_cannot_close_or_reopen() {
        let mut cb = CircuitBreaker::new(SETTINGS);
        let slow = cb.try_acquire(t0()).expect("closed");
        for _ in 0..3 {
            let p = cb.try_acquire(t0()).expect("closed");
            cb.on_failure(p, t0());
        }
        cb.on_success(slow, t0() + ms(1));
        assert!(matches!(cb.state(t0() + ms(1)), BreakerState::Open { .. }));
    }

    #[test]
    fn released_probes_free_their_slot_and_lost_ones_expire() {
        let mut cb = opened();
        let after = t0() + SETTINGS.reset_timeout;
        let p1 = cb.try_acquire(after).expect("probe");
        let _lost = cb.try_acquire(after).expect("probe");
        cb.release(p1);
        let _p3 = cb.try_acquire(after).expect("freed slot");
        assert!(cb.try_acquire(after).is_err());
        // Neither probe ever reports; a reset timeout later, new probes go through.
        let much_later = after + SETTINGS.reset_timeout;
        let p = cb.try_acquire(much_later).expect("new window");
        cb.on_success(p, much_later);
        assert_eq!(
            cb.state(much_later),
            BreakerState::Closed {
                consecutive_failures: 0
            }
        );
    }

    proptest! {
        #[test]
        fn bucket_never_admits_more_than_burst_plus_rate(
            per_minute in 1u32..600,
            burst in 1u32..100,
            gaps in proptest::collection::vec(0u64..2_000, 1..400),
        ) {
            let mut b = TokenBucket::new(per_minute, burst);
            let mut now = t0();
            let mut allowed = 0u64;
            for gap in &gaps {
                now += ms(*gap);
                if b.try_acquire(now).is_ok() {
                    allowed += 1;
                }
            }
            let elapsed = (now - t0()).whole_milliseconds() as u64;
            let refilled = elapsed * u64::from(per_minute) / 60_000;
            prop_assert!(allowed <= u64::from(burst) + refilled + 1,
                "allowed {} > burst {} + refilled {}", allowed, burst, refilled);
        }

        #[test]
        fn open_breaker_never_admits_before_the_reset_timeout(
            threshold in 1u32..10,
            offsets in proptest::collection::vec(0u64..29_999, 1..20),
        ) {
            let mut cb = CircuitBreaker::new(BreakerSettings { failure_threshold: threshold, ..SETTINGS });
            for _ in 0..threshold {
                let p = cb.try_acquire(t0()).map_err(|_| TestCaseError::fail("closed"))?;
                cb.on_failure(p, t0());
            }
            for off in offsets {
                prop_assert!(cb.try_acquire(t0() + ms(off)).is_err());
            }
        }
    }
}
