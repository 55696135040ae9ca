//! Health checks: the check matrix with its timeouts, success criteria
//! and failure thresholds; judging one probe; per-service state over consecutive
//! runs (consecutive failures, failure rate, escalation); the system report.
//! Pure: the probes themselves are run by `app::health`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckType {
    Basic,
    Deep,
    ExternalDependency,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HealthCriteria {
    pub max_response_time_ms: u64,
    pub required_status_codes: &'static [u16],
    pub required_response_fields: &'static [&'static str],
    pub min_success_rate: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FailureThresholds {
    pub consecutive_failures: u32,
    pub failure_rate_threshold: f64,
    pub alert_escalation_minutes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServiceHealthCheck {
    pub service_name: &'static str,
    /// The `osal_system_health_score` component.
    pub component: &'static str,
    pub check_type: CheckType,
    pub endpoint: Option<&'static str>,
    pub timeout_ms: u64,
    pub success_criteria: HealthCriteria,
    pub failure_thresholds: FailureThresholds,
    /// An unhealthy critical service counts as a critical issue.
    pub critical: bool,
}

pub const INTAKE: &str = "strategy_intake_service";
pub const OPAL: &str = "opal_integration";
pub const DATABASE: &str = "database_connectivity";

/// The spec's matrix.
pub const HEALTH_CHECK_MATRIX: [ServiceHealthCheck; 3] = [
    ServiceHealthCheck {
        service_name: INTAKE,
        component: "api",
        check_type: CheckType::Basic,
        endpoint: Some("/api/health/intake"),
        timeout_ms: 5000,
        success_criteria: HealthCriteria {
            max_response_time_ms: 2000,
            required_status_codes: &[200],
            required_response_fields: &["status", "timestamp", "version"],
            min_success_rate: None,
        },
        failure_thresholds: FailureThresholds {
            consecutive_failures: 3,
            failure_rate_threshold: 0.1,
            alert_escalation_minutes: 5,
        },
        critical: true,
    },
    ServiceHealthCheck {
        service_name: OPAL,
        component: "opal",
        check_type: CheckType::ExternalDependency,
        endpoint: Some("/api/health/opal"),
        timeout_ms: 15000,
        success_criteria: HealthCriteria {
            max_response_time_ms: 10000,
            required_status_codes: &[200],
            required_response_fields: &[],
            min_success_rate: Some(0.95),
        },
        failure_thresholds: FailureThresholds {
            consecutive_failures: 2,
            failure_rate_threshold: 0.05,
            alert_escalation_minutes: 2,
        },
        critical: false,
    },
    ServiceHealthCheck {
        service_name: DATABASE,
        component: "database",
        check_type: CheckType::Deep,
        endpoint: Some("/api/health/database"),
        timeout_ms: 3000,
        success_criteria: HealthCriteria {
            max_response_time_ms: 1000,
            required_status_codes: &[200],
            required_response_fields: &[],
            min_success_rate: None,
        },
        failure_thresholds: FailureThresholds {
            consecutive_failures: 1,
            failure_rate_threshold: 0.01,
            alert_escalation_minutes: 1,
        },
        critical: true,
    },
];

pub fn check(service_name: &str) -> Option<&'static ServiceHealthCheck> {
    HEALTH_CHECK_MATRIX
        .iter()
        .find(|c| c.service_name == service_name)
}

/// Results kept per service for the failure and success rates.
pub const WINDOW: usize = 20;

/// What one probe saw. A probe that did not finish within the check's timeout has
/// `status: None` and an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub status: Option<u16>,
    pub response_time_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One probe judged against its criteria.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckResult {
    pub service_name: String,
    pub healthy: bool,
    pub response_time_ms: u64,
    /// Why it is not healthy (empty when it is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub checked_at: OffsetDateTime,
}

pub fn evaluate(check: &ServiceHealthCheck, probe: &Probe, now: OffsetDateTime) -> CheckResult {
    let criteria = &check.success_criteria;
    let mut failures = Vec::new();
    if let Some(error) = &probe.error {
        failures.push(format!("error: {error}"));
    }
    if probe.response_time_ms > check.timeout_ms {
        failures.push(format!("timed out after {} ms", check.timeout_ms));
    } else if probe.response_time_ms > criteria.max_response_time_ms {
        failures.push(format!(
            "response time {} ms over {} ms",
            probe.response_time_ms, criteria.max_response_time_ms
        ));
    }
    match probe.status {
        Some(code) if criteria.required_status_codes.contains(&code) => {}
        Some(code) => failures.push(format!("status {code}")),
        None if probe.error.is_none() => failures.push("no response".into()),
        None => {}
    }
    for field in criteria.required_response_fields {
        if probe.body.as_ref().and_then(|b| b.get(field)).is_none() {
            failures.push(format!("missing field {field}"));
        }
    }
    CheckResult {
        service_name: check.service_name.to_owned(),
        healthy: failures.is_empty(),
        response_time_ms: probe.response_time_ms,
        failures,
        checked_at: now,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    Healthy,
    /// Failing, but under the consecutive-failure threshold; or failing too often.
    Degraded,
    /// At or over the consecutive-failure threshold.
    Unhealthy,
}

/// A service's state across runs: what the scheduled check keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServiceState {
    pub service_name: String,
    pub status: ServiceStatus,
    pub consecutive_failures: u32,
    /// The latest results, newest last, at most [`WINDOW`].
    pub recent: Vec<bool>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub failing_since: Option<OffsetDateTime>,
    /// Failing for longer than the escalation minutes.
    pub escalated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<CheckResult>,
}

impl ServiceState {
    pub fn new(service_name: &str) -> Self {
        ServiceState {
            service_name: service_name.to_owned(),
            status: ServiceStatus::Healthy,
            consecutive_failures: 0,
            recent: Vec::new(),
            failing_since: None,
            escalated: false,
            last: None,
        }
    }

    pub fn failure_rate(&self) -> f64 {
        if self.recent.is_empty() {
            return 0.0;
        }
        self.recent.iter().filter(|ok| !**ok).count() as f64 / self.recent.len() as f64
    }

    /// Share of successes in the window; 1 with no data yet.
    pub fn health_score(&self) -> f64 {
        if self.recent.is_empty() {
            1.0
        } else {
            1.0 - self.failure_rate()
        }
    }

    /// Folds one result in.
    pub fn apply(&mut self, check: &ServiceHealthCheck, result: CheckResult) {
        let thresholds = &check.failure_thresholds;
        self.recent.push(result.healthy);
        if self.recent.len() > WINDOW {
            let excess = self.recent.len() - WINDOW;
            self.recent.drain(..excess);
        }
        if result.healthy {
            self.consecutive_failures = 0;
            self.failing_since = None;
            self.escalated = false;
        } else {
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            let since = *self.failing_since.get_or_insert(result.checked_at);
            let escalate_after =
                time::Duration::minutes(i64::from(thresholds.alert_escalation_minutes));
            self.escalated = result.checked_at - since >= escalate_after;
        }
        let rate = self.failure_rate();
        let below_success_rate = check
            .success_criteria
            .min_success_rate
            .is_some_and(|min| self.recent.len() >= WINDOW / 2 && 1.0 - rate < min);
        self.status = if !result.healthy
            && self.consecutive_failures >= thresholds.consecutive_failures.max(1)
        {
            ServiceStatus::Unhealthy
        } else if !result.healthy
            || below_success_rate
            || (self.recent.len() >= WINDOW / 2 && rate > thresholds.failure_rate_threshold)
        {
            ServiceStatus::Degraded
        } else {
            ServiceStatus::Healthy
        };
        self.last = Some(result);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OverallStatus {
    Healthy,
    Degraded,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComponentHealth {
    pub service_name: String,
    pub component: String,
    pub status: ServiceStatus,
    pub health_score: f64,
    pub consecutive_failures: u32,
    pub failure_rate: f64,
    pub escalated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<CheckResult>,
}

/// The system report the scheduled check stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SystemHealthReport {
    pub overall_status: OverallStatus,
    pub critical_issues: u32,
    pub services: Vec<ComponentHealth>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub checked_at: OffsetDateTime,
    pub next_check_in_seconds: u64,
}

/// Checks come every minute while healthy, every 30 s while degraded (advisory
/// on AWS, where the schedule is fixed; the local loop follows it).
pub fn next_check_interval(overall: OverallStatus) -> u64 {
    match overall {
        OverallStatus::Healthy => 60,
        OverallStatus::Degraded => 30,
    }
}

pub fn report(states: &[ServiceState], now: OffsetDateTime) -> SystemHealthReport {
    let mut critical_issues = 0;
    let mut services = Vec::new();
    for state in states {
        let Some(check) = check(&state.service_name) else {
            continue;
        };
        if check.critical && state.status == ServiceStatus::Unhealthy {
            critical_issues += 1;
        }
        services.push(ComponentHealth {
            service_name: state.service_name.clone(),
            component: check.component.to_owned(),
            status: state.status,
            health_score: state.health_score(),
            consecutive_failures: state.consecutive_failures,
            failure_rate: state.failure_rate(),
            escalated: state.escalated,
            last: state.last.clone(),
        });
    }
    let overall_status = if services.iter().all(|s| s.status == ServiceStatus::Healthy) {
        OverallStatus::Healthy
    } else {
        OverallStatus::Degraded
    };
    SystemHealthReport {
        overall_status,
        critical_issues,
        services,
        checked_at: now,
        next_check_in_seconds: next_check_interval(overall_status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-25 10:00 UTC);

    fn ok_probe(ms: u64) -> Probe {
        Probe {
            status: Some(200),
            response_time_ms: ms,
            body: Some(serde_json::json!({"status": "ok", "timestamp": "t", "version": "1"})),
            error: None,
        }
    }

    fn down() -> Probe {
        Probe {
            status: None,
            response_time_ms: 3,
            body: None,
            error: Some("connection refused".into()),
        }
    }

    fn matrix(name: &str) -> &'static ServiceHealthCheck {
        check(name).expect("in the matrix")
    }

    #[test]
    fn the_matrix_is_the_specs() {
        let intake = matrix(INTAKE);
        assert_eq!(intake.timeout_ms, 5000);
        assert_eq!(intake.success_criteria.max_response_time_ms, 2000);
        assert_eq!(intake.failure_thresholds.consecutive_failures, 3);
        let opal = matrix(OPAL);
        assert_eq!(opal.check_type, CheckType::ExternalDependency);
        assert_eq!(opal.success_criteria.min_success_rate, Some(0.95));
        assert_eq!(opal.failure_thresholds.alert_escalation_minutes, 2);
        let db = matrix(DATABASE);
        assert_eq!(db.timeout_ms, 3000);
        assert_eq!(db.failure_thresholds.consecutive_failures, 1);
    }

    #[test]
    fn criteria_edges() {
        let intake = matrix(INTAKE);
        assert!(evaluate(intake, &ok_probe(2000), NOW).healthy);
        let slow = evaluate(intake, &ok_probe(2001), NOW);
        assert!(!slow.healthy);
        assert!(slow.failures[0].contains("over 2000"));
        assert!(!evaluate(intake, &ok_probe(5001), NOW).failures[0].contains("over"));
        let mut missing = ok_probe(5);
        missing.body = Some(serde_json::json!({"status": "ok", "timestamp": "t"}));
        assert_eq!(
            evaluate(intake, &missing, NOW).failures,
            vec!["missing field version".to_owned()]
        );
        let mut status = ok_probe(5);
        status.status = Some(503);
        assert!(!evaluate(intake, &status, NOW).healthy);
        assert!(!evaluate(matrix(OPAL), &down(), NOW).healthy);
        // The database check needs no fields.
        let mut bare = ok_probe(999);
        bare.body = None;
        assert!(evaluate(matrix(DATABASE), &bare, NOW).healthy);
        bare.response_time_ms = 1001;
        assert!(!evaluate(matrix(DATABASE), &bare, NOW).healthy);
    }

    #[test]
    fn consecutive_failures_and_escalation() {
        let opal = matrix(OPAL);
        let mut state = ServiceState::new(OPAL);
        state.apply(opal, evaluate(opal, &ok_probe(10), NOW));
        assert_eq!(state.status, ServiceStatus::Healthy);
        let t1 = NOW + time::Duration::minutes(1);
        state.apply(opal, evaluate(opal, &down(), t1));
        assert_eq!(state.status, ServiceStatus::Degraded);
        assert!(!state.escalated);
        let t2 = NOW + time::Duration::minutes(2);
        state.apply(opal, evaluate(opal, &down(), t2));
        assert_eq!(state.status, ServiceStatus::Unhealthy, "2 in a row");
        assert!(!state.escalated, "failing for 1 minute, escalation is 2");
        let t3 = NOW + time::Duration::minutes(3);
        state.apply(opal, evaluate(opal, &down(), t3));
        assert!(state.escalated);
        state.apply(opal, evaluate(opal, &ok_probe(10), t3));
        assert_eq!(state.consecutive_failures, 0);
        assert!(!state.escalated);
        // 3 failures of 5 is still over the 5 % failure rate, but the window is short.
        assert_eq!(state.status, ServiceStatus::Healthy);
    }

    #[test]
    fn failure_rate_over_the_window_degrades() {
        let intake = matrix(INTAKE);
        let mut state = ServiceState::new(INTAKE);
        // 1 failure in 10 = 10 %: not over the 10 % threshold.
        state.apply(intake, evaluate(intake, &down(), NOW));
        for _ in 0..9 {
            state.apply(intake, evaluate(intake, &ok_probe(5), NOW));
        }
        assert_eq!(state.status, ServiceStatus::Healthy);
        // 2 failures in 11: over.
        state.apply(intake, evaluate(intake, &down(), NOW));
        state.apply(intake, evaluate(intake, &ok_probe(5), NOW));
        assert!(state.failure_rate() > 0.1);
        assert_eq!(state.status, ServiceStatus::Degraded);
        assert!(state.recent.len() <= WINDOW);
        for _ in 0..30 {
            state.apply(intake, evaluate(intake, &ok_probe(5), NOW));
        }
        assert_eq!(state.recent.len(), WINDOW);
        assert_eq!(state.health_score(), 1.0);
    }

    #[test]
    fn the_report_counts_critical_issues() {
        let mut states: Vec<ServiceState> = HEALTH_CHECK_MATRIX
            .iter()
            .map(|c| ServiceState::new(c.service_name))
            .collect();
        for (state, check) in states.iter_mut().zip(HEALTH_CHECK_MATRIX.iter()) {
            state.apply(check, evaluate(check, &ok_probe(5), NOW));
        }
        let healthy = report(&states, NOW);
        assert_eq!(healthy.overall_status, OverallStatus::Healthy);
        assert_eq!(healthy.next_check_in_seconds, 60);
        assert_eq!(healthy.services.len(), 3);
        // The database fails once: unhealthy at once (threshold 1), and critical.
        let db = matrix(DATABASE);
        states[2].apply(db, evaluate(db, &down(), NOW));
        let degraded = report(&states, NOW);
        assert_eq!(degraded.overall_status, OverallStatus::Degraded);
        assert_eq!(degraded.critical_issues, 1);
        assert_eq!(degraded.next_check_in_seconds, 30);
        assert_eq!(degraded.services[2].health_score, 0.5);
    }
}
