//! Running the health checks: the probes behind `/api/health/*`, and
//! the scheduled run that folds them into per-service state and stores the
//! system report (state doc [`HEALTH_STATE`]) with a short history, and sets the
//! `osal_system_health_score` gauges.

use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ports::StoreError;
use osa_domain::health::{
    self, CheckResult, HEALTH_CHECK_MATRIX, Probe, ServiceHealthCheck, ServiceState,
    SystemHealthReport,
};
use osa_domain::metrics::{Family, Observation};
use osa_domain::schema::Timestamp;

use super::Services;

/// The ops state document holding service states, the latest report and history.
pub const HEALTH_STATE: &str = "health";
/// The ops state document the intake probe writes.
pub const INTAKE_PROBE_STATE: &str = "intake_probe";
/// Reports kept for `?detailed=true`.
pub const HISTORY: usize = 30;
const SAVE_ATTEMPTS: usize = 8;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HealthState {
    pub services: Vec<ServiceState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<SystemHealthReport>,
    /// Oldest first, at most [`HISTORY`].
    #[serde(default)]
    pub history: Vec<SystemHealthReport>,
}

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The checks behind `/api/health/{service}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthRoute {
    Intake,
    Opal,
    Database,
}

impl HealthRoute {
    /// Its check in the matrix (a test holds the order).
    pub fn check(self) -> &'static ServiceHealthCheck {
        let [intake, opal, database] = &HEALTH_CHECK_MATRIX;
        match self {
            HealthRoute::Intake => intake,
            HealthRoute::Opal => opal,
            HealthRoute::Database => database,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProbeStatus {
    Ok,
    Unhealthy,
}

/// One health check run now: what `/api/health/{service}` answers, with 200
/// when it passes and 503 when not. It reveals only up or down, a response
/// time and a version (the route is public).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct HealthProbe {
    pub status: ProbeStatus,
    pub service: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "Timestamp")]
    pub timestamp: OffsetDateTime,
    pub version: &'static str,
    pub response_time_ms: u64,
    /// The intake check's own measurements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<IntakeChecks>,
    /// Why it is not healthy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

/// What the intake probe exercised: a store write and a queue read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IntakeChecks {
    pub store_write_ms: u64,
    pub queue_ms: u64,
    pub queue_depth: u64,
}

/// The intake probe's body, as the check's criteria read it.
#[derive(Serialize)]
struct IntakeBody {
    status: &'static str,
    service: &'static str,
    timestamp: String,
    version: &'static str,
    checks: IntakeChecks,
}

/// The URL the OPAL probe GETs: `OPAL_HEALTH_URL` (the template's
/// `OpalHealthUrl`). Never guessed from the trigger URL: a guess that is wrong
/// reports OPAL down (or up) for the wrong reason.
pub fn opal_health_url(services: &Services) -> Option<&str> {
    services.config.opal_health_url.as_deref()
}

/// Runs one check's probe, bounded by its timeout.
pub async fn probe(services: &Services, check: &ServiceHealthCheck) -> Probe {
    probe_measured(services, check).await.0
}

/// The probe, and the intake check's measurements.
async fn probe_measured(
    services: &Services,
    check: &ServiceHealthCheck,
) -> (Probe, Option<IntakeChecks>) {
    let started = Instant::now();
    let timeout = Duration::from_millis(check.timeout_ms);
    let outcome = tokio::time::timeout(timeout, run_probe(services, check, timeout)).await;
    let response_time_ms = elapsed_ms(started);
    let checks = match &outcome {
        Ok(Ok((_, Some(body)))) => body
            .get("checks")
            .and_then(|c| IntakeChecks::deserialize(c).ok()),
        _ => None,
    };
    let probe = match outcome {
        Ok(Ok((status, body))) => Probe {
            status: Some(status),
            response_time_ms,
            body,
            error: None,
        },
        Ok(Err(error)) => Probe {
            status: None,
            response_time_ms,
            body: None,
            error: Some(error),
        },
        Err(_) => Probe {
            status: None,
            response_time_ms: response_time_ms.max(check.timeout_ms + 1),
            body: None,
            error: Some(format!("no answer within {} ms", check.timeout_ms)),
        },
    };
    (probe, checks)
}

async fn run_probe(
    services: &Services,
    check: &ServiceHealthCheck,
    timeout: Duration,
) -> Result<(u16, Option<serde_json::Value>), String> {
    match check.service_name {
        health::INTAKE => probe_intake(services).await,
        health::OPAL => {
            let url = opal_health_url(services)
                .ok_or("no OPAL probe URL: set OPAL_HEALTH_URL (the template's OpalHealthUrl)")?;
            let response = services
                .http
                .get(url, timeout)
                .await
                .map_err(|e| e.to_string())?;
            Ok((response.status, None))
        }
        health::DATABASE => {
            // A deep check: a real index query and a real key read.
            services
                .store
                .recent_workflows(1)
                .await
                .map_err(|e| e.to_string())?;
            services
                .ops
                .load_state(HEALTH_STATE)
                .await
                .map_err(|e| e.to_string())?;
            Ok((200, None))
        }
        other => Err(format!("no probe for {other}")),
    }
}

/// What an intake needs, exercised: a conditional write to the store (as an
/// intake's create is) and a read of the queue its OPAL trigger goes to; the
/// body reports each one's latency and the queue's depth.
async fn probe_intake(services: &Services) -> Result<(u16, Option<serde_json::Value>), String> {
    let started = Instant::now();
    let stored = services
        .ops
        .load_state(INTAKE_PROBE_STATE)
        .await
        .map_err(|e| format!("store: {e}"))?;
    let doc = serde_json::json!({"checked_at": osa_domain::rfc3339(services.clock.now())});
    // Losing the race to a concurrent probe is still an answer from the write path.
    services
        .ops
        .save_state(INTAKE_PROBE_STATE, &doc, stored.map(|s| s.version))
        .await
        .map_err(|e| format!("store: {e}"))?;
    let store_write_ms = elapsed_ms(started);
    let started = Instant::now();
    let queue_depth = services
        .queue
        .depth()
        .await
        .map_err(|e| format!("queue: {e}"))?;
    let body = IntakeBody {
        status: "ok",
        service: health::INTAKE,
        timestamp: osa_domain::rfc3339(services.clock.now()),
        version: version(),
        checks: IntakeChecks {
            store_write_ms,
            queue_ms: elapsed_ms(started),
            queue_depth,
        },
    };
    let body = serde_json::to_value(body).map_err(|e| format!("intake body: {e}"))?;
    Ok((200, Some(body)))
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What `/api/health/{service}` answers: the probe judged.
pub async fn check_now(services: &Services, route: HealthRoute) -> HealthProbe {
    let check = route.check();
    let service = check.service_name;
    let (probe, checks) = probe_measured(services, check).await;
    let result = health::evaluate(check, &probe, services.clock.now());
    if let Some(error) = &probe.error {
        tracing::warn!(service, error = %error, "health probe failed");
    }
    // The route is public: a probe's own error may name internals (a table,
    // a queue, a host), so it is told in the log and the admin report only.
    let failures = result
        .failures
        .into_iter()
        .map(|f| {
            if f.starts_with("error: ") {
                "error: the probe failed".to_owned()
            } else {
                f
            }
        })
        .collect();
    HealthProbe {
        status: if result.healthy {
            ProbeStatus::Ok
        } else {
            ProbeStatus::Unhealthy
        },
        service,
        timestamp: result.checked_at,
        version: version(),
        response_time_ms: result.response_time_ms,
        checks,
        failures,
    }
}

/// One scheduled run: probes every service, folds the results into the stored
/// state, stores the report and sets the health score gauges.
pub async fn run_checks(services: &Services) -> Result<SystemHealthReport, StoreError> {
    let probes = futures_join(services).await;
    let now = services.clock.now();
    let results: Vec<(&ServiceHealthCheck, CheckResult)> = HEALTH_CHECK_MATRIX
        .iter()
        .zip(probes)
        .map(|(check, probe)| (check, health::evaluate(check, &probe, now)))
        .collect();
    let mut report = None;
    for _ in 0..SAVE_ATTEMPTS {
        let stored = services.ops.load_state(HEALTH_STATE).await?;
        let expected = stored.as_ref().map(|s| s.version);
        let mut state: HealthState = stored
            .and_then(|s| serde_json::from_value(s.doc).ok())
            .unwrap_or_default();
        for (check, result) in &results {
            let index = match state
                .services
                .iter()
                .position(|s| s.service_name == check.service_name)
            {
                Some(i) => i,
                None => {
                    state.services.push(ServiceState::new(check.service_name));
                    state.services.len() - 1
                }
            };
            if let Some(service) = state.services.get_mut(index) {
                service.apply(check, result.clone());
            }
        }
        let next = health::report(&state.services, now);
        state.latest = Some(next.clone());
        state.history.push(next.clone());
        if state.history.len() > HISTORY {
            let excess = state.history.len() - HISTORY;
            state.history.drain(..excess);
        }
        let doc = serde_json::to_value(&state)
            .map_err(|e| StoreError::Corrupt(format!("health state: {e}")))?;
        if services
            .ops
            .save_state(HEALTH_STATE, &doc, expected)
            .await?
        {
            report = Some(next);
            break;
        }
    }
    let report = report
        .ok_or_else(|| StoreError::Unavailable("the health state kept changing; gave up".into()))?;
    let environment = services.config.environment.clone();
    let gauges = report
        .services
        .iter()
        .filter_map(|c| {
            Observation::set(
                Family::SystemHealthScore,
                &[&c.component, &environment],
                c.health_score,
            )
            .ok()
        })
        .collect();
    super::metrics::record(services, gauges).await;
    for component in report.services.iter().filter(|c| c.escalated) {
        tracing::warn!(
            service = %component.service_name,
            alert_signal = "health_escalation",
            consecutive_failures = component.consecutive_failures,
            "health check failing past its escalation time"
        );
    }
    tracing::info!(
        overall = ?report.overall_status,
        critical_issues = report.critical_issues,
        "health checks ran"
    );
    Ok(report)
}

async fn futures_join(services: &Services) -> Vec<Probe> {
    let [a, b, c] = &HEALTH_CHECK_MATRIX;
    let (a, b, c) = tokio::join!(probe(services, a), probe(services, b), probe(services, c));
    vec![a, b, c]
}

/// `?detailed=true`: also each service's state and the recent reports.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ReportQuery {
    /// Also each service's state and the recent reports.
    #[serde(default)]
    pub detailed: bool,
}

/// The latest stored system report, and with `?detailed=true` more.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "GuardrailsHealth")]
pub struct ReportView {
    /// Null before the first scheduled check.
    pub report: Option<SystemHealthReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<ServiceState>>,
    /// Newest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<SystemHealthReport>>,
}

/// The latest stored system report (the scheduled check's); `detailed` adds the
/// per-service state and the recent reports, newest first.
pub async fn report_view(
    services: &Services,
    query: &ReportQuery,
) -> Result<ReportView, StoreError> {
    let state = load(services).await?.unwrap_or_default();
    let message = state
        .latest
        .is_none()
        .then_some("no health check has run yet");
    let (services, history) = if query.detailed {
        let mut history = state.history;
        history.reverse();
        (Some(state.services), Some(history))
    } else {
        (None, None)
    };
    Ok(ReportView {
        report: state.latest,
        message,
        services,
        history,
    })
}

/// The stored state (latest report and history), if any run has happened.
pub async fn load(services: &Services) -> Result<Option<HealthState>, StoreError> {
    Ok(services
        .ops
        .load_state(HEALTH_STATE)
        .await?
        .and_then(|s| serde_json::from_value(s.doc).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_runs_its_own_check() {
        for (route, name) in [
            (HealthRoute::Intake, health::INTAKE),
            (HealthRoute::Opal, health::OPAL),
            (HealthRoute::Database, health::DATABASE),
        ] {
            assert_eq!(route.check().service_name, name);
        }
    }
}
