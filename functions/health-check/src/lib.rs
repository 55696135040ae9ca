//! `health-check`: on each EventBridge schedule event, runs the health check
//! matrix, folds the results into the stored per-service state and
//! stores the system report (`GET /api/admin/guardrails-health` reads it).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use osa_app::ports::StoreError;
use osa_app::{Services, health};
use serde_json::{Value, json};

/// Runs the matrix once. An error (the store is down) fails the invocation, so
/// the function's Errors alarm sees it.
pub async fn handle(
    services: &Services,
    event: EventBridgeEvent<Value>,
) -> Result<Value, StoreError> {
    tracing::debug!(source = %event.source, detail_type = ?event.detail_type, "scheduled health check");
    let report = health::run_checks(services).await?;
    Ok(json!({ "ok": true, "report": report }))
}
