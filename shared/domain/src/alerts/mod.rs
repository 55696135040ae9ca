//! Alert rules: evaluation over a window of
//! samples (with `insufficient_data`), suppression (the planned maintenance window,
//! Sunday 02:00-04:00 UTC, and a manual switch), fire once while a condition lasts,
//! re-notify at an interval, a resolved notice; and the notification payloads
//! (Slack incoming webhook, PagerDuty Events API v2, email and SMS webhooks).
//! Pure: the samples are collected, and notifications sent, by `app::alerts`.

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, Weekday};

mod payloads;
pub use payloads::{
    email_payload, pagerduty_payload, shown_value, slack_payload, sms_payload, webhook_payload,
};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// How often a still-firing alert is sent again.
    pub const fn renotify_minutes(self) -> i64 {
        match self {
            Severity::Critical => 15,
            Severity::High => 30,
            Severity::Medium => 60,
            Severity::Low => 120,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
}

impl Operator {
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Operator::Gt => value > threshold,
            Operator::Gte => value >= threshold,
            Operator::Lt => value < threshold,
            Operator::Lte => value <= threshold,
            Operator::Eq => (value - threshold).abs() < f64::EPSILON,
        }
    }
}

/// How a window of samples becomes one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// Σ value / Σ weight: a rate (failures over attempts), or a mean (weight 1).
    Ratio,
    /// The largest value.
    Max,
}

/// The metrics the rules watch; `app::alerts` samples each once per evaluation.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AlertMetric {
    /// Failed or timed-out agent executions over all finished ones.
    OpalAgentFailureRate,
    /// Outbound deliveries dead-lettered in the last 15 minutes and still
    /// dead-lettered (a redrive that delivers one clears it), alert
    /// notifications aside: a failing channel does not page about itself.
    DeliveriesDeadLettered,
    /// The longest current run of a running workflow, or the run of one that
    /// finished since the previous evaluation, in minutes (from its latest
    /// (re)start; a paused workflow is not running).
    WorkflowExecutionDurationMinutes,
    /// API requests answered with a server error (5xx) over all API requests; a
    /// client error (4xx) is the caller's and not a failure.
    ErrorRate,
    /// Agents that ran past their own allowance since the previous evaluation,
    /// by OSA's clock.
    AgentsOverAllowance,
    /// Share of health checks of the critical services that passed.
    Availability,
    /// The 95th percentile API request duration, in seconds (a bucket bound).
    P95ResponseTimeSeconds,
}

impl AlertMetric {
    pub const fn aggregate(self) -> Aggregate {
        match self {
            AlertMetric::OpalAgentFailureRate
            | AlertMetric::ErrorRate
            | AlertMetric::Availability => Aggregate::Ratio,
            _ => Aggregate::Max,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AlertCondition {
    pub metric: AlertMetric,
    pub operator: Operator,
    pub threshold: f64,
    pub evaluation_window_minutes: i64,
    pub min_data_points: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Slack,
    Email,
    PagerDuty,
    Sms,
    /// A generic webhook that hears every notice of every rule, signed the
    /// Standard Webhooks way (`payloads::webhook_payload`).
    Webhook,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Slack => "slack",
            Channel::Email => "email",
            Channel::PagerDuty => "pagerduty",
            Channel::Sms => "sms",
            Channel::Webhook => "webhook",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AlertRule {
    pub rule_id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub severity: Severity,
    pub condition: AlertCondition,
    pub channels: &'static [Channel],
    /// Silenced during planned maintenance.
    pub suppressed_in_maintenance: bool,
    /// Evaluated at most this often (the table's "Every 2min"...).
    pub evaluate_every_secs: i64,
}

impl AlertRule {
    pub fn runbook_url(&self, base: &str) -> String {
        format!(
            "{}/runbooks/{}",
            base.trim_end_matches('/'),
            self.rule_id.replace('_', "-")
        )
    }
}

const fn cond(
    metric: AlertMetric,
    operator: Operator,
    threshold: f64,
    evaluation_window_minutes: i64,
    min_data_points: usize,
) -> AlertCondition {
    AlertCondition {
        metric,
        operator,
        threshold,
        evaluation_window_minutes,
        min_data_points,
    }
}

/// The spec's three rules and the table's five (the webhook failures appear in
/// both).
pub const ALERT_RULES: [AlertRule; 7] = [
    AlertRule {
        rule_id: "opal_agent_failure_rate",
        name: "High OPAL Agent Failure Rate",
        description: "OPAL agent failure rate exceeds 10% over 5 minutes",
        severity: Severity::High,
        condition: cond(AlertMetric::OpalAgentFailureRate, Operator::Gt, 0.1, 5, 3),
        channels: &[Channel::Slack, Channel::Email, Channel::PagerDuty],
        suppressed_in_maintenance: true,
        evaluate_every_secs: 60,
    },
    AlertRule {
        rule_id: "webhook_delivery_failures",
        name: "Webhook Delivery Failures",
        description: "An outbound delivery was dead-lettered after its last attempt",
        severity: Severity::Medium,
        // Fires on the first dead letter and stays firing while one dead-lettered
        // in the last 15 minutes is still in the queue (the metric's own
        // window); so the latest sample alone decides.
        condition: cond(
            AlertMetric::DeliveriesDeadLettered,
            Operator::Gte,
            1.0,
            1,
            1,
        ),
        // The spec's table says Slack; a dead letter is past every retry (an
        // OPAL trigger's means a workflow that never started), so it also
        // pages (docs/operations.md).
        channels: &[Channel::Slack, Channel::PagerDuty],
        suppressed_in_maintenance: false,
        evaluate_every_secs: 30,
    },
    AlertRule {
        rule_id: "strategy_workflow_timeout",
        name: "Strategy Workflow Timeout",
        description: "A strategy workflow exceeds its 30-minute maximum execution time",
        severity: Severity::Critical,
        condition: cond(
            AlertMetric::WorkflowExecutionDurationMinutes,
            Operator::Gt,
            30.0,
            1,
            1,
        ),
        channels: &[
            Channel::Slack,
            Channel::Email,
            Channel::PagerDuty,
            Channel::Sms,
        ],
        suppressed_in_maintenance: false,
        evaluate_every_secs: 60,
    },
    AlertRule {
        rule_id: "high_error_rate",
        name: "High Error Rate",
        description: "Server errors (5xx) over 5% of API requests in 5 minutes",
        severity: Severity::High,
        condition: cond(AlertMetric::ErrorRate, Operator::Gt, 0.05, 5, 1),
        channels: &[Channel::Slack, Channel::Email],
        suppressed_in_maintenance: true,
        evaluate_every_secs: 60,
    },
    AlertRule {
        rule_id: "agent_timeout",
        name: "Agent Timeout",
        description: "An agent ran past its allowance (300 s; the roadmap generator 360 s)",
        severity: Severity::High,
        condition: cond(AlertMetric::AgentsOverAllowance, Operator::Gte, 1.0, 1, 1),
        channels: &[Channel::PagerDuty],
        suppressed_in_maintenance: false,
        evaluate_every_secs: 0,
    },
    AlertRule {
        rule_id: "low_availability",
        name: "Low Availability",
        description: "Availability under 99%",
        severity: Severity::Critical,
        condition: cond(AlertMetric::Availability, Operator::Lt, 0.99, 5, 1),
        channels: &[Channel::Email, Channel::Sms],
        suppressed_in_maintenance: true,
        evaluate_every_secs: 300,
    },
    AlertRule {
        rule_id: "high_response_time",
        name: "High Response Time",
        description: "P95 API response time over 5 seconds",
        severity: Severity::Medium,
        condition: cond(AlertMetric::P95ResponseTimeSeconds, Operator::Gt, 5.0, 2, 1),
        channels: &[Channel::Slack],
        suppressed_in_maintenance: true,
        evaluate_every_secs: 120,
    },
];

pub fn rule(rule_id: &str) -> Option<&'static AlertRule> {
    ALERT_RULES.iter().find(|r| r.rule_id == rule_id)
}

/// One data point: `value` (over `weight`, for ratios).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub value: f64,
    pub weight: f64,
}

impl Sample {
    pub fn new(at: OffsetDateTime, value: f64) -> Sample {
        Sample {
            at,
            value,
            weight: 1.0,
        }
    }

    pub fn ratio(at: OffsetDateTime, part: f64, whole: f64) -> Sample {
        Sample {
            at,
            value: part,
            weight: whole,
        }
    }
}

/// The samples inside a rule's window ending at `now`.
pub fn window(samples: &[Sample], condition: &AlertCondition, now: OffsetDateTime) -> Vec<Sample> {
    let from = now - time::Duration::minutes(condition.evaluation_window_minutes);
    samples
        .iter()
        .filter(|s| s.at > from && s.at <= now)
        .filter(|s| condition.metric.aggregate() == Aggregate::Max || s.weight > 0.0)
        .copied()
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    InsufficientData,
    Ok,
    Triggered,
}

/// The condition over the window: the aggregated value and the verdict.
pub fn evaluate(
    condition: &AlertCondition,
    samples: &[Sample],
    now: OffsetDateTime,
) -> (Verdict, Option<f64>) {
    let points = window(samples, condition, now);
    if points.is_empty() || points.len() < condition.min_data_points {
        return (Verdict::InsufficientData, None);
    }
    let value = match condition.metric.aggregate() {
        Aggregate::Ratio => {
            let whole: f64 = points.iter().map(|s| s.weight).sum();
            if whole <= 0.0 {
                return (Verdict::InsufficientData, None);
            }
            points.iter().map(|s| s.value).sum::<f64>() / whole
        }
        Aggregate::Max => points
            .iter()
            .map(|s| s.value)
            .fold(f64::NEG_INFINITY, f64::max),
    };
    let verdict = if condition.operator.holds(value, condition.threshold) {
        Verdict::Triggered
    } else {
        Verdict::Ok
    };
    (verdict, Some(value))
}

// ---- suppression -------------------------------------------------------------

/// The maintenance settings the admin API switches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    /// The weekly planned window (Sunday 02:00-04:00 UTC) applies.
    pub scheduled: bool,
    /// A manual maintenance until then.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub manual_until: Option<OffsetDateTime>,
}

impl Default for Maintenance {
    fn default() -> Self {
        Maintenance {
            scheduled: true,
            manual_until: None,
        }
    }
}

impl Maintenance {
    pub fn active(&self, now: OffsetDateTime) -> bool {
        let now = now.to_offset(time::UtcOffset::UTC);
        let scheduled =
            self.scheduled && now.weekday() == Weekday::Sunday && (2..4).contains(&now.hour());
        scheduled || self.manual_until.is_some_and(|until| now < until)
    }
}

// ---- state and transitions ---------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Firing {
    pub alert_id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub fired_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub last_notified_at: OffsetDateTime,
    pub notifications: u32,
    pub value: f64,
    /// Who acknowledged it: it re-notifies no more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledged>,
    /// A silence: no re-notification until it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced: Option<Silence>,
}

impl Firing {
    /// Whether a re-notification is held back at `now` (acknowledged, or silenced).
    pub fn quiet(&self, now: OffsetDateTime) -> bool {
        self.acknowledged.is_some() || self.silenced.as_ref().is_some_and(|s| now < s.until)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Acknowledged {
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Silence {
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub until: OffsetDateTime,
}

/// The longest silence an operator may set.
pub const MAX_SILENCE: time::Duration = time::Duration::hours(24);

/// What an operator does to a firing alert.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertAction {
    Acknowledge,
    Silence { until: OffsetDateTime },
}

impl AlertAction {
    /// Its name in the admin audit trail.
    pub const fn audit_name(&self) -> &'static str {
        match self {
            AlertAction::Acknowledge => "alert_acknowledged",
            AlertAction::Silence { .. } => "alert_silenced",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("no such alert")]
    Unknown,
    #[error("the alert has resolved")]
    Resolved,
    #[error("until must be later than now and at most 24 hours ahead")]
    BadUntil,
}

/// What an action did: the alert as it stands, whether anything changed (the
/// same action again changes nothing), and the notice to send (an
/// acknowledgement goes to the channels: PagerDuty acknowledges its incident).
#[derive(Debug, Clone, PartialEq)]
pub struct Acted {
    pub rule_id: String,
    pub firing: Firing,
    pub changed: bool,
    pub notice: Option<Notice>,
}

/// Applies an operator's action to the firing alert `alert_id` among `rules`;
/// `recent` (the notices sent) tells a resolved alert from an unknown one.
pub fn act(
    rules: &mut [RuleState],
    recent: &[Notice],
    alert_id: &str,
    action: &AlertAction,
    by: &str,
    now: OffsetDateTime,
    runbook_base: &str,
) -> Result<Acted, ActionError> {
    let Some(state) = rules
        .iter_mut()
        .find(|r| r.firing.as_ref().is_some_and(|f| f.alert_id == alert_id))
    else {
        return Err(if recent.iter().any(|n| n.alert_id == alert_id) {
            ActionError::Resolved
        } else {
            ActionError::Unknown
        });
    };
    let rule_id = state.rule_id.clone();
    let Some(firing) = state.firing.as_mut() else {
        return Err(ActionError::Unknown);
    };
    let mut notice = None;
    let changed = match action {
        AlertAction::Acknowledge if firing.acknowledged.is_some() => false,
        AlertAction::Acknowledge => {
            firing.acknowledged = Some(Acknowledged {
                by: by.to_owned(),
                at: now,
            });
            notice = rule(&rule_id).map(|r| Notice {
                kind: NoticeKind::Acknowledged,
                alert_id: firing.alert_id.clone(),
                rule_id: rule_id.clone(),
                severity: r.severity,
                title: r.name.to_owned(),
                description: r.description.to_owned(),
                current_value: firing.value,
                threshold: r.condition.threshold,
                at: now,
                runbook_url: r.runbook_url(runbook_base),
                involved: Vec::new(),
                by: Some(by.to_owned()),
            });
            true
        }
        AlertAction::Silence { until } => {
            if *until <= now || *until - now > MAX_SILENCE {
                return Err(ActionError::BadUntil);
            }
            if firing.silenced.as_ref().is_some_and(|s| s.until == *until) {
                false
            } else {
                firing.silenced = Some(Silence {
                    by: by.to_owned(),
                    at: now,
                    until: *until,
                });
                true
            }
        }
    };
    Ok(Acted {
        rule_id,
        firing: firing.clone(),
        changed,
        notice,
    })
}

/// A rule's state between evaluations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    pub rule_id: String,
    #[serde(default)]
    pub samples: Vec<Sample>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firing: Option<Firing>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_evaluated_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Evaluation>,
}

impl RuleState {
    pub fn new(rule_id: &str) -> Self {
        RuleState {
            rule_id: rule_id.to_owned(),
            samples: Vec::new(),
            firing: None,
            last_evaluated_at: None,
            last: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Evaluation {
    pub rule_id: String,
    pub verdict: Verdict,
    pub triggered: bool,
    pub suppressed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_value: Option<f64>,
    pub threshold: f64,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub evaluated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Fired,
    Renotified,
    Resolved,
    /// An operator acknowledged it (`by`).
    Acknowledged,
}

/// An alert to send (and record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Notice {
    pub kind: NoticeKind,
    pub alert_id: String,
    pub rule_id: String,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub current_value: f64,
    pub threshold: f64,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub at: OffsetDateTime,
    pub runbook_url: String,
    /// What the alert is about (the dead-lettered deliveries and their
    /// workflows, the workflows over their time), at most [`MAX_INVOLVED`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub involved: Vec<Involved>,
    /// Who acted, on an acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// The most ids a notice names.
pub const MAX_INVOLVED: usize = 10;

/// One thing an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Involved {
    /// `delivery` or `workflow`.
    pub kind: String,
    pub id: String,
}

impl Involved {
    pub fn delivery(id: impl Into<String>) -> Involved {
        Involved {
            kind: "delivery".into(),
            id: id.into(),
        }
    }

    pub fn workflow(id: impl Into<String>) -> Involved {
        Involved {
            kind: "workflow".into(),
            id: id.into(),
        }
    }
}

/// Whether a rule is due: evaluated at most every `evaluate_every_secs`, less
/// a tenth (at most 5 s) of slack, so a schedule that fires a little early (an
/// EventBridge rule's jitter, the half-minute job's delay) does not skip a
/// whole period.
pub fn due(rule: &AlertRule, state: &RuleState, now: OffsetDateTime) -> bool {
    let every = rule.evaluate_every_secs.max(0);
    let slack = (every / 10).min(5);
    state
        .last_evaluated_at
        .is_none_or(|at| now - at >= time::Duration::seconds(every - slack))
}

/// One evaluation: adds `sample` (if any), prunes samples older than the window,
/// evaluates, and returns the notice to send, if any. `new_alert_id` names a new
/// firing.
pub fn step(
    rule: &AlertRule,
    state: &mut RuleState,
    sample: Option<Sample>,
    now: OffsetDateTime,
    maintenance: bool,
    new_alert_id: impl FnOnce() -> String,
    runbook_base: &str,
) -> Option<Notice> {
    if let Some(sample) = sample {
        state.samples.push(sample);
    }
    let keep_from = now - time::Duration::minutes(rule.condition.evaluation_window_minutes);
    state.samples.retain(|s| s.at > keep_from);
    let (verdict, value) = evaluate(&rule.condition, &state.samples, now);
    let suppressed = maintenance && rule.suppressed_in_maintenance;
    let triggered = verdict == Verdict::Triggered;
    state.last_evaluated_at = Some(now);
    state.last = Some(Evaluation {
        rule_id: rule.rule_id.to_owned(),
        verdict,
        triggered,
        suppressed: triggered && suppressed,
        metric_value: value,
        threshold: rule.condition.threshold,
        evaluated_at: now,
    });
    let notice = |kind, alert_id: &str, value: f64| Notice {
        kind,
        alert_id: alert_id.to_owned(),
        rule_id: rule.rule_id.to_owned(),
        severity: rule.severity,
        title: rule.name.to_owned(),
        description: rule.description.to_owned(),
        current_value: value,
        threshold: rule.condition.threshold,
        at: now,
        runbook_url: rule.runbook_url(runbook_base),
        involved: Vec::new(),
        by: None,
    };
    match (verdict, state.firing.as_mut()) {
        // No data says nothing: a firing alert stays firing, nothing new fires.
        (Verdict::InsufficientData, _) => None,
        (Verdict::Ok, Some(_)) => {
            let firing = state.firing.take()?;
            Some(notice(
                NoticeKind::Resolved,
                &firing.alert_id,
                value.unwrap_or(firing.value),
            ))
        }
        (Verdict::Ok, None) => None,
        (Verdict::Triggered, _) if suppressed => None,
        (Verdict::Triggered, None) => {
            let value = value.unwrap_or_default();
            let alert_id = new_alert_id();
            state.firing = Some(Firing {
                alert_id: alert_id.clone(),
                fired_at: now,
                last_notified_at: now,
                notifications: 1,
                value,
                acknowledged: None,
                silenced: None,
            });
            Some(notice(NoticeKind::Fired, &alert_id, value))
        }
        (Verdict::Triggered, Some(firing)) => {
            firing.value = value.unwrap_or(firing.value);
            if firing.quiet(now) {
                return None;
            }
            let interval = time::Duration::minutes(rule.severity.renotify_minutes());
            if now - firing.last_notified_at < interval {
                return None;
            }
            firing.last_notified_at = now;
            firing.notifications = firing.notifications.saturating_add(1);
            let (id, value) = (firing.alert_id.clone(), firing.value);
            Some(notice(NoticeKind::Renotified, &id, value))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    // A Wednesday.
    const T0: OffsetDateTime = datetime!(2026-11-25 10:00 UTC);

    fn at(min: i64) -> OffsetDateTime {
        T0 + time::Duration::minutes(min)
    }

    fn rule(id: &str) -> &'static AlertRule {
        super::rule(id).expect("rule")
    }

    fn run(
        rule: &AlertRule,
        state: &mut RuleState,
        sample: Option<Sample>,
        now: OffsetDateTime,
    ) -> Option<Notice> {
        step(
            rule,
            state,
            sample,
            now,
            false,
            || "a1".into(),
            "https://osa.test",
        )
    }

    #[test]
    fn the_failure_rate_needs_three_points_and_just_over_ten_percent() {
        let r = rule("opal_agent_failure_rate");
        let c = &r.condition;
        // Two points: insufficient, however bad.
        let two = [
            Sample::ratio(at(1), 9.0, 9.0),
            Sample::ratio(at(2), 9.0, 9.0),
        ];
        assert_eq!(evaluate(c, &two, at(3)).0, Verdict::InsufficientData);
        // Exactly 10 %: not over.
        let ten = [
            Sample::ratio(at(1), 1.0, 10.0),
            Sample::ratio(at(2), 1.0, 10.0),
            Sample::ratio(at(3), 1.0, 10.0),
        ];
        assert_eq!(evaluate(c, &ten, at(3)), (Verdict::Ok, Some(0.1)));
        let over = [
            Sample::ratio(at(1), 1.0, 10.0),
            Sample::ratio(at(2), 1.0, 10.0),
            Sample::ratio(at(3), 2.0, 10.0),
        ];
        assert_eq!(evaluate(c, &over, at(3)).0, Verdict::Triggered);
        // The window is 5 minutes: a point at exactly now-5 is out.
        assert_eq!(evaluate(c, &over, at(6)).0, Verdict::InsufficientData);
        // Points with no executions are no data.
        let empty = [
            Sample::ratio(at(1), 0.0, 0.0),
            Sample::ratio(at(2), 0.0, 0.0),
            Sample::ratio(at(3), 1.0, 1.0),
        ];
        assert_eq!(evaluate(c, &empty, at(3)).0, Verdict::InsufficientData);
    }

    #[test]
    fn each_table_threshold_just_under_and_over() {
        let cases: [(&str, f64, f64); 6] = [
            ("webhook_delivery_failures", 0.0, 1.0),
            ("strategy_workflow_timeout", 30.0, 30.5),
            ("high_error_rate", 0.05, 0.051),
            ("agent_timeout", 0.0, 1.0),
            ("high_response_time", 5.0, 5.1),
            ("low_availability", 0.99, 0.989),
        ];
        for (id, under, over) in cases {
            let c = &rule(id).condition;
            assert_eq!(
                evaluate(c, &[Sample::new(at(0), under)], at(0)).0,
                Verdict::Ok,
                "{id} at {under}"
            );
            assert_eq!(
                evaluate(c, &[Sample::new(at(0), over)], at(0)).0,
                Verdict::Triggered,
                "{id} at {over}"
            );
            assert_eq!(evaluate(c, &[], at(0)).0, Verdict::InsufficientData);
        }
    }

    #[test]
    fn fires_once_renotifies_and_resolves() {
        let r = rule("strategy_workflow_timeout");
        let mut state = RuleState::new(r.rule_id);
        assert_eq!(
            run(r, &mut state, Some(Sample::new(at(0), 10.0)), at(0)),
            None
        );
        let fired = run(r, &mut state, Some(Sample::new(at(1), 31.0)), at(1)).expect("fires");
        assert_eq!(fired.kind, NoticeKind::Fired);
        assert_eq!(
            fired.runbook_url,
            "https://osa.test/runbooks/strategy-workflow-timeout"
        );
        // Still over: quiet until the 15-minute re-notify interval (critical).
        for m in 2..16 {
            assert_eq!(
                run(r, &mut state, Some(Sample::new(at(m), 40.0)), at(m)),
                None,
                "{m}"
            );
        }
        let again = run(r, &mut state, Some(Sample::new(at(16), 45.0)), at(16)).expect("renotify");
        assert_eq!(again.kind, NoticeKind::Renotified);
        assert_eq!(again.alert_id, fired.alert_id);
        assert_eq!(again.current_value, 45.0);
        // No data: keeps firing, says nothing.
        assert_eq!(run(r, &mut state, None, at(20)), None);
        assert!(state.firing.is_some());
        let resolved = run(r, &mut state, Some(Sample::new(at(21), 1.0)), at(21)).expect("resolve");
        assert_eq!(resolved.kind, NoticeKind::Resolved);
        assert_eq!(resolved.alert_id, fired.alert_id);
        assert!(state.firing.is_none());
        assert_eq!(
            run(r, &mut state, Some(Sample::new(at(22), 1.0)), at(22)),
            None
        );
    }

    #[test]
    fn maintenance_window_edges_and_switch() {
        let m = Maintenance::default();
        let sunday = datetime!(2026-11-29 00:00 UTC);
        assert_eq!(sunday.weekday(), Weekday::Sunday);
        let h = |hh: i64, mm: i64, ss: i64| {
            sunday
                + time::Duration::hours(hh)
                + time::Duration::minutes(mm)
                + time::Duration::seconds(ss)
        };
        assert!(!m.active(h(1, 59, 59)));
        assert!(m.active(h(2, 0, 0)));
        assert!(m.active(h(3, 59, 59)));
        assert!(!m.active(h(4, 0, 0)));
        assert!(!m.active(h(2, 0, 0) - time::Duration::days(1)), "Saturday");
        let off = Maintenance {
            scheduled: false,
            manual_until: None,
        };
        assert!(!off.active(h(2, 30, 0)));
        let manual = Maintenance {
            scheduled: false,
            manual_until: Some(at(10)),
        };
        assert!(manual.active(at(9)));
        assert!(!manual.active(at(10)));
    }

    #[test]
    fn suppression_holds_back_firing_only_for_suppressible_rules() {
        let r = rule("high_error_rate");
        let mut state = RuleState::new(r.rule_id);
        let s = Some(Sample::ratio(at(0), 1.0, 2.0));
        assert_eq!(step(r, &mut state, s, at(0), true, || "x".into(), ""), None);
        assert_eq!(state.last.as_ref().map(|e| e.suppressed), Some(true));
        assert!(state.firing.is_none());
        // Maintenance over: it fires.
        let fired = step(r, &mut state, None, at(1), false, || "x".into(), "");
        assert_eq!(fired.map(|n| n.kind), Some(NoticeKind::Fired));
        // A critical timeout is never suppressed.
        let t = super::rule("strategy_workflow_timeout").expect("rule");
        let mut ts = RuleState::new(t.rule_id);
        let fired = step(
            t,
            &mut ts,
            Some(Sample::new(at(0), 99.0)),
            at(0),
            true,
            || "y".into(),
            "",
        );
        assert!(fired.is_some());
    }

    #[test]
    fn due_follows_the_evaluation_interval() {
        let r = rule("low_availability");
        let mut state = RuleState::new(r.rule_id);
        assert!(due(r, &state, at(0)));
        state.last_evaluated_at = Some(at(0));
        assert!(!due(r, &state, at(4)));
        assert!(due(r, &state, at(5)));
        // A schedule a few seconds early still counts; half a period does not.
        assert!(due(r, &state, at(5) - time::Duration::seconds(4)));
        assert!(!due(r, &state, at(5) - time::Duration::seconds(6)));
        let half_minute = rule("webhook_delivery_failures");
        assert_eq!(half_minute.evaluate_every_secs, 30);
        let mut state = RuleState::new(half_minute.rule_id);
        state.last_evaluated_at = Some(at(0));
        assert!(!due(
            half_minute,
            &state,
            at(0) + time::Duration::seconds(26)
        ));
        assert!(due(
            half_minute,
            &state,
            at(0) + time::Duration::seconds(27)
        ));
    }

    #[test]
    fn an_acknowledged_alert_stops_re_notifying_and_still_resolves() {
        let r = rule("webhook_delivery_failures");
        let hit = |m: i64, v: f64| Some(Sample::new(at(m), v));
        let mut state = RuleState::new(r.rule_id);
        let fired = run(r, &mut state, hit(0, 1.0), at(0)).map(|n| n.kind);
        assert_eq!(fired, Some(NoticeKind::Fired));
        let mut rules = vec![state];
        let ack = |rules: &mut [RuleState], recent: &[Notice], id: &str| {
            act(
                rules,
                recent,
                id,
                &AlertAction::Acknowledge,
                "oncall",
                at(1),
                "https://osa.test",
            )
        };
        assert_eq!(ack(&mut rules, &[], "nope"), Err(ActionError::Unknown));
        let acted = ack(&mut rules, &[], "a1").expect("acknowledged");
        assert!(acted.changed);
        let notice = acted.notice.expect("an acknowledgement to send");
        assert_eq!(notice.kind, NoticeKind::Acknowledged);
        assert_eq!(notice.by.as_deref(), Some("oncall"));
        // The same again: nothing changes, nothing is sent.
        let again = ack(&mut rules, &[], "a1").expect("still fine");
        assert!(!again.changed && again.notice.is_none());
        assert_eq!(again.firing.acknowledged.map(|a| a.at), Some(at(1)));

        // Past the re-notify interval and still over: quiet.
        let later = r.severity.renotify_minutes() + 1;
        assert_eq!(run(r, &mut rules[0], hit(later, 1.0), at(later)), None);
        let resolved = run(r, &mut rules[0], hit(later + 1, 0.0), at(later + 1));
        let resolved = resolved.expect("a resolved notice");
        assert_eq!(resolved.kind, NoticeKind::Resolved);
        assert_eq!(
            ack(&mut rules, &[resolved], "a1"),
            Err(ActionError::Resolved)
        );
    }

    #[test]
    fn a_silence_holds_re_notifications_until_it_ends_and_lasts_at_most_a_day() {
        let r = rule("webhook_delivery_failures");
        let hit = |m: i64| Some(Sample::new(at(m), 1.0));
        let mut rules = vec![RuleState::new(r.rule_id)];
        assert!(run(r, &mut rules[0], hit(0), at(0)).is_some());
        let silence = |rules: &mut [RuleState], until: OffsetDateTime| {
            let action = AlertAction::Silence { until };
            act(
                rules,
                &[],
                "a1",
                &action,
                "oncall",
                at(1),
                "https://osa.test",
            )
        };
        for bad in [
            at(1),
            at(0),
            at(1) + MAX_SILENCE + time::Duration::seconds(1),
        ] {
            assert_eq!(
                silence(&mut rules, bad),
                Err(ActionError::BadUntil),
                "{bad}"
            );
        }
        let silenced = silence(&mut rules, at(90)).expect("silenced");
        assert!(silenced.changed && silenced.notice.is_none());
        assert!(!silence(&mut rules, at(90)).expect("again").changed);
        // Over at 61 (the interval is 60): held; after the silence, re-notified.
        assert_eq!(run(r, &mut rules[0], hit(61), at(61)), None);
        let after = run(r, &mut rules[0], hit(91), at(91)).map(|n| n.kind);
        assert_eq!(after, Some(NoticeKind::Renotified));
    }
}
