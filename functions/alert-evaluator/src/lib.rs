//! `alert-evaluator`: on each EventBridge schedule event, evaluates the alert
//! rules, records the notices and queues their
//! notifications as deliveries (`GET /api/admin/alerts` lists them); then
//! re-queues the attempts of deliveries whose queued message was lost, and
//! relays outbox items the stream relay left (`outbox::relay_stalled`).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use osa_app::ports::StoreError;
use osa_app::{Services, alerts, delivery, outbox};
use serde_json::{Value, json};

/// Evaluates once. An error (the store is down) fails the invocation, so the
/// function's Errors alarm sees it.
pub async fn handle(
    services: &Services,
    event: EventBridgeEvent<Value>,
) -> Result<Value, StoreError> {
    tracing::debug!(source = %event.source, detail_type = ?event.detail_type, "scheduled alert evaluation");
    let notices = alerts::evaluate(services).await?;
    // The rules evaluated every 30 s get their second run of the minute.
    let half_minute_queued = alerts::queue_half_minute_run(services)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "the half-minute evaluation not queued"))
        .is_ok();
    // After the alerts, so a stuck store or queue is reported first.
    let repaired = match delivery::repair_stalled(services).await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "stalled deliveries not repaired");
            0
        }
    };
    // Outbox items the stream relay left (its batch's retries spent).
    let relayed = match outbox::relay_stalled(services).await {
        Ok(done) => done.relayed,
        Err(e) => {
            tracing::error!(error = %e, "stalled outbox items not relayed");
            0
        }
    };
    Ok(json!({
        "ok": true,
        "notices": notices,
        "half_minute_run_queued": half_minute_queued,
        "deliveries_requeued": repaired,
        "outbox_relayed": relayed
    }))
}
