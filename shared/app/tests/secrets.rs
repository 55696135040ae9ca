//! Credentials held by reference are read when first needed, never at start-up:
//! while the secret store is down, a webhook gets 503 (audited) and the OPAL
//! trigger's attempts fail and are retried; once it answers, both go through,
//! and each secret is read once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use osa_app::ports::{SecretStore, SecretUnavailable};
use osa_app::secrets::HeldSecrets;
use osa_app::webhook::{WebhookRequest, ingest};
use osa_domain::Secret;
use osa_testkit::{TestApp, WEBHOOK_SECRET};
use serde_json::json;

/// A secret store that is down until told otherwise, and counts its reads.
struct FlakyStore {
    up: AtomicBool,
    reads: AtomicUsize,
    values: HashMap<&'static str, String>,
}

impl FlakyStore {
    fn down(values: &[(&'static str, &str)]) -> Arc<FlakyStore> {
        Arc::new(FlakyStore {
            up: AtomicBool::new(false),
            reads: AtomicUsize::new(0),
            values: values.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        })
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SecretStore for FlakyStore {
    async fn read(&self, id: &str) -> Result<Secret, SecretUnavailable> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        if !self.up.load(Ordering::SeqCst) {
            return Err(SecretUnavailable("connection refused".into()));
        }
        self.values
            .get(id)
            .map(|v| Secret::new(v.as_str()))
            .ok_or_else(|| SecretUnavailable(format!("no secret {id}")))
    }
}

/// The app with its webhook secrets and OPAL key held by reference in `store`.
fn by_reference(app: &mut TestApp, store: Arc<FlakyStore>) {
    let mut config = (*app.services.config).clone();
    config.signature.secrets.clear();
    config.secret_refs.webhook_secrets = Some("arn:webhook".into());
    config.opal.api_key = None;
    config.secret_refs.opal_api_key = Some("arn:opal".into());
    app.services.config = Arc::new(config);
    app.services.secrets = Arc::new(HeldSecrets::new(Some(store)));
}

#[tokio::test]
async fn a_webhook_waits_for_its_secret_store_and_reads_it_once() {
    let mut app = TestApp::new();
    let store = FlakyStore::down(&[("arn:webhook", &format!("old-secret, {WEBHOOK_SECRET}"))]);
    by_reference(&mut app, store.clone());
    let id = app.start_workflow().await;

    let send = |status: &str| {
        let body = json!({"workflow_id": id, "agent_id": "geo_audit",
                          "execution_id": "exec-1", "execution_status": status})
        .to_string();
        let signature = app.sign(body.as_bytes());
        (body, signature)
    };
    let (body, signature) = send("started");
    let refused = ingest(
        &app.services,
        WebhookRequest {
            signatures: osa_domain::webhook_signature::Signatures::osa(Some(&signature)),
            correlation_id: None,
            body: body.as_bytes(),
        },
    )
    .await
    .expect_err("no secret, no verification");
    assert_eq!(refused.reason_and_status(), ("secrets_unavailable", 503));
    let audit = app
        .services
        .audit
        .audit_for_workflow(&id, 10)
        .await
        .expect("audit");
    assert_eq!(
        audit.last().map(|e| e.reason.as_str()),
        Some("secrets_unavailable")
    );

    store.up.store(true, Ordering::SeqCst);
    for status in ["started", "running"] {
        let (body, signature) = send(status);
        ingest(
            &app.services,
            WebhookRequest {
                signatures: osa_domain::webhook_signature::Signatures::osa(Some(&signature)),
                correlation_id: None,
                body: body.as_bytes(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{status} accepted once the store answers: {e}"));
    }
    assert_eq!(store.reads(), 2, "one failed read, then one kept");
}

#[tokio::test]
async fn the_opal_trigger_is_retried_until_its_key_can_be_read() {
    let mut app = TestApp::new();
    let store = FlakyStore::down(&[("arn:opal", " sk_opal_from_the_store \n")]);
    by_reference(&mut app, store.clone());
    app.start_workflow().await;

    app.run_due_jobs().await;
    assert!(
        app.http.sent().is_empty(),
        "no trigger leaves without its key"
    );
    store.up.store(true, Ordering::SeqCst);
    app.advance_running_jobs(Duration::from_secs(10), Duration::from_secs(1))
        .await;
    let sent = app.http.sent();
    assert_eq!(sent.len(), 1, "the retried attempt went out");
    assert!(
        sent[0]
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("authorization")
                && v == "Bearer sk_opal_from_the_store"),
        "with the key read from the store"
    );
}
