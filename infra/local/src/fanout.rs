//! `osa fanout`: the live stream's fan-out against a running `osa serve`.
//!
//! Starts one workflow, opens `subscribers` streams on it and waits until each
//! has its `connection` event, measures the server's memory for those idle
//! streams, then sends each agent's `started` and `completed` webhooks one at a
//! time and times every subscriber's copy of each change: from the moment the
//! webhook was sent to the moment the subscriber read it. Every subscriber must
//! get every change, in order, with consecutive ids.

use std::path::Path;
use std::time::{Duration, Instant};

use osa_domain::AgentId;
use osa_domain::access::scopes;
use osa_domain::signature::sign;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::local::LocalFiles;

/// Time between two webhooks, so that each fan-out is timed on its own.
const PACE: Duration = Duration::from_millis(150);

/// One change a subscriber read: its name and key, and when.
struct Seen {
    id: u64,
    key: String,
    at: Instant,
}

pub async fn run(
    base: &str,
    data_dir: &Path,
    subscribers: usize,
    server_pid: Option<u32>,
) -> Result<(), String> {
    let files = LocalFiles::open(data_dir)?;
    let token = files.mint_token("fanout", &[scopes::INTAKE, scopes::READ], 3600)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| e.to_string())?;

    let workflow_id = crate::loadgen::start_workflow(&http, base, &token)
        .await
        .map_err(|e| format!("intake: {e}"))?;

    let rss_before = server_pid.and_then(rss_kib);
    let (connected, mut connections) = mpsc::channel::<Result<(), String>>(subscribers.max(1));
    let url = format!("{base}/api/strategy/workflows/{workflow_id}/stream");
    let opened = Instant::now();
    let tasks: Vec<_> = (0..subscribers)
        .map(|_| {
            let http = http.clone();
            let url = url.clone();
            let token = token.clone();
            let connected = connected.clone();
            tokio::spawn(async move {
                let seen = subscribe(http, url, token, &connected).await;
                if let Err(e) = &seen {
                    // Told at most once: a subscriber that connected sent Ok before.
                    let _ = connected.try_send(Err(e.clone()));
                }
                seen
            })
        })
        .collect();
    for _ in 0..subscribers {
        match connections.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(format!("a subscriber failed: {e}")),
            None => return Err("the subscribers stopped".into()),
        }
    }
    let open_secs = opened.elapsed().as_secs_f64();
    // Let the server settle before reading its memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = server_pid.and_then(rss_kib);
    println!(
        "{subscribers} subscribers connected in {open_secs:.2} s (each has its connection event)"
    );
    if let (Some(before), Some(idle)) = (rss_before, rss_idle) {
        println!(
            "server memory: {:.1} MiB before, {:.1} MiB with them idle: {:.1} KiB per idle subscriber",
            before as f64 / 1024.0,
            idle as f64 / 1024.0,
            idle.saturating_sub(before) as f64 / subscribers.max(1) as f64
        );
    }

    // The webhooks, one at a time: each agent starts, then completes.
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let mut sent: Vec<(String, Instant)> = Vec::new();
    for agent in AgentId::ALL {
        for (status, shown) in [("started", "running"), ("completed", "completed")] {
            let mut event = json!({
                "workflow_id": workflow_id,
                "agent_id": agent.as_str(),
                "execution_id": format!("fanout-{agent}"),
                "execution_status": status,
            });
            if status == "completed" {
                event["agent_data"] = crate::simulator::agent_data(agent, "Acme Outdoor", 7);
            }
            let body = event.to_string();
            let signature = sign(
                std::slice::from_ref(&files.webhook_secret),
                now_ms,
                body.as_bytes(),
            );
            let at = Instant::now();
            let response = http
                .post(format!("{base}/api/webhooks/opal-workflow"))
                .header("content-type", "application/json")
                .header("x-osa-signature", signature)
                .body(body)
                .send()
                .await
                .map_err(|e| format!("webhook: {e}"))?;
            if !response.status().is_success() {
                return Err(format!("webhook {agent} {status}: {}", response.status()));
            }
            sent.push((format!("{agent} {shown}"), at));
            tokio::time::sleep(PACE).await;
        }
    }

    let mut latencies_ms: Vec<f64> = Vec::new();
    let mut complete = 0usize;
    let mut problems: Vec<String> = Vec::new();
    for task in tasks {
        let seen = task.await.map_err(|e| e.to_string())??;
        let keys: Vec<&str> = seen
            .iter()
            .map(|s| s.key.as_str())
            .filter(|k| !k.starts_with("workflow") && *k != "report_ready")
            .collect();
        let want: Vec<&str> = sent.iter().map(|(k, _)| k.as_str()).collect();
        let consecutive = seen.windows(2).all(|w| w[1].id == w[0].id + 1);
        let ends = seen.last().is_some_and(|s| s.key == "report_ready");
        if keys == want && consecutive && ends {
            complete += 1;
        } else if problems.len() < 3 {
            problems.push(format!(
                "got {keys:?}, consecutive ids: {consecutive}, ends with the report: {ends}"
            ));
        }
        for (key, at) in &sent {
            if let Some(s) = seen.iter().find(|s| &s.key == key) {
                latencies_ms.push(s.at.duration_since(*at).as_secs_f64() * 1000.0);
            }
        }
    }
    latencies_ms.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        let i = ((latencies_ms.len() as f64 - 1.0) * p).round() as usize;
        latencies_ms.get(i).copied().unwrap_or(f64::NAN)
    };
    println!(
        "{complete}/{subscribers} subscribers got all {} changes, in order, ids consecutive, ending with report_ready",
        sent.len() + 2
    );
    println!(
        "fan-out latency (webhook sent -> change read by a subscriber), {} samples: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies_ms.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        latencies_ms.last().copied().unwrap_or(f64::NAN)
    );
    if let Some(pid) = server_pid.and_then(|p| rss_kib(p).map(|r| (p, r))) {
        println!(
            "server memory after: {:.1} MiB (pid {})",
            pid.1 as f64 / 1024.0,
            pid.0
        );
    }
    if complete == subscribers {
        Ok(())
    } else {
        Err(format!(
            "{} subscribers missed or reordered changes, e.g. {problems:?}",
            subscribers - complete
        ))
    }
}

/// Follows the stream to its end: waits at `connected` once the connection
/// event is in, then records each change.
async fn subscribe(
    http: reqwest::Client,
    url: String,
    token: String,
    connected: &mpsc::Sender<Result<(), String>>,
) -> Result<Vec<Seen>, String> {
    let mut response = http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .map_err(|e| format!("stream: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("stream answered {}", response.status()));
    }
    let mut buffer = String::new();
    let mut seen = Vec::new();
    let mut is_connected = false;
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let at = Instant::now();
            let (id, name, data) = parse(&block)?;
            match name.as_str() {
                "connection" => {
                    is_connected = true;
                    let _ = connected.send(Ok(())).await;
                }
                "heartbeat" => {}
                "webhook_event" => seen.push(Seen {
                    id,
                    key: format!(
                        "{} {}",
                        data["agent"].as_str().unwrap_or("?"),
                        data["agent_status"].as_str().unwrap_or("?")
                    ),
                    at,
                }),
                "workflow_status" => seen.push(Seen {
                    id,
                    key: format!("workflow {}", data["status"].as_str().unwrap_or("?")),
                    at,
                }),
                other => seen.push(Seen {
                    id,
                    key: other.to_owned(),
                    at,
                }),
            }
        }
        match response.chunk().await {
            Ok(Some(bytes)) => buffer.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(None) => break,
            Err(e) => return Err(format!("stream: {e}")),
        }
    }
    if !is_connected {
        return Err("the stream ended before its connection event".into());
    }
    Ok(seen)
}

fn parse(block: &str) -> Result<(u64, String, Value), String> {
    let (mut id, mut name, mut data) = (0, String::new(), Value::Null);
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("id: ") {
            id = v.parse().map_err(|_| format!("bad id {v}"))?;
        } else if let Some(v) = line.strip_prefix("event: ") {
            v.clone_into(&mut name);
        } else if let Some(v) = line.strip_prefix("data: ") {
            data = serde_json::from_str(v).map_err(|e| format!("bad data: {e}"))?;
        }
    }
    Ok((id, name, data))
}

/// The resident memory of a process, from /proc (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
