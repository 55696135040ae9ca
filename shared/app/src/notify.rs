//! The result-ready notification: when a workflow finishes, its signed summary
//! goes to the intake's `notify_url` as a delivery (`domain::notification`),
//! created by the outbox's relay.

use osa_domain::notification;
use osa_domain::workflow::Workflow;

use super::Services;
use super::delivery::enqueue_delivery;

/// Queues the notification of a finished workflow, as read after it finished,
/// if its intake asked for one. The delivery's id is derived from `item_id`,
/// the outbox item of the finish, so a relay that runs twice creates (and the
/// receiver sees) one delivery. `Err`: not created; the relay tries again.
pub async fn finished(
    services: &Services,
    item_id: &str,
    workflow: &Workflow,
) -> Result<(), String> {
    let workflow_id = workflow.id();
    let Some(url) = workflow.notify_url() else {
        return Ok(());
    };
    let status_url = services.status_url(workflow.id());
    let finished = notification::Finished {
        workflow_id: workflow.id(),
        status: workflow.status().as_str(),
        progress_percent: workflow.progress_percent(),
        created_at: workflow.created_at(),
        finished_at: workflow.finished_at(),
        status_url: &status_url,
    };
    let delivery = match notification::delivery(&finished, item_id, url, services.clock.now()) {
        Ok(delivery) => delivery,
        Err(e) => {
            // Refused for good (a URL the policy refuses): nothing to retry.
            tracing::error!(error = %e, workflow_id, "result notification refused");
            return Ok(());
        }
    };
    enqueue_delivery(services, delivery).await.map(|_| ()).map_err(|e| {
        tracing::error!(error = %e, workflow_id, alert_signal = "result_notification_delayed", "result notification not queued yet");
        e.to_string()
    })
}
