//! `osa loadgen`: prepares a webhook load test against a running `osa serve`.
//!
//! Creates workflows through the intake API, then writes signed, realistic
//! (~15 KB) completed-agent events, one request a line (`signature<TAB>body`),
//! for `infra/load/webhooks.lua` to replay with `wrk`. Every event has its own
//! execution id, so each is new to OSA: verified, parsed, validated, redacted
//! and stored durably before its 2xx.

use std::io::Write;
use std::path::Path;

use osa_domain::AgentId;
use osa_domain::access::scopes;
use osa_domain::signature::sign;
use serde_json::{Value, json};

use crate::local::{LocalFiles, SAMPLE_INTAKE};
use crate::simulator::agent_data;

/// Submits the sample intake to the server at `base`; answers the workflow's id.
pub async fn start_workflow(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) -> Result<String, String> {
    let response = http
        .post(format!("{base}/api/strategy/intake"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(SAMPLE_INTAKE)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let reply: Value = response.json().await.map_err(|e| e.to_string())?;
    reply["workflow_id"]
        .as_str()
        .filter(|_| status.is_success())
        .map(str::to_owned)
        .ok_or_else(|| format!("answered {status}: {reply}"))
}

pub async fn generate(
    base: &str,
    data_dir: &Path,
    workflows: usize,
    requests: usize,
    out: &Path,
) -> Result<(), String> {
    let files = LocalFiles::open(data_dir)?;
    let token = files.mint_token("loadgen", &[scopes::INTAKE], 3600)?;
    let http = reqwest::Client::new();
    let mut ids = Vec::with_capacity(workflows);
    for i in 0..workflows.max(1) {
        let id = start_workflow(&http, base, &token)
            .await
            .map_err(|e| format!("intake {i}: {e}"))?;
        ids.push(id);
    }
    // One 15 KB output per agent, reused with fresh execution ids.
    let outputs: Vec<Value> = AgentId::ALL
        .iter()
        .map(|a| agent_data(*a, "Acme Outdoor", 7))
        .collect();
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?,
    );
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let mut bytes = 0usize;
    for n in 0..requests {
        let agent = AgentId::ALL[n % AgentId::ALL.len()];
        let body = json!({
            "workflow_id": ids[n % ids.len()],
            "agent_id": agent.as_str(),
            "execution_id": format!("load-{n}"),
            "execution_status": "completed",
            "agent_data": outputs[n % outputs.len()],
            "metadata": {"execution_duration_ms": 1200, "confidence_score": 0.8}
        });
        let body = serde_json::to_string(&body).map_err(|e| e.to_string())?;
        let signature = sign(
            std::slice::from_ref(&files.webhook_secret),
            now_ms,
            body.as_bytes(),
        );
        bytes += body.len();
        writeln!(file, "{signature}\t{body}").map_err(|e| e.to_string())?;
    }
    file.flush().map_err(|e| e.to_string())?;
    eprintln!(
        "loadgen: {} workflows, {requests} signed events (mean {} bytes) in {}",
        ids.len(),
        bytes / requests.max(1),
        out.display()
    );
    Ok(())
}
