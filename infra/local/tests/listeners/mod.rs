//! Local stand-ins on loopback for what alert notifications go to (a Slack
//! incoming webhook, the PagerDuty Events API v2) and for OPAL coming back up,
//! and the checks that what arrived is well-formed in each channel's format.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::post;
use serde_json::{Value, json};

pub type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// Slack at `/slack`, PagerDuty at `/pagerduty`: every POST recorded.
pub struct Listeners {
    base: String,
    received: Received,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn record(State(received): State<Received>, uri: Uri, body: Bytes) -> (StatusCode, String) {
    let value = serde_json::from_slice(&body)
        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
    let path = uri.path().to_owned();
    if let Ok(mut all) = received.lock() {
        all.push((path.clone(), value));
    }
    if path == "/pagerduty" {
        let answer = json!({"status": "success", "message": "Event processed"});
        (StatusCode::ACCEPTED, answer.to_string())
    } else {
        (StatusCode::OK, "ok".into())
    }
}

impl Listeners {
    pub async fn start() -> Listeners {
        let received = Received::default();
        let app = Router::new()
            .route("/slack", post(record))
            .route("/pagerduty", post(record))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener binds");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Listeners {
            base,
            received,
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn bodies(&self, path: &str) -> Vec<Value> {
        self.received
            .lock()
            .map(|all| {
                all.iter()
                    .filter(|(p, _)| p == path)
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn count(&self, path: &str) -> usize {
        self.bodies(path).len()
    }

    /// The messages to `path` about one alert (it names its id): others may
    /// fire meanwhile (a restarted workflow's agents time out).
    pub fn about(&self, path: &str, alert_id: &str) -> Vec<Value> {
        self.bodies(path)
            .into_iter()
            .filter(|b| b.to_string().contains(alert_id))
            .collect()
    }

    /// What arrived, to count from another task ([`count_in`]).
    pub fn received_handle(&self) -> Received {
        self.received.clone()
    }
}

/// How many POSTs to `path` in `received` name `alert_id`.
pub fn about_in(received: &Received, path: &str, alert_id: &str) -> usize {
    received
        .lock()
        .map(|all| {
            all.iter()
                .filter(|(p, v)| p == path && v.to_string().contains(alert_id))
                .count()
        })
        .unwrap_or(0)
}

/// How many POSTs to `path` are in `received`.
pub fn count_in(received: &Received, path: &str) -> usize {
    received
        .lock()
        .map(|all| all.iter().filter(|(p, _)| p == path).count())
        .unwrap_or(0)
}

/// OPAL's trigger endpoint, up: accepts every trigger (202).
pub struct Opal(tokio::task::JoinHandle<()>);

impl Drop for Opal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Opal {
    pub async fn start(port: u16) -> Opal {
        let app =
            Router::new().fallback(|| async { (StatusCode::ACCEPTED, r#"{"status":"accepted"}"#) });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("OPAL's port is free again");
        Opal(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }))
    }
}

/// A port nothing listens on (until a test binds it again).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Polls `done` every 200 ms until it holds; fails after `secs` seconds.
pub async fn wait_until(what: &str, secs: u64, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Exactly one message each, well-formed: a Slack message with `text` and
/// `blocks` (severity, value against threshold, the ids, the runbook); a
/// PagerDuty Events API v2 `trigger` keyed by the alert id.
pub fn check_fired(
    listeners: &Listeners,
    alert_id: &str,
    workflow_id: &str,
    runbook: &str,
    routing_key: &str,
) {
    let slack = listeners.bodies("/slack");
    assert_eq!(slack.len(), 1, "one Slack message: {slack:?}");
    let message = &slack[0];
    let text = message["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("[FIRING] [MEDIUM] Webhook Delivery Failures"),
        "{message}"
    );
    let blocks = message["blocks"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        blocks.first().map(|b| b["type"].clone()),
        Some(json!("header"))
    );
    for block in &blocks {
        assert!(
            ["header", "section", "context"].contains(&block["type"].as_str().unwrap_or("")),
            "{block}"
        );
    }
    let all = message.to_string();
    for needle in [
        "medium",
        "1 (threshold ≥ 1)",
        "webhook_delivery_failures",
        alert_id,
        workflow_id,
        &format!("<{runbook}|Runbook>"),
    ] {
        assert!(all.contains(needle), "{needle} in {all}");
    }

    let pagerduty = listeners.bodies("/pagerduty");
    assert_eq!(pagerduty.len(), 1, "one PagerDuty event: {pagerduty:?}");
    let event = &pagerduty[0];
    assert_eq!(event["routing_key"], routing_key);
    assert_eq!(event["event_action"], "trigger");
    assert_eq!(event["dedup_key"], alert_id);
    let payload = &event["payload"];
    let summary = payload["summary"].as_str().unwrap_or_default();
    assert!(
        !summary.is_empty() && summary.chars().count() <= 1024,
        "{event}"
    );
    assert_eq!(payload["severity"], "warning");
    assert_eq!(payload["source"], "osa");
    assert_eq!(payload["component"], "deliveries");
    assert_eq!(payload["custom_details"]["alert_id"], alert_id);
    assert!(
        payload["custom_details"]["involved"]
            .to_string()
            .contains(workflow_id)
    );
    assert_eq!(event["links"][0]["href"], runbook);
}

/// Exactly two messages each about the alert, the second resolving it:
/// Slack's says resolved, PagerDuty's resolves the same incident.
pub fn check_resolved(listeners: &Listeners, alert_id: &str) {
    let slack = listeners.about("/slack", alert_id);
    assert_eq!(slack.len(), 2, "{slack:?}");
    let text = slack[1]["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("[RESOLVED]"), "{}", slack[1]);
    assert!(slack[1]["blocks"].is_array());
    let pagerduty = listeners.about("/pagerduty", alert_id);
    assert_eq!(pagerduty.len(), 2, "{pagerduty:?}");
    assert_eq!(pagerduty[1]["event_action"], "resolve", "{}", pagerduty[1]);
    assert_eq!(pagerduty[1]["dedup_key"], alert_id);
    assert!(pagerduty[1]["routing_key"].is_string());
}
