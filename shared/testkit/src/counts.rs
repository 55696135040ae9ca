//! The business counts a workflow's webhooks leave, checked exactly: run on the
//! embedded store (`TestApp`) and on DynamoDB (`shared/aws/tests/aws_calls.rs`), so
//! both count each webhook once, in the event's own write.

use osa_app::webhook::{Ingested, WebhookError, WebhookRequest, ingest};
use osa_domain::AgentId;
use osa_domain::metrics::{Family, Snapshot};
use serde_json::json;

use crate::TestApp;

/// The counts that moved from `before` to `after`, per family (histograms by
/// observation count), with `filter` on the labels.
pub fn moved(before: &Snapshot, after: &Snapshot, family: Family, filter: &[(&str, &str)]) -> f64 {
    after.total(family, filter) - before.total(family, filter)
}

/// Runs a workflow through its webhooks: every agent starts, eight complete,
/// the last fails with an e-mail address in its error (redacted, so PII is
/// counted); then the failure is sent again (a duplicate), one webhook names
/// no workflow and one is badly signed. Checks that the metrics moved by
/// exactly what happened, nothing counted twice or lost.
pub async fn a_workflow_counts_exactly(app: &TestApp) {
    let id = app.start_workflow().await;
    let before = app.services.metrics.snapshot().await.expect("snapshot");
    for agent in AgentId::ALL {
        app.send_agent_event(&id, agent, "started").await;
    }
    let (last, others) = AgentId::ALL.split_last().expect("nine agents");
    for agent in others {
        app.send_agent_event(&id, *agent, "completed").await;
    }
    let failed = json!({
        "workflow_id": id, "agent_id": last.as_str(),
        "execution_id": format!("exec-{last}"), "execution_status": "failed",
        "metadata": {"error": "upstream said no; contact ops@example.com"},
    });
    assert!(matches!(
        app.send_webhook(&failed).await,
        Ingested::Accepted { .. }
    ));
    assert!(matches!(
        app.send_webhook(&failed).await,
        Ingested::Duplicate { .. }
    ));
    let mut unknown = failed.clone();
    unknown["workflow_id"] = json!("wf-nobody-knows");
    let body = unknown.to_string();
    let signature = app.sign(body.as_bytes());
    let refused = send(app, Some(&signature), body.as_bytes()).await;
    assert!(matches!(refused, Err(WebhookError::UnknownWorkflow)));
    let body = failed.to_string();
    let refused = send(app, Some("t=1,v1=00"), body.as_bytes()).await;
    assert!(
        matches!(refused, Err(WebhookError::Signature(_))),
        "{refused:?}"
    );

    // What the finish causes (its duration among it) is relayed from the
    // outbox. Relay this workflow's items now: on a store other tests share,
    // the inline pass may have read others' older items first. A relay is
    // idempotent by item id, so items relayed already count nothing again.
    let items = app
        .services
        .outbox
        .workflow_outbox(&id)
        .await
        .expect("the outbox");
    osa_app::outbox::relay_items(&app.services, &items)
        .await
        .expect("relayed");

    let after = app.services.metrics.snapshot().await.expect("snapshot");
    let moved = |family, filter: &[(&str, &str)]| moved(&before, &after, family, filter);
    let webhooks = Family::WebhookProcessingTotal;
    assert_eq!(moved(webhooks, &[("status", "accepted")]), 18.0);
    assert_eq!(moved(webhooks, &[("status", "duplicate")]), 1.0);
    assert_eq!(moved(webhooks, &[("status", "unknown_workflow")]), 1.0);
    assert_eq!(
        moved(webhooks, &[("agent_id", "unknown")]),
        1.0,
        "the bad signature"
    );
    assert_eq!(moved(webhooks, &[]), 21.0, "{}", after.render());
    let executions = Family::AgentExecutionTotal;
    assert_eq!(moved(executions, &[("status", "completed")]), 8.0);
    assert_eq!(moved(executions, &[("status", "failed")]), 1.0);
    assert_eq!(moved(executions, &[]), 9.0);
    assert_eq!(moved(Family::AgentExecutionDurationSeconds, &[]), 9.0);
    assert_eq!(moved(Family::AgentOverAllowanceTotal, &[]), 0.0);
    assert_eq!(
        moved(
            Family::PiiProtectionOperationsTotal,
            &[("pii_type", "email")]
        ),
        1.0
    );
    assert_eq!(moved(Family::WorkflowProcessingDurationSeconds, &[]), 1.0);
}

async fn send(
    app: &TestApp,
    signature: Option<&str>,
    body: &[u8],
) -> Result<Ingested, WebhookError> {
    let request = WebhookRequest {
        signatures: osa_domain::webhook_signature::Signatures::osa(signature),
        correlation_id: None,
        body,
    };
    ingest(&app.services, request).await
}
