//! A caller-chosen target (an intake's `notify_url`) is checked where the
//! connection is made: a name that resolves to this machine passes the intake's
//! check (names are not resolved there), and the delivery is then refused,
//! recorded as refused and never sent.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use osa_app::config::NotifyConfig;
use osa_app::ports::{HttpClient, OutboundError, OutboundRequest, OutboundResponse};
use osa_domain::AgentId;
use osa_domain::delivery::{DeliveryStatus, TARGET_REFUSED};
use osa_domain::notification::{TargetPolicy, delivery_id};
use osa_domain::{Secret, workflow::WorkflowStatus};
use osa_net::http::client::ReqwestClient;
use osa_testkit::TestApp;
use osa_testkit::fakes::RecordingHttp;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A listener that answers 200 to anything and counts the connections it got.
async fn listener() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (port, connections)
}

/// Names from a table, as a test's DNS.
struct Names(HashMap<&'static str, SocketAddr>);

impl Resolve for Names {
    fn resolve(&self, name: Name) -> Resolving {
        let found = self.0.get(name.as_str()).copied();
        Box::pin(async move {
            let addr = found.ok_or("no such name")?;
            Ok(Box::new(std::iter::once(addr)) as Addrs)
        })
    }
}

/// Caller-chosen targets through the real client, everything else (the OPAL
/// trigger) to the recording fake, so the test needs no network.
struct Split {
    real: ReqwestClient,
    fake: Arc<RecordingHttp>,
}

#[async_trait]
impl HttpClient for Split {
    async fn post(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        if request.caller_target {
            self.real.post(request).await
        } else {
            self.fake.post(request).await
        }
    }
}

fn app(targets: TargetPolicy, real: ReqwestClient) -> TestApp {
    let mut app = TestApp::new();
    let mut config = (*app.services.config).clone();
    config.notify = NotifyConfig {
        signing_secret: Some(Secret::new("notify-secret")),
        targets,
    };
    app.services.config = Arc::new(config);
    app.services.http = Arc::new(Split {
        real,
        fake: app.http.clone(),
    });
    app
}

/// Submits an intake naming `notify_url`, finishes its workflow and runs the
/// jobs that follow; returns the notification's delivery status.
async fn notify(app: &TestApp, notify_url: &str) -> osa_domain::delivery::Delivery {
    let mut intake = osa_testkit::samples::intake();
    intake["notify_url"] = serde_json::Value::from(notify_url);
    let submitted = osa_app::intake::submit(&app.services, intake.to_string().as_bytes(), "c-1")
        .await
        .expect("the intake accepts the URL");
    let id = submitted.workflow.id().to_owned();
    app.run_due_jobs().await;
    for agent in AgentId::ALL {
        app.send_agent_event(&id, agent, "completed").await;
    }
    let w = app.services.store.get_workflow(&id).await.unwrap().unwrap();
    assert_eq!(w.status(), WorkflowStatus::Completed);
    app.run_due_jobs().await;
    let finish = app
        .services
        .outbox
        .workflow_outbox(&id)
        .await
        .expect("the outbox")
        .into_iter()
        .find(|i| {
            matches!(
                i.event,
                osa_app::ports::DomainEvent::WorkflowFinished { .. }
            )
        })
        .expect("a finish");
    app.services
        .deliveries
        .get_delivery(delivery_id(&finish.id))
        .await
        .expect("read")
        .expect("a notification delivery")
}

#[tokio::test]
async fn a_name_that_resolves_to_this_machine_is_refused_recorded_and_never_sent() {
    let (port, connections) = listener().await;
    let loopback: SocketAddr = ([127, 0, 0, 1], port).into();
    let names = Arc::new(Names(HashMap::from([("hooks.evil.test", loopback)])));
    let real = ReqwestClient::with_resolver(TargetPolicy::Public, names).expect("client");
    let app = app(TargetPolicy::Public, real);

    let delivery = notify(&app, &format!("https://hooks.evil.test:{port}/done")).await;

    let DeliveryStatus::DeadLettered { reason, .. } = &delivery.status else {
        panic!("refused and dead-lettered, not {:?}", delivery.status);
    };
    assert!(reason.starts_with(TARGET_REFUSED), "{reason}");
    assert_eq!(delivery.attempts.len(), 1, "never retried");
    let error = delivery.attempts[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("internal address"), "{error}");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "never connected");
}

#[tokio::test]
async fn literal_internal_addresses_are_refused_before_any_connection() {
    let (port, connections) = listener().await;
    let real = ReqwestClient::new(TargetPolicy::Public).expect("client");
    for url in [
        format!("https://0x7f000001:{port}/"),
        format!("https://2130706433:{port}/"),
        format!("https://127.1:{port}/"),
        format!("https://[::ffff:127.0.0.1]:{port}/"),
    ] {
        let sent = real
            .post(OutboundRequest {
                url: url.clone(),
                headers: vec![],
                body: bytes::Bytes::from_static(b"{}"),
                timeout: Duration::from_secs(5),
                caller_target: true,
            })
            .await;
        assert!(
            matches!(sent, Err(OutboundError::Refused(_))),
            "{url}: {sent:?}"
        );
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_local_run_still_notifies_its_own_machine() {
    // The same path with the local policy reaches the listener: the refusal
    // above is the guard's doing, not a listener that cannot be reached.
    let (port, connections) = listener().await;
    let real = ReqwestClient::new(TargetPolicy::Local).expect("client");
    let app = app(TargetPolicy::Local, real);
    let delivery = notify(&app, &format!("http://127.0.0.1:{port}/done")).await;
    assert!(
        matches!(delivery.status, DeliveryStatus::Delivered { .. }),
        "{:?}",
        delivery.status
    );
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}
