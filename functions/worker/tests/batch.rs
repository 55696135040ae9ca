//! The worker handler on SQS batches: partial failures name exactly the failed records.

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use osa_app::ports::OutboundError;
use osa_testkit::TestApp;
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
    app.start_workflow().await
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

/// A failed attempt is not a failed message: the delivery queues its own next
/// attempt on the backoff schedule, so SQS's redelivery is not what retries it.
#[tokio::test]
async fn a_failing_trigger_queues_its_next_attempt() {
    let app = TestApp::new();
    app.http.respond_with(Err(OutboundError::Timeout));
    let id = workflow(&app).await;
    let job = json!({"type": "trigger_opal", "workflow_id": id}).to_string();
    let response = worker::handle(&app.services, batch(vec![message("m-1", &job)])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(app.http.sent().len(), 1);
    app.clock.advance(std::time::Duration::from_secs(3));
    let queued = app
        .services
        .queue
        .receive(10, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        queued
            .iter()
            .any(|j| matches!(j.job, osa_app::ports::Job::Deliver { attempt: 2, .. })),
        "{queued:?}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// Queue message bodies are untrusted bytes as well: any that is not a job
    /// is reported as that record's failure (and, after five receives, lands in
    /// the dead-letter queue); nothing panics and no other record is blamed.
    #[test]
    fn unreadable_bodies_fail_only_their_own_record(body in "\\PC{0,300}") {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let app = TestApp::new();
        let response = rt.block_on(worker::handle(
            &app.services,
            batch(vec![message("m-fuzz", &body)]),
        ));
        let parsed = serde_json::from_str::<osa_app::ports::Job>(&body);
        let failed = response.batch_item_failures.len();
        if parsed.is_err() {
            proptest::prop_assert_eq!(failed, 1);
            proptest::prop_assert_eq!(response.batch_item_failures[0].item_identifier.as_str(), "m-fuzz");
        } else {
            proptest::prop_assert!(failed <= 1);
        }
    }
}
