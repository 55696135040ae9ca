//! The result-ready notification: when a workflow finishes, its signed summary
//! goes to the intake's `notify_url` as a delivery (`domain::notification`).

use osa_domain::notification;
use osa_domain::workflow::Workflow;

use super::Services;
use super::delivery::enqueue_delivery;

/// [`finished`] for a workflow not read yet: reads it first.
pub async fn workflow_finished(services: &Services, workflow_id: &str) {
    match services.store.get_workflow(workflow_id).await {
        Ok(Some(workflow)) => finished(services, &workflow).await,
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, workflow_id, "result notification not queued");
        }
    }
}

/// Queues the notification of a finished workflow, as read after it finished,
/// if its intake asked for one. The delivery's id is the workflow's own, so a
/// finish announced twice is notified once. Best effort like the rest of
/// publishing: the outcome is durable and readable whatever happens here.
pub async fn finished(services: &Services, workflow: &Workflow) {
    let workflow_id = workflow.id();
    let Some(url) = workflow.notify_url() else {
        return;
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
    let queued = match notification::delivery(&finished, url, services.clock.now()) {
        Ok(delivery) => enqueue_delivery(services, delivery).await.map(|_| ()),
        Err(e) => {
            tracing::error!(error = %e, workflow_id, "result notification refused");
            return;
        }
    };
    if let Err(e) = queued {
        tracing::error!(error = %e, workflow_id, alert_signal = "result_notification_lost", "result notification not queued");
    }
}
