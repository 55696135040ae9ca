//! The built-in OPAL simulator.
//!
//! OSA triggers OPAL with `POST /sim/opal/trigger`; the simulator answers 202 at once
//! and then, like the real platform, posts signed webhook events for the nine agents
//! to OSA's `POST /api/webhooks/opal-workflow`: a "started" event, then a terminal
//! one, per agent, all agents concurrently within [`SimulatorSettings::spread`].
//!
//! Most agents speak the spec's vocabulary (`started|completed|failed`, with an
//! `execution_id`); two speak the real senders' (`pending|success|failure`, with an
//! `offset` and no `execution_id`), so OSA's handling of both is exercised.
//! Fault settings inject failures, silence, duplicates, reordering and bad signatures.

mod agent_data;
pub mod optimizely;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use osa_domain::signature::{SIGNATURE_HEADER, sign};
use osa_domain::{AgentId, Secret};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until};
use uuid::Uuid;

pub use agent_data::agent_data;

/// The route OSA's trigger client posts to.
pub const TRIGGER_PATH: &str = "/sim/opal/trigger";
/// The simulator's health endpoint, `osa serve`'s OPAL probe unless `OPAL_HEALTH_URL` says otherwise.
pub const HEALTH_PATH: &str = "/sim/opal/health";
const WORKFLOW_NAME: &str = "strategy_workflow";
const CORRELATION_HEADER: &str = "x-correlation-id";
/// Retries after the first attempt, on connection errors and 5xx.
const MAX_RETRIES: u32 = 3;
const MAX_ID_LEN: usize = 128;
/// The secret used for the `bad_signature` knob; never a configured one.
const WRONG_SECRET: &str = "osa-simulator-deliberately-wrong-secret";

/// Fault injection. The default is a clean run: every agent completes once, in order,
/// correctly signed, within four seconds.
#[derive(Clone, Debug)]
pub struct SimulatorSettings {
    /// These agents report a failure (with `metadata.error`) instead of completing.
    pub fail: Vec<AgentId>,
    /// These agents fail on a workflow's first full run only: a Force Sync
    /// (the next run) sees them complete.
    pub fail_first_run: Vec<AgentId>,
    /// These agents never send anything.
    pub silent: Vec<AgentId>,
    /// Every event is sent twice: byte-identical body, freshly signed.
    pub duplicates: bool,
    /// For each agent, the terminal event is sent before its "started" event.
    pub out_of_order: bool,
    /// These agents' events are signed with a wrong secret.
    pub bad_signature: Vec<AgentId>,
    /// All nine agents finish within this window.
    pub spread: Duration,
    /// These agents send their result this much later than planned (past their
    /// deadline, with a short deadline scale).
    pub late: Vec<AgentId>,
    pub late_by: Duration,
}

impl Default for SimulatorSettings {
    fn default() -> Self {
        SimulatorSettings {
            fail: Vec::new(),
            fail_first_run: Vec::new(),
            silent: Vec::new(),
            duplicates: false,
            out_of_order: false,
            bad_signature: Vec::new(),
            spread: Duration::from_secs(4),
            late: Vec::new(),
            late_by: Duration::from_secs(20),
        }
    }
}

/// Parses one agent id (canonical, or the `personalization_generator` alias).
pub fn parse_agent_id(s: &str) -> Result<AgentId, String> {
    let s = s.trim();
    AgentId::parse(s).ok_or_else(|| {
        let known: Vec<&str> = AgentId::ALL.iter().map(|a| a.as_str()).collect();
        format!("unknown agent '{s}'; expected one of: {}", known.join(", "))
    })
}

/// Parses a comma-separated list of agent ids (for clap); empty entries are ignored
/// and repeats collapse.
pub fn parse_agent_list(s: &str) -> Result<Vec<AgentId>, String> {
    let mut agents = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let agent = parse_agent_id(part)?;
        if !agents.contains(&agent) {
            agents.push(agent);
        }
    }
    Ok(agents)
}

/// The simulated OPAL platform.
pub struct Simulator {
    webhook_url: String,
    secrets: Vec<Secret>,
    expected_api_key: Option<Secret>,
    settings: SimulatorSettings,
    http: reqwest::Client,
    runs_finished: AtomicUsize,
    /// Full runs started, per workflow.
    runs_started: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl Simulator {
    /// `webhook_url` is OSA's `.../api/webhooks/opal-workflow`; events are signed with
    /// the first of `secrets`; triggers must carry `expected_api_key` as a bearer token
    /// when it is set.
    pub fn new(
        webhook_url: String,
        secrets: Vec<Secret>,
        expected_api_key: Option<Secret>,
        settings: SimulatorSettings,
    ) -> Self {
        if secrets.is_empty() {
            tracing::warn!("OPAL simulator has no webhook secret; OSA will reject its events");
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent("osa-opal-simulator/1.0")
            .build()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "falling back to a default HTTP client");
                reqwest::Client::new()
            });
        Simulator {
            webhook_url,
            secrets,
            expected_api_key,
            settings,
            http,
            runs_finished: AtomicUsize::new(0),
            runs_started: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The simulator's routes, to be mounted at the root: `POST /sim/opal/trigger`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route(TRIGGER_PATH, post(trigger))
            // What OSA's OPAL health probe GETs when the simulator runs.
            .route(
                HEALTH_PATH,
                axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
            )
            .with_state(self)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.expected_api_key else {
            return true;
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        given.is_some_and(|g| constant_time_eq(g.as_bytes(), expected.expose().as_bytes()))
    }

    /// One simulated OPAL execution: all agents concurrently, then a log line.
    async fn run(self: Arc<Self>, trigger: Trigger, execution_id: Uuid) {
        let trigger = Arc::new(trigger);
        let data_seed = fnv1a(trigger.workflow_id.as_bytes());
        let first_run = trigger.only.is_none() && {
            let mut runs = self.runs_started.lock().unwrap_or_else(|e| e.into_inner());
            let n = runs.entry(trigger.workflow_id.clone()).or_insert(0);
            *n += 1;
            *n == 1
        };
        let mut rng = StdRng::seed_from_u64(rand::random());
        let plans = schedule(&mut rng, self.settings.spread);
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for (agent, plan) in AgentId::ALL.into_iter().zip(plans) {
            if trigger
                .only
                .as_ref()
                .is_some_and(|only| !only.contains(&agent))
            {
                continue; // a re-trigger of some agents only
            }
            if self.settings.silent.contains(&agent) {
                tracing::info!(agent = %agent, "simulated agent stays silent");
                continue;
            }
            let job = AgentJob {
                trigger: Arc::clone(&trigger),
                agent,
                plan,
                data_seed,
                origin: started,
                fail: self.settings.fail.contains(&agent)
                    || (first_run && self.settings.fail_first_run.contains(&agent)),
            };
            tasks.spawn(Arc::clone(&self).run_agent(job));
        }
        while let Some(joined) = tasks.join_next().await {
            if let Err(e) = joined {
                tracing::warn!(error = %e, "simulated agent task ended abnormally");
            }
        }
        let finished = self.runs_finished.fetch_add(1, Ordering::SeqCst) + 1;
        tracing::info!(
            workflow_id = %trigger.workflow_id,
            execution_id = %execution_id,
            elapsed_ms = started.elapsed().as_millis() as u64,
            runs_finished = finished,
            "simulated OPAL run finished"
        );
    }

    async fn run_agent(self: Arc<Self>, job: AgentJob) {
        let AgentJob {
            trigger,
            agent,
            plan,
            data_seed,
            origin,
            fail,
        } = job;
        let vocab = Vocabulary::of(agent);
        let execution_id = Uuid::new_v4().to_string();

        sleep_until(origin + plan.start).await;
        let started_body = match serde_json::to_vec(&vocab.started(&trigger, agent, &execution_id))
        {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                tracing::error!(agent = %agent, error = %e, "could not serialise a started event");
                return;
            }
        };
        if !self.settings.out_of_order {
            self.send(agent, "started", &started_body, &trigger.correlation_id)
                .await;
        }

        let delay = if self.settings.late.contains(&agent) {
            tracing::info!(agent = %agent, late_by_ms = self.settings.late_by.as_millis() as u64, "simulated agent will answer late");
            self.settings.late_by
        } else {
            Duration::ZERO
        };
        sleep_until(origin + plan.finish + delay).await;
        let duration_ms = plan.finish.saturating_sub(plan.start).as_millis() as u64;
        let terminal = if fail {
            vocab.failed(&trigger, agent, &execution_id, duration_ms)
        } else {
            let mut data = agent_data(agent, &trigger.company, data_seed);
            data["meta"]["lastUpdated"] = json!(now_rfc3339());
            vocab.completed(&trigger, agent, &execution_id, duration_ms, data)
        };
        let outcome = if fail { "failed" } else { "completed" };
        let terminal_body = match serde_json::to_vec(&terminal) {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                tracing::error!(agent = %agent, error = %e, "could not serialise a terminal event");
                return;
            }
        };
        self.send(agent, outcome, &terminal_body, &trigger.correlation_id)
            .await;
        if self.settings.out_of_order {
            self.send(agent, "started", &started_body, &trigger.correlation_id)
                .await;
        }
    }

    /// Sends one event (twice with the `duplicates` knob).
    async fn send(&self, agent: AgentId, event: &'static str, body: &Bytes, correlation_id: &str) {
        let copies = if self.settings.duplicates { 2 } else { 1 };
        for copy in 1..=copies {
            self.deliver(agent, event, copy, body, correlation_id).await;
        }
    }

    /// One delivery with retries on connection errors and 5xx; a 4xx is final.
    async fn deliver(
        &self,
        agent: AgentId,
        event: &'static str,
        copy: u32,
        body: &Bytes,
        correlation_id: &str,
    ) {
        for attempt in 0..=MAX_RETRIES {
            if attempt > 0 {
                sleep(Duration::from_millis(100 << (attempt - 1))).await;
            }
            let result = self
                .http
                .post(&self.webhook_url)
                .header(header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, self.signature(agent, body))
                .header(CORRELATION_HEADER, correlation_id)
                .body(body.clone())
                .send()
                .await;
            let attempt = attempt + 1;
            match result {
                Ok(resp) if resp.status().is_success() => {
                    let status = resp.status().as_u16();
                    tracing::info!(agent = %agent, event, copy, attempt, status, "simulator sent event");
                    return;
                }
                Ok(resp) if resp.status().is_client_error() => {
                    let status = resp.status().as_u16();
                    tracing::warn!(agent = %agent, event, copy, attempt, status, "OSA rejected simulated event");
                    return;
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    tracing::warn!(agent = %agent, event, copy, attempt, status, "simulated event not accepted; will retry");
                }
                Err(e) => {
                    let error = e.without_url();
                    tracing::warn!(agent = %agent, event, copy, attempt, error = %error, "could not deliver simulated event");
                }
            }
        }
        tracing::warn!(agent = %agent, event, copy, "giving up on simulated event after retries");
    }

    fn signature(&self, agent: AgentId, body: &[u8]) -> String {
        let now_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        if self.settings.bad_signature.contains(&agent) {
            sign(&[Secret::new(WRONG_SECRET)], now_ms, body)
        } else {
            sign(&self.secrets[..self.secrets.len().min(1)], now_ms, body)
        }
    }
}

// ---- the trigger endpoint --------------------------------------------------------

struct Trigger {
    workflow_id: String,
    /// `input_data.agents`: run only these (a re-trigger); absent means all nine.
    only: Option<Vec<AgentId>>,
    company: String,
    correlation_id: String,
}

async fn trigger(State(sim): State<Arc<Simulator>>, headers: HeaderMap, body: Bytes) -> Response {
    if !sim.authorized(&headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid bearer token".into(),
        );
    }
    let trigger = match parse_trigger(&body) {
        Ok(t) => t,
        Err((code, message)) => return error(StatusCode::BAD_REQUEST, code, message),
    };
    let execution_id = Uuid::new_v4();
    tracing::info!(
        workflow_id = %trigger.workflow_id,
        execution_id = %execution_id,
        "simulated OPAL run accepted"
    );
    tokio::spawn(Arc::clone(&sim).run(trigger, execution_id));
    (
        StatusCode::ACCEPTED,
        Json(json!({
            "success": true,
            "execution_id": execution_id.to_string(),
            "accepted_agents": AgentId::ALL.len(),
        })),
    )
        .into_response()
}

fn parse_trigger(body: &[u8]) -> Result<Trigger, (&'static str, String)> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        (
            "invalid_json",
            format!("request body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(("invalid_body", "request body must be a JSON object".into()));
    }
    match value.get("workflow_name").and_then(Value::as_str) {
        Some(WORKFLOW_NAME) => {}
        _ => {
            return Err((
                "invalid_workflow_name",
                format!("workflow_name must be \"{WORKFLOW_NAME}\""),
            ));
        }
    }
    let input = value.get("input_data").filter(|v| v.is_object()).ok_or((
        "invalid_input_data",
        "input_data must be a JSON object".to_owned(),
    ))?;
    let workflow_id = input
        .get("workflow_id")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= MAX_ID_LEN)
        .ok_or((
            "invalid_workflow_id",
            format!(
                "input_data.workflow_id must be a non-empty string of at most {MAX_ID_LEN} bytes"
            ),
        ))?
        .to_owned();
    let company = input
        .pointer("/business_context/company_name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let correlation_id = value
        .pointer("/metadata/correlation_id")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|c| {
            !c.is_empty() && c.len() <= MAX_ID_LEN && c.bytes().all(|b| b.is_ascii_graphic())
        })
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
    let only = input.get("agents").and_then(Value::as_array).map(|ids| {
        ids.iter()
            .filter_map(Value::as_str)
            .filter_map(|id| parse_agent_id(id).ok())
            .collect()
    });
    Ok(Trigger {
        workflow_id,
        only,
        company,
        correlation_id,
    })
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({"success": false, "error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---- per-agent schedule and payloads ----------------------------------------------

struct AgentJob {
    trigger: Arc<Trigger>,
    agent: AgentId,
    plan: Plan,
    data_seed: u64,
    origin: Instant,
    /// It reports a failure this run.
    fail: bool,
}

/// When an agent starts and finishes, as offsets from the trigger.
#[derive(Clone, Copy, Debug)]
struct Plan {
    start: Duration,
    finish: Duration,
}

/// Start times in the first 8% of the spread; finish times follow the real chain
/// order (`AgentId::ALL`) with some jitter, and never exceed the spread.
fn schedule(rng: &mut StdRng, spread: Duration) -> Vec<Plan> {
    let s = spread.as_secs_f64();
    let n = AgentId::ALL.len() as f64;
    (0..AgentId::ALL.len())
        .map(|i| {
            let start = s * 0.08 * rng.random::<f64>();
            let centre = s * (0.12 + 0.83 * (i as f64 + 1.0) / n);
            let jitter = s * 0.1 * (rng.random::<f64>() - 0.5);
            let finish = (centre + jitter).clamp(start + 0.01 * s, s);
            Plan {
                start: secs(start),
                finish: secs(finish),
            }
        })
        .collect()
}

fn secs(x: f64) -> Duration {
    Duration::try_from_secs_f64(x.max(0.0)).unwrap_or_default()
}

/// Which wire vocabulary an agent's events use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Vocabulary {
    /// `execution_id`, `started|completed|failed`, metadata with timestamp.
    Spec,
    /// `offset`, `pending|success|failure`, top-level timestamp, `environment`.
    Real,
}

impl Vocabulary {
    fn of(agent: AgentId) -> Self {
        match agent {
            AgentId::ContentReview | AgentId::PersonalizationIdeaGenerator => Vocabulary::Real,
            _ => Vocabulary::Spec,
        }
    }

    fn started(self, t: &Trigger, agent: AgentId, execution_id: &str) -> Value {
        let sources = data_sources(agent);
        match self {
            Vocabulary::Spec => json!({
                "workflow_id": t.workflow_id,
                "execution_id": execution_id,
                "execution_status": "started",
                "agent_id": agent.as_str(),
                "metadata": {"timestamp": now_rfc3339(), "data_sources": sources},
                "correlation_id": t.correlation_id,
            }),
            Vocabulary::Real => json!({
                "workflow_id": t.workflow_id,
                "agent_id": agent.as_str(),
                "execution_status": "pending",
                "offset": 0,
                "timestamp": now_rfc3339(),
                "metadata": {"data_sources": sources},
                "correlation_id": t.correlation_id,
                "environment": "local",
            }),
        }
    }

    fn completed(
        self,
        t: &Trigger,
        agent: AgentId,
        execution_id: &str,
        duration_ms: u64,
        data: Value,
    ) -> Value {
        let confidence = data
            .pointer("/hero/confidence")
            .and_then(Value::as_f64)
            .map_or(0.8, |c| c.round() / 100.0)
            .clamp(0.0, 1.0);
        let metadata = json!({
            "timestamp": now_rfc3339(),
            "execution_duration_ms": duration_ms,
            "confidence_score": confidence,
            "data_sources": data_sources(agent),
        });
        self.terminal(t, agent, execution_id, true, metadata, Some(data))
    }

    fn failed(self, t: &Trigger, agent: AgentId, execution_id: &str, duration_ms: u64) -> Value {
        let metadata = json!({
            "timestamp": now_rfc3339(),
            "execution_duration_ms": duration_ms,
            "data_sources": data_sources(agent),
            "error": failure_reason(agent),
        });
        self.terminal(t, agent, execution_id, false, metadata, None)
    }

    fn terminal(
        self,
        t: &Trigger,
        agent: AgentId,
        execution_id: &str,
        ok: bool,
        mut metadata: Value,
        data: Option<Value>,
    ) -> Value {
        let mut event = match self {
            Vocabulary::Spec => json!({
                "workflow_id": t.workflow_id,
                "execution_id": execution_id,
                "execution_status": if ok { "completed" } else { "failed" },
                "agent_id": agent.as_str(),
            }),
            Vocabulary::Real => {
                // The real senders put the timestamp at the top level.
                let timestamp = metadata
                    .as_object_mut()
                    .and_then(|m| m.remove("timestamp"))
                    .unwrap_or_else(|| json!(now_rfc3339()));
                json!({
                    "workflow_id": t.workflow_id,
                    "agent_id": agent.as_str(),
                    "execution_status": if ok { "success" } else { "failure" },
                    "offset": 1,
                    "timestamp": timestamp,
                    "environment": "local",
                })
            }
        };
        if let Some(data) = data {
            event["agent_data"] = data;
        }
        event["metadata"] = metadata;
        event["correlation_id"] = json!(t.correlation_id);
        event
    }
}

fn data_sources(agent: AgentId) -> &'static [&'static str] {
    match agent {
        AgentId::IntegrationHealth => &["web_experimentation", "odp", "cms_webhooks", "analytics"],
        AgentId::ContentReview => &["cms", "site_crawl", "analytics"],
        AgentId::GeoAudit => &["site_crawl", "structured_data", "answer_engine_probes"],
        AgentId::AudienceSuggester => &["odp", "analytics", "commerce"],
        AgentId::ExperimentBlueprinter => &["web_experimentation", "analytics"],
        AgentId::PersonalizationIdeaGenerator => &["odp", "cms", "content_recommendations"],
        AgentId::CustomerJourney => &["analytics", "odp", "support_tickets"],
        AgentId::RoadmapGenerator => &["agent_outputs", "analytics"],
        AgentId::CmpOrganizer => &["cmp", "cms"],
    }
}

fn failure_reason(agent: AgentId) -> String {
    let cause = match agent {
        AgentId::IntegrationHealth => "experimentation API returned 503 on every project probe",
        AgentId::ContentReview => "CMS content API timed out after 3 retries",
        AgentId::GeoAudit => "site crawl exceeded its page budget before finishing",
        AgentId::AudienceSuggester => "ODP segment export returned no profiles",
        AgentId::ExperimentBlueprinter => "experiment history could not be loaded",
        AgentId::PersonalizationIdeaGenerator => "recommendation catalog feed is unavailable",
        AgentId::CustomerJourney => "analytics path export was rate limited",
        AgentId::RoadmapGenerator => "model response did not match the output schema",
        AgentId::CmpOrganizer => "CMP API rejected the request: credentials expired",
    };
    format!("simulated failure: {cause}")
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
impl Simulator {
    fn runs_finished(&self) -> usize {
        self.runs_finished.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests;
