//! The job queue over SQS (a standard queue with a dead-letter queue; see
//! `aws::ensure_queues`).
//!
//! Receipts: SQS happily deletes a message through an *older* receipt handle of it,
//! after someone else has received it again. The port promises that such a stale
//! receipt deletes nothing, so a receipt here is a lease: `<lease end, unix ms>:<SQS
//! receipt handle>`. The lease ends when the visibility timeout asked for ends,
//! counted from just before the receive was sent, so it never outlasts the real one.
//! Acking within the lease deletes the message (nobody else can have received it:
//! it is invisible); acking after it does nothing, and the job comes back, as a job
//! does whose worker took longer than its visibility timeout.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::timeout::TimeoutConfig;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use super::{ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, OPERATION_TIMEOUT, describe};
use osa_app::ports::{Job, JobQueue, QueueError, ReceivedJob};

/// The longest delay SQS accepts.
const MAX_DELAY_SECS: u64 = 900;
/// The longest visibility timeout SQS accepts.
const MAX_VISIBILITY_SECS: u64 = 12 * 3600;
/// Messages one `ReceiveMessage` returns at most.
const MAX_PER_RECEIVE: usize = 10;
/// The longest long poll SQS accepts.
const MAX_WAIT_SECS: u64 = 20;

/// `JobQueue` over one SQS queue. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    url: Arc<str>,
    wait: Duration,
}

impl SqsQueue {
    /// A queue that long-polls for up to one second when nothing is visible.
    pub fn new(client: Client, url: impl Into<Arc<str>>) -> Self {
        SqsQueue {
            client,
            url: url.into(),
            wait: Duration::from_secs(1),
        }
    }

    /// How long `receive` waits for a first message (whole seconds, at most 20; zero
    /// for a short poll that answers at once).
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait.min(Duration::from_secs(MAX_WAIT_SECS));
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

fn unavailable<E, R>(operation: &str, e: &aws_sdk_sqs::error::SdkError<E, R>) -> QueueError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    QueueError::Unavailable(format!("sqs {}", describe(operation, e)))
}

/// A long poll waits `wait_secs` for a message before it answers: its attempts
/// get that much more than the call budget every other call has.
fn long_poll_budget(wait_secs: i32) -> aws_sdk_sqs::config::Builder {
    let wait = Duration::from_secs(u64::try_from(wait_secs).unwrap_or(0));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT + wait)
        .operation_timeout(OPERATION_TIMEOUT + wait)
        .build();
    aws_sdk_sqs::config::Builder::default().timeout_config(timeouts)
}

/// Whole seconds, rounded up (a delay is never shorter than asked), at most `max`.
fn whole_secs(d: Duration, max: u64) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs.min(max)).unwrap_or(i32::MAX)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn enqueue(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        let body = serde_json::to_string(job)
            .map_err(|e| QueueError::Corrupt(format!("encoding a job: {e}")))?;
        self.client
            .send_message()
            .queue_url(self.url.as_ref())
            .message_body(body)
            .delay_seconds(whole_secs(delay, MAX_DELAY_SECS))
            .send()
            .await
            .map_err(|e| unavailable("SendMessage", &e))?;
        Ok(())
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(self.url.as_ref())
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| unavailable("GetQueueAttributes", &e))?;
        Ok(out
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedJob>, QueueError> {
        let visibility_secs = whole_secs(visibility, MAX_VISIBILITY_SECS);
        let mut received = Vec::new();
        let mut first = true;
        while received.len() < max {
            let want = (max - received.len()).min(MAX_PER_RECEIVE);
            // Only the first call waits: later ones take what is there already.
            let wait = if first {
                whole_secs(self.wait, MAX_WAIT_SECS)
            } else {
                0
            };
            first = false;
            let lease_end = now_ms().saturating_add(i64::from(visibility_secs) * 1000);
            let out = self
                .client
                .receive_message()
                .queue_url(self.url.as_ref())
                .max_number_of_messages(i32::try_from(want).unwrap_or(10))
                .visibility_timeout(visibility_secs)
                .wait_time_seconds(wait)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .customize()
                .config_override(long_poll_budget(wait))
                .send()
                .await
                .map_err(|e| unavailable("ReceiveMessage", &e))?;
            let messages = out.messages.unwrap_or_default();
            let got = messages.len();
            for message in messages {
                let Some(handle) = message.receipt_handle() else {
                    continue;
                };
                let receive_count = message
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                match serde_json::from_str::<Job>(message.body().unwrap_or_default()) {
                    Ok(job) => received.push(ReceivedJob {
                        receipt: format!("{lease_end}:{handle}"),
                        job,
                        receive_count,
                    }),
                    // An unreadable message must not wedge the queue: it stays hidden
                    // for the visibility timeout, comes back, and after the redrive
                    // policy's receives lands in the dead-letter queue.
                    Err(e) => tracing::error!(
                        message_id = message.message_id().unwrap_or_default(),
                        error = %e,
                        "unreadable queued job"
                    ),
                }
            }
            if got < want {
                break;
            }
        }
        Ok(received)
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        let Some((lease_end, handle)) = receipt.split_once(':') else {
            return Ok(());
        };
        let Ok(lease_end) = lease_end.parse::<i64>() else {
            return Ok(());
        };
        if now_ms() >= lease_end {
            // Stale: the message may have been received again since. It comes back.
            tracing::debug!("ack after the visibility timeout: the job will run again");
            return Ok(());
        }
        match self
            .client
            .delete_message()
            .queue_url(self.url.as_ref())
            .receipt_handle(handle)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_receipt_handle_is_invalid() || s.is_invalid_id_format()
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable("DeleteMessage", &e)),
        }
    }
}
