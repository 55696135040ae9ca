//! The result-ready notification (spec step 5): an intake names a `notify_url`;
//! when its workflow finishes, a signed summary goes there as a delivery, once,
//! retried and dead-lettered like any other.

use std::sync::Arc;
use std::time::Duration;

use osa_app::config::NotifyConfig;
use osa_app::intake::{IntakeError, submit};
use osa_app::ports::{Clock, DomainEvent, OutboundError};
use osa_domain::AgentId;
use osa_domain::delivery::{DeliveryKind, DeliveryStatus};
use osa_domain::notification::{TargetPolicy, delivery_id};
use osa_domain::signature::{SignatureConfig, verify};
use osa_domain::validation::InvalidBody;
use osa_domain::{Secret, workflow::WorkflowStatus};
use osa_testkit::TestApp;
use serde_json::Value;

const HOOK: &str = "https://hooks.example.com/osa-done";
const NOTIFY_SECRET: &str = "notify-secret-for-tests";

fn app_with(targets: TargetPolicy, secret: Option<&str>) -> TestApp {
    let mut app = TestApp::new();
    let mut config = (*app.services.config).clone();
    config.notify = NotifyConfig {
        signing_secret: secret.map(Secret::new),
        targets,
    };
    app.services.config = Arc::new(config);
    app
}

async fn submit_with(app: &TestApp, notify_url: &str) -> Result<String, IntakeError> {
    let mut intake = osa_testkit::samples::intake();
    intake["notify_url"] = Value::from(notify_url);
    let submitted = submit(&app.services, intake.to_string().as_bytes(), "corr-n").await?;
    app.run_due_jobs().await; // the OPAL trigger
    Ok(submitted.workflow.id().to_owned())
}

async fn finish(app: &TestApp, id: &str) {
    for agent in AgentId::ALL {
        app.send_agent_event(id, agent, "completed").await;
    }
    let w = app.services.store.get_workflow(id).await.unwrap().unwrap();
    assert_eq!(w.status(), WorkflowStatus::Completed);
}

fn notifications(app: &TestApp) -> Vec<osa_app::ports::OutboundRequest> {
    app.http
        .sent()
        .into_iter()
        .filter(|r| r.url == HOOK)
        .collect()
}

fn header<'a>(request: &'a osa_app::ports::OutboundRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn a_finished_workflow_notifies_its_url_once_signed() {
    let app = app_with(TargetPolicy::Public, Some(NOTIFY_SECRET));
    let id = submit_with(&app, HOOK).await.expect("intake");
    assert!(notifications(&app).is_empty(), "nothing before it finishes");
    finish(&app, &id).await;
    app.run_due_jobs().await;
    let sent = notifications(&app);
    assert_eq!(sent.len(), 1);
    let request = &sent[0];
    // Signed with the notification secret, over the body as sent.
    let signature = header(request, "X-OSA-Signature");
    let now_ms = app.clock.now_ms();
    let ours = SignatureConfig::new(vec![Secret::new(NOTIFY_SECRET)]);
    assert_eq!(verify(signature, &request.body, now_ms, &ours), Ok(()));
    let webhook_secret = SignatureConfig::new(vec![Secret::new(osa_testkit::WEBHOOK_SECRET)]);
    assert!(
        verify(signature, &request.body, now_ms, &webhook_secret).is_err(),
        "its own secret, not the webhooks'"
    );
    // And the Standard Webhooks way, the message id being the delivery's.
    let standard = osa_domain::standard_webhooks::Signed {
        id: header(request, "webhook-id").expect("webhook-id"),
        timestamp: header(request, "webhook-timestamp").expect("webhook-timestamp"),
        signature: header(request, "webhook-signature").expect("webhook-signature"),
    };
    assert_eq!(Some(standard.id), header(request, "X-Webhook-ID"));
    assert_eq!(
        osa_domain::standard_webhooks::verify(&standard, &request.body, now_ms, &ours),
        Ok(())
    );
    assert!(
        osa_domain::standard_webhooks::verify(&standard, b"{}", now_ms, &ours).is_err(),
        "bound to the body"
    );
    let body: Value = serde_json::from_slice(&request.body).expect("json");
    assert_eq!(body["event"], "workflow.finished");
    assert_eq!(body["workflow_id"], id.as_str());
    assert_eq!(body["status"], "completed");
    assert_eq!(
        body["report_url"],
        format!("http://osa.test/api/strategy/workflows/{id}/report")
    );
    assert_eq!(
        header(request, "X-Webhook-ID"),
        Some(
            delivery_id(&finish_item(&app, &id).await.id)
                .to_string()
                .as_str()
        )
    );

    // The finish relayed again (a relay that died before marking it, a
    // redelivered stream record): no second one.
    let item = finish_item(&app, &id).await;
    osa_app::outbox::relay(&app.services, &item)
        .await
        .expect("relayed again");
    app.run_due_jobs().await;
    assert_eq!(notifications(&app).len(), 1);
    let delivery = app
        .services
        .deliveries
        .get_delivery(delivery_id(&finish_item(&app, &id).await.id))
        .await
        .unwrap()
        .expect("a delivery");
    assert_eq!(delivery.kind, DeliveryKind::ResultNotification);
    assert!(matches!(delivery.status, DeliveryStatus::Delivered { .. }));
    assert!(
        !serde_json::to_string(&delivery)
            .unwrap()
            .contains(NOTIFY_SECRET),
        "the secret is named, never stored"
    );
}

#[tokio::test]
async fn a_dead_target_is_retried_then_dead_lettered_and_erasure_takes_it() {
    let app = app_with(TargetPolicy::Public, Some(NOTIFY_SECRET));
    let id = submit_with(&app, HOOK).await.expect("intake");
    app.http
        .respond_with(Err(OutboundError::Connect("refused".into())));
    finish(&app, &id).await;
    app.run_due_jobs().await;
    app.advance_running_jobs(Duration::from_secs(60), Duration::from_secs(1))
        .await;
    assert_eq!(notifications(&app).len(), 5, "five attempts");
    let dead = app.services.deliveries.dead_lettered(10).await.unwrap();
    let notified = delivery_id(&finish_item(&app, &id).await.id);
    assert!(dead.iter().any(|d| d.id == notified), "{dead:?}");

    let admin = osa_domain::access::Caller {
        subject: "admin".into(),
        scopes: ["osa:admin".to_owned()].into_iter().collect(),
    };
    osa_app::admin::erase_workflow(&app.services, &admin, &id, None)
        .await
        .unwrap()
        .expect("erased");
    assert_eq!(
        app.services
            .deliveries
            .get_delivery(notified)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn without_its_secret_a_notification_fails_by_name() {
    let app = app_with(TargetPolicy::Public, None);
    let id = submit_with(&app, HOOK).await.expect("intake");
    finish(&app, &id).await;
    app.run_due_jobs().await;
    assert!(notifications(&app).is_empty(), "never sent unsigned");
    let delivery = app
        .services
        .deliveries
        .get_delivery(delivery_id(&finish_item(&app, &id).await.id))
        .await
        .unwrap()
        .expect("a delivery");
    let error = delivery.attempts[0].error.clone().unwrap_or_default();
    assert!(error.contains("notify_signing_secret"), "{error}");
}

#[tokio::test]
async fn an_intake_may_name_only_an_allowed_target() {
    let public = app_with(TargetPolicy::Public, Some(NOTIFY_SECRET));
    for bad in [
        "http://hooks.example.com/x",
        "https://169.254.169.254/latest",
        "https://localhost/x",
        "not a url",
    ] {
        match submit_with(&public, bad).await {
            Err(IntakeError::Invalid(InvalidBody::Schema(errors))) => {
                assert_eq!(errors[0].path, "notify_url", "{bad}: {errors:?}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let local = app_with(TargetPolicy::Local, Some(NOTIFY_SECRET));
    assert!(
        submit_with(&local, "http://127.0.0.1:4000/done")
            .await
            .is_ok()
    );
}

/// The outbox item of the workflow's finish (its notification's id derives
/// from it).
async fn finish_item(app: &osa_testkit::TestApp, id: &str) -> osa_app::ports::OutboxItem {
    app.services
        .outbox
        .workflow_outbox(id)
        .await
        .expect("the outbox")
        .into_iter()
        .find(|i| matches!(i.event, DomainEvent::WorkflowFinished { .. }))
        .expect("a finish")
}
