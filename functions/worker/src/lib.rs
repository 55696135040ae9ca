//! `worker`: consumes the job queue (SQS) and reports partial batch failures, so
//! only the jobs that failed are retried (and, after the redrive limit, dead-lettered).

use std::collections::HashMap;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use osa_app::ports::Job;
use osa_app::{Services, jobs};
use tokio::task::JoinSet;
use tracing::Instrument;

/// Runs every record of the batch concurrently; the response names the ones to retry.
pub async fn handle(services: &Services, event: SqsEvent) -> SqsBatchResponse {
    let mut tasks = JoinSet::new();
    let mut message_ids = HashMap::new();
    for record in event.records {
        let services = services.clone();
        let message_id = record.message_id.clone().unwrap_or_default();
        let handle = tasks.spawn(async move { run_record(&services, record).await });
        message_ids.insert(handle.id(), message_id);
    }
    let mut failed = Vec::new();
    while let Some(joined) = tasks.join_next_with_id().await {
        let (task, ok) = match joined {
            Ok((task, outcome)) => (task, outcome.is_ok()),
            Err(e) => {
                tracing::error!(error = %e, "job panicked");
                (e.id(), false)
            }
        };
        if !ok && let Some(id) = message_ids.remove(&task) {
            failed.push(id);
        }
    }
    failed.sort();
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|item_identifier| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = item_identifier;
            failure
        })
        .collect();
    response
}

async fn run_record(services: &Services, record: SqsMessage) -> Result<(), ()> {
    let receive_count = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(1);
    let job: Job = match record.body.as_deref().map(serde_json::from_str) {
        Some(Ok(job)) => job,
        _ => {
            // Kept, not dropped: it fails until the redrive policy moves it to the DLQ.
            tracing::error!(message_id = ?record.message_id, "unreadable job message");
            return Err(());
        }
    };
    // The job's span: its workflow id becomes an X-Ray annotation (osa_aws::xray).
    let span = match workflow_of(&job) {
        Some(id) => tracing::info_span!("job", workflow_id = %id),
        None => tracing::info_span!("job"),
    };
    jobs::run(services, &job)
        .instrument(span)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, receive_count, "job failed; SQS will redeliver it");
        })
}

/// The workflow a job is about, when it names one (a delivery names its delivery).
fn workflow_of(job: &Job) -> Option<&str> {
    match job {
        Job::TriggerOpal { workflow_id }
        | Job::CheckDeadlines { workflow_id }
        | Job::RetriggerAgent { workflow_id, .. }
        | Job::ForceSync { workflow_id, .. } => Some(workflow_id),
        Job::Deliver { .. } | Job::EvaluateAlerts => None,
    }
}
