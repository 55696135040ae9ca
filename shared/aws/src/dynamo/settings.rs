//! The DynamoDB store's tunables.

use std::time::Duration;

use super::metric_items::DEFAULT_SHARDS;

/// Tunables, with the defaults the design names.
#[derive(Debug, Clone, Copy)]
pub struct DynamoSettings {
    /// Workflow items (the workflow, agents, results, seen events) expire this long
    /// after the workflow was created.
    pub workflow_retention: Duration,
    /// Audit entries expire this long after they were received.
    pub audit_retention: Duration,
    /// Items each marker is spread over (write sharding); a read takes the maximum.
    pub marker_shards: u16,
    /// Creation days `recent_workflows` walks back at most, starting tomorrow (UTC).
    pub recent_days: u16,
    /// Attempts of one `record_event` or `update_workflow` that keeps losing races.
    pub max_attempts: u32,
    /// Writes to one workflow from this process queue behind one of this many
    /// locks (by workflow id) instead of racing each other through DynamoDB, where
    /// every lost race is a cancelled transaction (billed, and retried). Writers in
    /// other processes still race, and the conditions settle it. Zero: no locks.
    pub local_lock_stripes: u16,
    /// Shards `record_event` spreads the counts it writes over: the metrics
    /// store on the same table must read at least as many
    /// (`DynamoMetrics::with_shards`).
    pub metric_shards: u16,
}

impl Default for DynamoSettings {
    fn default() -> Self {
        DynamoSettings {
            workflow_retention: Duration::from_secs(90 * 24 * 3600),
            audit_retention: Duration::from_secs(400 * 24 * 3600),
            marker_shards: 64,
            recent_days: 31,
            max_attempts: 32,
            local_lock_stripes: 64,
            metric_shards: DEFAULT_SHARDS,
        }
    }
}
