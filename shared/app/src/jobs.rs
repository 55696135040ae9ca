//! The background worker's dispatcher: one queued job to the feature that owns
//! it. No other module of `app` imports this one.

use std::time::Duration;

use crate::ports::{Job, ReceivedJob};

use super::delivery::{self, opal};
use super::{JobError, Services, alerts, deadlines, sync};

/// Runs one job. `Ok` means it is finished with (done, or given up on) and can
/// be acked; an error leaves it to come back after its visibility timeout.
/// Every job is idempotent, so how often it came does not matter.
pub async fn run(services: &Services, job: &Job) -> Result<(), JobError> {
    match job {
        Job::TriggerOpal { workflow_id } => opal::trigger_opal_job(services, workflow_id).await,
        Job::Deliver {
            delivery_id,
            run,
            attempt,
        } => delivery::deliver(services, *delivery_id, *run, *attempt).await,
        Job::CheckDeadlines { workflow_id } => {
            deadlines::check_deadlines(services, workflow_id).await
        }
        Job::RetriggerAgent { workflow_id, agent } => {
            opal::retrigger_agent(services, workflow_id, *agent).await
        }
        Job::ForceSync {
            workflow_id,
            sync_id,
        } => sync::run_job(services, workflow_id, sync_id).await,
        Job::EvaluateAlerts => {
            alerts::evaluate(services).await?;
            Ok(())
        }
    }
}

/// Runs a received job and acks it when it is finished with. True when it was.
pub async fn process(services: &Services, received: &ReceivedJob) -> bool {
    match run(services, &received.job).await {
        Ok(()) => match services.queue.ack(&received.receipt).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "could not ack a finished job");
                false
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "job failed; it will be retried");
            false
        }
    }
}

/// How long a received job stays hidden from other receivers: longer than the
/// slowest job (an OPAL trigger may wait 45 s), so a job in flight is never
/// handed out twice.
pub const VISIBILITY: Duration = Duration::from_secs(60);
