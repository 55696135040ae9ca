//! The job queue: delayed messages for the background worker.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::QueueError;

/// Work for the background worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// Send the OPAL trigger for a workflow.
    TriggerOpal { workflow_id: String },
    /// Time out the agents (and the workflow) whose deadlines have passed, then
    /// schedule the next check. Delayed messages, so no scan is ever needed.
    CheckDeadlines { workflow_id: String },
    /// Trigger one timed-out agent again, with a reduced scope.
    RetriggerAgent {
        workflow_id: String,
        agent: osa_domain::AgentId,
    },
    /// Re-trigger the OPAL workflow on demand (Force Sync).
    ForceSync {
        workflow_id: String,
        sync_id: String,
    },
    /// Send attempt `attempt` of run `run` of an outbound delivery
    /// (`app::delivery`); stale or repeated messages are acked without sending.
    Deliver {
        delivery_id: uuid::Uuid,
        run: u32,
        attempt: u32,
    },
    /// Evaluate the alert rules half a minute after the scheduled run: the
    /// spec's 30 s rules under EventBridge's one-minute minimum (`app::alerts`).
    EvaluateAlerts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedJob {
    /// Identifies this receipt; pass it to `ack`.
    pub receipt: String,
    pub job: Job,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
}

#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn enqueue(&self, job: &Job, delay: Duration) -> Result<(), QueueError>;
    /// Up to `max` visible jobs, hidden from other receivers for `visibility`.
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedJob>, QueueError>;
    async fn ack(&self, receipt: &str) -> Result<(), QueueError>;
    /// How many messages wait, visible now (approximate on SQS): a cheap read
    /// that proves the queue answers, for the intake's health probe.
    async fn depth(&self) -> Result<u64, QueueError>;
}

/// The longest delay SQS allows on a message; longer waits are chained.
pub const MAX_QUEUE_DELAY: Duration = Duration::from_secs(900);

/// The queue delay that makes a message visible at `at`: whole seconds, rounded
/// up so it never comes early, at most [`MAX_QUEUE_DELAY`].
pub fn delay_until(now: OffsetDateTime, at: OffsetDateTime) -> Duration {
    let ms = u64::try_from((at - now).whole_milliseconds().max(0)).unwrap_or(u64::MAX);
    let secs = ms.div_ceil(1000);
    Duration::from_secs(secs).min(MAX_QUEUE_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_and_stop_at_the_queue_limit() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(
            delay_until(t0, t0 - time::Duration::seconds(5)),
            Duration::ZERO
        );
        assert_eq!(
            delay_until(t0, t0 + time::Duration::milliseconds(1500)),
            Duration::from_secs(2)
        );
        assert_eq!(
            delay_until(t0, t0 + time::Duration::hours(2)),
            MAX_QUEUE_DELAY
        );
    }
}
