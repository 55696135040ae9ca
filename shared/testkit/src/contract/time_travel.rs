//! How time passes in the queue cases.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::Queue;
use super::fixtures::receive_mine;
use crate::clock::ManualClock;
use osa_app::ports::{Clock, Job, ReceivedJob};

// ---- time, for the queue cases -----------------------------------------------------

/// How time passes in the queue cases. The cases speak of one time line (delays of
/// 10 to 30 s, visibility timeouts of 30 to 60 s); this maps it onto the adapter's.
#[derive(Clone)]
pub enum TimeTravel {
    /// The adapter reads this clock: a case moves it to exactly the instant it names
    /// and looks once.
    Manual(Arc<ManualClock>),
    /// The adapter runs on real time (SQS). Durations handed to it are the case's
    /// divided by `scale` and rounded up to whole seconds (SQS's unit). "Not yet
    /// visible" is checked by receiving again and again until shortly before the
    /// instant; "gone for good" until shortly after the instant at which it would
    /// have come back; "visible by then" by receiving until it shows up, within a
    /// deadline. No fixed sleeps: a slow machine makes the cases slower, not flaky.
    Real { scale: u32 },
}

/// An instant on a case's time line.
#[derive(Clone, Copy, Debug)]
pub enum Mark {
    Manual(OffsetDateTime),
    Real(std::time::Instant),
}

/// Pause between two receives while polling in real time.
const POLL: Duration = Duration::from_millis(100);
/// How long past its instant a job may take to show up in real time.
const SHOW_UP_SLACK: Duration = Duration::from_secs(5);

impl TimeTravel {
    /// What the adapter is handed for the case's `d`.
    pub fn span(&self, d: Duration) -> Duration {
        match self {
            TimeTravel::Manual(_) => d,
            TimeTravel::Real { .. } if d.is_zero() => d,
            TimeTravel::Real { .. } => {
                Duration::from_secs(self.real(d).as_secs_f64().ceil() as u64)
            }
        }
    }

    /// The real length of the case's `d` (unrounded).
    pub(super) fn real(&self, d: Duration) -> Duration {
        match self {
            TimeTravel::Manual(_) => d,
            TimeTravel::Real { scale } => d / (*scale).max(1),
        }
    }

    pub fn mark(&self) -> Mark {
        match self {
            TimeTravel::Manual(clock) => Mark::Manual(clock.now()),
            TimeTravel::Real { .. } => Mark::Real(std::time::Instant::now()),
        }
    }

    /// Manual time: moves the clock to `from + at` (never backwards).
    pub(super) fn manual_move(clock: &ManualClock, from: OffsetDateTime, at: Duration) {
        let to = from + at;
        if to > clock.now() {
            clock.set(to);
        }
    }

    /// Asserts that none of `mine` can be received from now until `at` after
    /// `from`: a delay or a visibility timeout not yet over. Real time stops
    /// watching a little before `at`, so a slow endpoint cannot fail it.
    pub(super) async fn hidden_until(
        &self,
        queue: &Queue,
        mine: &[Job],
        visibility: Duration,
        from: Mark,
        at: Duration,
        why: &str,
    ) {
        let real = self.real(at);
        let watch = real - (real / 4).min(Duration::from_millis(500));
        self.none_received(queue, mine, visibility, from, at, watch, why)
            .await;
    }

    /// Asserts that none of `mine` can be received once `at` after `from` has
    /// passed: what was acked stays gone (real time watches a second longer).
    pub(super) async fn gone_after(
        &self,
        queue: &Queue,
        mine: &[Job],
        visibility: Duration,
        from: Mark,
        at: Duration,
        why: &str,
    ) {
        let watch = self.real(at) + Duration::from_secs(1);
        self.none_received(queue, mine, visibility, from, at, watch, why)
            .await;
    }

    /// Manual time: moves to `from + at` and receives nothing. Real time: keeps
    /// receiving nothing until `watch` after `from`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn none_received(
        &self,
        queue: &Queue,
        mine: &[Job],
        visibility: Duration,
        from: Mark,
        at: Duration,
        watch: Duration,
        why: &str,
    ) {
        match (self, from) {
            (TimeTravel::Manual(clock), Mark::Manual(t)) => {
                Self::manual_move(clock, t, at);
                let got = receive_mine(queue, mine, 10, visibility).await;
                assert!(got.is_empty(), "{why}: {got:?}");
            }
            (TimeTravel::Real { .. }, Mark::Real(t)) => {
                let until = t + watch;
                loop {
                    let got = receive_mine(queue, mine, 10, visibility).await;
                    assert!(got.is_empty(), "{why} ({:?} in): {got:?}", t.elapsed());
                    if std::time::Instant::now() >= until {
                        return;
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
            _ => panic!("a mark from another time line"),
        }
    }

    /// Receives up to `max` of `mine` once `at` after `from` has passed (real time:
    /// as soon as any shows up, giving up a little after `at`).
    pub(super) async fn received_by(
        &self,
        queue: &Queue,
        mine: &[Job],
        max: usize,
        visibility: Duration,
        from: Mark,
        at: Duration,
    ) -> Vec<ReceivedJob> {
        match (self, from) {
            (TimeTravel::Manual(clock), Mark::Manual(t)) => {
                Self::manual_move(clock, t, at);
                receive_mine(queue, mine, max, visibility).await
            }
            (TimeTravel::Real { .. }, Mark::Real(t)) => {
                let deadline = t + self.real(at) + SHOW_UP_SLACK;
                loop {
                    let got = receive_mine(queue, mine, max, visibility).await;
                    if !got.is_empty() || std::time::Instant::now() >= deadline {
                        return got;
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
            _ => panic!("a mark from another time line"),
        }
    }
}
