//! The clock: time comes from here, so tests can move it.

use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;

    fn now_ms(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock tests move by hand. One source file serves the unit tests here and
/// the testkit crate (`shared/testkit`), which re-exports it for everyone else.
#[cfg(test)]
#[path = "../../../testkit/src/clock.rs"]
pub mod manual;
