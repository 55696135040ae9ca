//! Operations state: metrics aggregated across instances, named state
//! documents (health report, alert state, the maintenance switch), and the
//! operators' activity feed.

use async_trait::async_trait;

use super::StoreError;
use osa_domain::activity::Activity;

/// Metrics that are right across every instance: each observation becomes
/// additive cell updates (`domain::metrics`) applied atomically in the store, so
/// any number of Lambda instances can count at once without losing an increment.
/// Adapters may spread one series over several shards (hot partitions); a read
/// sums them.
#[async_trait]
pub trait MetricsStore: Send + Sync {
    /// Applies every observation. Durable when it returns.
    async fn record(
        &self,
        observations: &[osa_domain::metrics::Observation],
    ) -> Result<(), StoreError>;

    /// Applies every observation once per `key`: a second call with the same
    /// key changes nothing (a relay that ran twice). True when applied now.
    /// The key is kept in the same atomic write as the counts.
    async fn record_once(
        &self,
        key: &str,
        observations: &[osa_domain::metrics::Observation],
    ) -> Result<bool, StoreError>;

    /// Every series, shards summed.
    async fn snapshot(&self) -> Result<osa_domain::metrics::Snapshot, StoreError>;

    /// How long statistics that may be late (the API's request counts and
    /// latencies) wait to be written together: a store whose every write is a
    /// remote call pays one write per series a window instead of one a request.
    /// Zero writes each at once.
    fn batch_window(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// A named JSON document of operational state (health report, alert state, the
/// maintenance switch) with a version for compare-and-set.
#[derive(Debug, Clone, PartialEq)]
pub struct StateDoc {
    pub version: i64,
    pub doc: serde_json::Value,
}

#[async_trait]
pub trait OpsStore: Send + Sync {
    async fn load_state(&self, name: &str) -> Result<Option<StateDoc>, StoreError>;

    /// Saves `doc` as version `expected + 1` (1 when `expected` is `None`, which
    /// requires that none exists). Returns false, saving nothing, when the stored
    /// version is not `expected`: someone else saved first.
    async fn save_state(
        &self,
        name: &str,
        doc: &serde_json::Value,
        expected: Option<i64>,
    ) -> Result<bool, StoreError>;
}

/// What happened in the system, numbered in order: what the admin stream and
/// the Operations page follow.
#[async_trait]
pub trait ActivityFeed: Send + Sync {
    /// Appends to the system's activity feed; answers the number it got
    /// (1, 2, ... in the order appended). Durable when it returns.
    async fn append_activity(&self, activity: &Activity) -> Result<u64, StoreError>;

    /// [`Self::append_activity`] once per `key`: a second call with the same
    /// key appends nothing and answers `None` (a relay that ran twice).
    async fn append_activity_once(
        &self,
        key: &str,
        activity: &Activity,
    ) -> Result<Option<u64>, StoreError>;

    /// The activities numbered after `after`, oldest first, at most `limit`,
    /// with no gap: a number taken by an append that has not yet committed ends
    /// the answer until it commits (or is given up after a while).
    async fn activity_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Activity)>, StoreError>;

    /// The number of the latest activity (0 when there is none).
    async fn last_activity(&self) -> Result<u64, StoreError>;
}
