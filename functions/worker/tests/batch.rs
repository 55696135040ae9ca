//! The worker handler on SQS batches: partial failures name exactly the failed records.

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use osa_shared::app::intake::submit;
use osa_shared::ports::OutboundError;
use osa_shared::testkit::TestApp;
use serde_json::json;

fn message(id: &str, body: &str) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.to_owned());
    m.body = Some(body.to_owned());
    m.attributes
        .insert("ApproximateReceiveCount".into(), "1".into());
    m
}

async fn workflow(app: &TestApp) -> String {
    let intake = json!({
        "business_context": {"company_name": "Acme", "industry": "retail", "goals": ["Grow"],
                             "target_audience": "Outdoor enthusiasts everywhere"},
        "optimizely_config": {"project_id": "1", "workspace_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
        "analysis_preferences": {"analysis_depth": "basic", "focus_areas": ["content"], "timeline": "30d"}
    });
    submit(&app.services, intake.to_string().as_bytes(), "c")
        .await
        .unwrap()
        .workflow
        .id
}

fn batch(messages: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages;
    event
}

#[tokio::test]
async fn good_jobs_succeed_and_bad_ones_are_reported() {
    let app = TestApp::new();
    let id = workflow(&app).await;
    let job = json!({"type": "trigger_opal", "workflow_id": id}).to_string();
    let response = worker::handle(
        &app.services,
        batch(vec![
            message("m-ok", &job),
            message("m-garbage", "{not a job"),
            message("m-unknown-type", r#"{"type":"launch_rockets"}"#),
        ]),
    )
    .await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["m-garbage", "m-unknown-type"]);
    assert_eq!(app.http.sent().len(), 1, "the good job sent its trigger");
}

#[tokio::test]
async fn a_failing_trigger_is_reported_for_retry() {
    let app = TestApp::new();
    app.http.respond_with(Err(OutboundError::Timeout));
    let id = workflow(&app).await;
    let job = json!({"type": "trigger_opal", "workflow_id": id}).to_string();
    let response = worker::handle(&app.services, batch(vec![message("m-1", &job)])).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(response.batch_item_failures[0].item_identifier, "m-1");
}
