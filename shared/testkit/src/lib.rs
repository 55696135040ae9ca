//! Test support for every crate of the workspace (a dev-dependency only): the
//! adapter contract suites, a whole application over a throw-away store, fakes
//! for the outside world, a manual clock, and the samples every test and
//! `events/` share.

// The parent `clock` expects (see clock.rs).
use osa_app::ports::Clock;

pub mod app;
pub mod aws;
pub mod clock;
pub mod contract;
pub mod counts;
pub mod events;
pub mod fakes;
pub mod fault_proxy;
pub mod keys;
pub mod samples;

pub use app::{
    AUDIENCE, ISSUER, Reply, TestApp, TestRequest, WEBHOOK_SECRET, call, dev_keys, request,
};
pub use clock::ManualClock;
pub use fakes::{DownQueue, FakeOptimizely, NoSleep, RecordingHttp};
pub use fault_proxy::FaultProxy;
