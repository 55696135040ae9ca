//! The 30-second rules under a one-minute schedule: each scheduled run queues
//! one more evaluation half a minute later, which the worker runs; that run
//! queues none of its own.

use std::time::Duration;

use osa_app::alerts::{ALERT_STATE, AlertState};
use osa_testkit::TestApp;
use serde_json::Value;

fn scheduled_event() -> aws_lambda_events::eventbridge::EventBridgeEvent<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/eventbridge/scheduled.json"
    );
    let text = std::fs::read_to_string(path).expect("the scheduled event sample");
    serde_json::from_str(&text).expect("an EventBridge event")
}

async fn evaluated_at(app: &TestApp) -> Option<time::OffsetDateTime> {
    let stored = app
        .services
        .ops
        .load_state(ALERT_STATE)
        .await
        .expect("read");
    let state: AlertState =
        serde_json::from_value(stored.expect("alert state saved").doc).expect("alert state");
    state.evaluated_at
}

#[tokio::test]
async fn a_scheduled_run_queues_one_evaluation_half_a_minute_later() {
    let app = TestApp::new();
    let answer = alert_evaluator::handle(&app.services, scheduled_event())
        .await
        .expect("evaluated");
    assert_eq!(answer["half_minute_run_queued"], true, "{answer}");
    let first = evaluated_at(&app).await;

    // Not before its half minute.
    app.clock.advance(Duration::from_secs(29));
    assert_eq!(app.run_due_jobs().await, 0);
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(app.run_due_jobs().await, 1);
    let second = evaluated_at(&app).await;
    assert!(second > first, "{second:?} after {first:?}");

    // The delayed run queued nothing after it: one extra run per minute.
    app.clock.advance(Duration::from_secs(120));
    assert_eq!(app.run_due_jobs().await, 0);
}
