//! Alert notifications arrive: local Slack and PagerDuty listeners on loopback
//! get exactly one well-formed message when an alert fires, and the resolve
//! messages when its condition clears. The path: an OPAL trigger sent to a
//! dead port is dead-lettered after its five attempts; `webhook_delivery_failures`
//! fires; OPAL comes up on that port, the trigger is redriven and delivered, and
//! the alert resolves.
//!
//! The embedded runtime here (`osa serve`); the AWS runtime, the worker and the
//! evaluator in the Lambda runtime loop on the local endpoint, in
//! `alerts_aws.rs`.

#[allow(dead_code)]
mod listeners;
mod support;

use std::process::{Command, Stdio};

use listeners::{Listeners, free_port, wait_until};
use serde_json::{Value, json};
use support::Osa;

const ROUTING_KEY: &str = "rk-e2e-do-not-log";

fn start(opal_url: &str, listeners: &Listeners) -> Osa {
    let data_dir = std::env::temp_dir().join(format!(
        "osa-alerts-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_osa"))
        .args([
            "serve",
            "--port",
            "0",
            "--no-simulator",
            "--opal-url",
            opal_url,
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .env("OSA_ALERT_SLACK_WEBHOOK_URL", listeners.url("/slack"))
        .env("OSA_ALERT_PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
        .env("OSA_ALERT_PAGERDUTY_URL", listeners.url("/pagerduty"))
        // The schedules every second: a rule still runs at its own interval
        // (webhook_delivery_failures every 30 s).
        .env("OSA_SCHEDULE_SECS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("osa starts");
    let base = support::listening_url(&mut child);
    let out = Command::new(env!("CARGO_BIN_EXE_osa"))
        .args(["token", "--data-dir"])
        .arg(&data_dir)
        .output()
        .expect("osa token runs");
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Osa {
        child,
        base,
        token,
        data_dir,
        http: reqwest::Client::new(),
    }
}

async fn get(osa: &Osa, path: &str) -> (u16, Value) {
    let r = osa
        .http
        .get(format!("{}{path}", osa.base))
        .bearer_auth(&osa.token)
        .send()
        .await
        .expect("get");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn post(osa: &Osa, path: &str, body: &Value) -> (u16, Value) {
    let r = osa
        .http
        .post(format!("{}{path}", osa.base))
        .bearer_auth(&osa.token)
        .json(body)
        .send()
        .await
        .expect("post");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_trigger_notifies_slack_and_pagerduty_then_resolves() {
    let listeners = Listeners::start().await;
    let opal_port = free_port();
    let opal_url = format!("http://127.0.0.1:{opal_port}/opal/trigger");
    let osa = start(&opal_url, &listeners);

    let intake = json!({
        "business_context": {"company_name": "Acme Outdoor", "industry": "retail",
            "goals": ["Grow repeat purchases"],
            "target_audience": "Outdoor enthusiasts aged 25-45 in North America"},
        "optimizely_config": {"project_id": "123456",
            "workspace_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
        "analysis_preferences": {"analysis_depth": "standard",
            "focus_areas": ["content"], "timeline": "90d"}
    });
    let (status, body) = post(&osa, "/api/strategy/intake", &intake).await;
    assert_eq!(status, 202, "{body}");
    let workflow_id = body["workflow_id"]
        .as_str()
        .expect("workflow id")
        .to_owned();

    // Five attempts at the dead port, then the dead letter, then the alert.
    wait_until("Slack and PagerDuty hear of the dead letter", 180, || {
        listeners.count("/slack") >= 1 && listeners.count("/pagerduty") >= 1
    })
    .await;
    let (_, alerts) = get(&osa, "/api/admin/alerts").await;
    let firing = alerts["firing"].as_array().cloned().unwrap_or_default();
    let fired = firing
        .iter()
        .find(|f| f["rule_id"] == "webhook_delivery_failures")
        .unwrap_or_else(|| panic!("firing: {alerts}"));
    let alert_id = fired["alert"]["alert_id"]
        .as_str()
        .expect("alert id")
        .to_owned();
    let runbook = format!("{}/docs/runbooks/webhook-delivery-failures", osa.base);
    listeners::check_fired(&listeners, &alert_id, &workflow_id, &runbook, ROUTING_KEY);

    // The runbook the notices link opens.
    let page = osa.http.get(&runbook).send().await.expect("runbook");
    assert_eq!(page.status().as_u16(), 200);
    let text = page.text().await.unwrap_or_default();
    assert!(text.contains("Webhook Delivery Failures"), "{text}");

    // OPAL comes up on its port; the dead letter is redriven and delivered.
    let _opal = listeners::Opal::start(opal_port).await;
    let (_, dead) = get(&osa, "/api/admin/deliveries/dead-letter").await;
    let dead = dead["deliveries"].as_array().cloned().unwrap_or_default();
    let trigger = dead
        .iter()
        .find(|d| d["kind"] == "opal_trigger")
        .unwrap_or_else(|| panic!("no dead-lettered trigger: {dead:?}"));
    let trigger_id = trigger["id"].as_str().expect("id");
    let (status, body) = post(
        &osa,
        &format!("/api/admin/deliveries/{trigger_id}/redrive"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 202, "{body}");

    wait_until("the resolve messages arrive", 180, || {
        listeners.about("/slack", &alert_id).len() >= 2
            && listeners.about("/pagerduty", &alert_id).len() >= 2
    })
    .await;
    // Exactly one message each way per listener about this alert.
    listeners::check_resolved(&listeners, &alert_id);
    // The routing key was filled in when sent; no answer of OSA's shows it.
    let (_, overview) = get(&osa, "/api/admin/alerts").await;
    assert!(!overview.to_string().contains(ROUTING_KEY));
}
