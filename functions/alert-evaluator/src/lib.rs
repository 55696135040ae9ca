//! `alert-evaluator`: on each EventBridge schedule event, evaluates the alert
//! rules, records the notices and queues their
//! notifications as deliveries (`GET /api/admin/alerts` lists them).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use osa_shared::app::{Services, alerts};
use osa_shared::ports::StoreError;
use serde_json::{Value, json};

/// Evaluates once. An error (the store is down) fails the invocation, so the
/// function's Errors alarm sees it.
pub async fn handle(
    services: &Services,
    event: EventBridgeEvent<Value>,
) -> Result<Value, StoreError> {
    tracing::debug!(source = %event.source, detail_type = ?event.detail_type, "scheduled alert evaluation");
    let notices = alerts::evaluate(services).await?;
    Ok(json!({ "ok": true, "notices": notices }))
}
