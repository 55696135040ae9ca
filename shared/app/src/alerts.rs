//! Evaluating the alert rules on a schedule: samples each
//! rule's metric (deltas of the store-aggregated metrics since the previous run:
//! agent failures, API server errors and latency, agents over their allowance;
//! the dead-letter queue; the longest workflow run; the health state),
//! steps the pure rule engine (`domain::alerts`), records every notice, and sends
//! notifications as deliveries (retried and dead-lettered like any delivery).
//!
//! The channels are the configuration's (`config::AlertChannels`); a channel
//! without an endpoint is skipped and logged. A notification names its
//! channel's credential; the worker resolves it when it sends.
//!
//! A failing channel cannot page about itself: `webhook_delivery_failures`
//! watches the dead-letter queue and leaves alert notifications out. One that
//! dead-letters is still a dead letter (the dead-letter queue, the activity
//! feed, the error log line, and on AWS the CloudWatch alarm on every dead
//! letter, which goes to the SNS topic, not through OSA's own channels).
//!
//! Cadence: each rule says how often it is evaluated; the spec's fastest are
//! every 30 s and "immediate". An EventBridge schedule fires at most once a
//! minute, so each scheduled run also queues one evaluation 30 s later (an SQS
//! delay, run by the worker: `queue_half_minute_run`); `osa serve` simply
//! ticks every 30 s. The agent-timeout rule is evaluated by the deadline job
//! that times an agent out (`deadlines`), not at the next tick.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::delivery::dead_letter::DeadLetter;
use crate::config::AlertChannels;
use crate::config::secret_names::{
    ALERT_EMAIL_URL, ALERT_PAGERDUTY_KEY, ALERT_SLACK_URL, ALERT_SMS_URL, ALERT_WEBHOOK_SECRET,
    ALERT_WEBHOOK_URL,
};
use crate::ports::{Job, QueueError, StoreError};
use osa_domain::activity::Activity;
use osa_domain::alerts::{
    self, ALERT_RULES, AlertMetric, AlertRule, Channel, Evaluation, Firing, Involved, MAX_INVOLVED,
    Maintenance, Notice, NoticeKind, RuleState, Sample, Severity,
};
use osa_domain::delivery::{Delivery, DeliveryAuth, DeliveryKind, derived_id};
use osa_domain::health::{self, ServiceStatus};
use osa_domain::metrics::{Family, Snapshot};
use osa_domain::workflow::{Workflow, WorkflowStatus};

use super::Services;
use osa_domain::access::Caller;

pub const ALERT_STATE: &str = "alerts";
/// The delay of the evaluation each scheduled run queues (see the module's
/// note on cadence).
pub const HALF_MINUTE: std::time::Duration = std::time::Duration::from_secs(30);
pub const MAINTENANCE_STATE: &str = "maintenance";
/// Notices kept for `GET /api/admin/alerts`.
pub const RECENT: usize = 50;
const SAVE_ATTEMPTS: usize = 8;
/// Unfinished and recent workflows each that the timeout rule looks at.
const WORKFLOWS_TIMED: usize = 100;
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// How recent a dead letter `webhook_delivery_failures` counts is.
pub const DEAD_LETTER_WINDOW_MINUTES: i64 = 15;
/// Dead letters read per evaluation (the most recent first).
const DEAD_LETTERS_READ: usize = 100;

/// The counters the rules take deltas of, from the previous run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    pub agent_finished: f64,
    pub agent_failed: f64,
    pub api_requests: f64,
    pub api_server_errors: f64,
    /// API request durations per bucket of `osal_api_request_duration_seconds`.
    pub api_duration_buckets: Vec<u64>,
    pub agents_over_allowance: f64,
}

impl Counters {
    pub fn from_snapshot(s: &Snapshot) -> Counters {
        let agents = Family::AgentExecutionTotal;
        Counters {
            agent_finished: s.total(agents, &[]),
            agent_failed: s.total(agents, &[("status", "failed")])
                + s.total(agents, &[("status", "timed_out")]),
            api_requests: s.total(Family::ApiRequestsTotal, &[]),
            api_server_errors: s.total_where(Family::ApiRequestsTotal, |series| {
                series
                    .labels()
                    .any(|(name, value)| name == "status_code" && value.starts_with('5'))
            }),
            api_duration_buckets: s.bucket_counts(Family::ApiRequestDurationSeconds, &[]),
            agents_over_allowance: s.total(Family::AgentOverAllowanceTotal, &[]),
        }
    }
}

/// What the evaluator keeps between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AlertState {
    pub rules: Vec<RuleState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<Counters>,
    /// When the previous run was saved.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub evaluated_at: Option<OffsetDateTime>,
    /// Newest last, at most [`RECENT`].
    #[serde(default)]
    pub recent: Vec<Notice>,
}

/// Everything sampled in one run, by metric (a metric without data is absent).
pub type Samples = BTreeMap<AlertMetric, Sample>;

/// Samples from the counters' change since the previous run (pure).
pub fn samples_from_counters(
    previous: Option<&Counters>,
    current: &Counters,
    now: OffsetDateTime,
) -> Samples {
    let mut samples = Samples::new();
    let Some(prev) = previous else {
        return samples; // the first run only sets the baseline
    };
    let d = |a: f64, b: f64| (a - b).max(0.0);
    samples.insert(
        AlertMetric::OpalAgentFailureRate,
        Sample::ratio(
            now,
            d(current.agent_failed, prev.agent_failed),
            d(current.agent_finished, prev.agent_finished),
        ),
    );
    samples.insert(
        AlertMetric::ErrorRate,
        Sample::ratio(
            now,
            d(current.api_server_errors, prev.api_server_errors),
            d(current.api_requests, prev.api_requests),
        ),
    );
    let durations: Vec<u64> = current
        .api_duration_buckets
        .iter()
        .enumerate()
        .map(|(i, c)| c.saturating_sub(prev.api_duration_buckets.get(i).copied().unwrap_or(0)))
        .collect();
    if let Some(p95) = percentile_bound(
        Family::ApiRequestDurationSeconds.buckets(),
        &durations,
        0.95,
    ) {
        samples.insert(AlertMetric::P95ResponseTimeSeconds, Sample::new(now, p95));
    }
    samples.insert(
        AlertMetric::AgentsOverAllowance,
        Sample::new(
            now,
            d(current.agents_over_allowance, prev.agents_over_allowance),
        ),
    );
    samples
}

/// The upper bound of the bucket that holds the `q` quantile of `counts` (per
/// bucket, the overflow last, counted as twice the last bound); `None` without
/// observations.
pub fn percentile_bound(bounds: &[f64], counts: &[u64], q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let overflow = bounds.last().copied().unwrap_or(0.0) * 2.0;
    let mut seen = 0u64;
    counts.iter().enumerate().find_map(|(i, n)| {
        seen += n;
        (seen as f64 >= q * total as f64).then(|| bounds.get(i).copied().unwrap_or(overflow))
    })
}

/// The longest workflow run in minutes: a running (or starting) workflow's run
/// so far, or the whole run of one that finished after `since` (the previous
/// evaluation). Runs count from the latest (re)start; a paused workflow
/// (`credentials_invalid`) has no deadline and is not running.
pub fn longest_run_minutes(
    workflows: &[Workflow],
    since: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> f64 {
    workflows
        .iter()
        .filter_map(|w| {
            let ended = match w.status() {
                WorkflowStatus::Pending | WorkflowStatus::Running => now,
                WorkflowStatus::CredentialsInvalid => return None,
                _ => w
                    .finished_at()
                    .filter(|at| since.is_some_and(|s| *at > s))?,
            };
            Some((ended - w.run_started_at()).as_seconds_f64().max(0.0) / 60.0)
        })
        .fold(0.0, f64::max)
}

/// Runs every due rule once; notifications go to the configured channels.
/// Returns the notices sent.
pub async fn evaluate(services: &Services) -> Result<Vec<Notice>, StoreError> {
    let channels = &services.config.alert_channels;
    let now = services.clock.now();
    let snapshot = services.metrics.snapshot().await?;
    let current = Counters::from_snapshot(&snapshot);
    let mut extra = live_samples(services, now).await;
    let workflows = workflows_to_time(services)
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "workflow runs not sampled"))
        .ok();
    let maintenance = maintenance(services).await?.active(now);
    let base = runbook_base(services);
    for _ in 0..SAVE_ATTEMPTS {
        let stored = services.ops.load_state(ALERT_STATE).await?;
        let expected = stored.as_ref().map(|s| s.version);
        let mut state: AlertState = stored
            .and_then(|s| serde_json::from_value(s.doc).ok())
            .unwrap_or_default();
        let mut samples = samples_from_counters(state.counters.as_ref(), &current, now);
        if let Some(workflows) = &workflows {
            let minutes = longest_run_minutes(workflows, state.evaluated_at, now);
            extra.insert(
                AlertMetric::WorkflowExecutionDurationMinutes,
                Sample::new(now, minutes),
            );
        }
        for (metric, sample) in &extra {
            match samples.get_mut(metric) {
                Some(existing) if existing.value >= sample.value => {}
                _ => {
                    samples.insert(*metric, *sample);
                }
            }
        }
        let mut notices = Vec::new();
        for rule in &ALERT_RULES {
            let index = match state.rules.iter().position(|r| r.rule_id == rule.rule_id) {
                Some(i) => i,
                None => {
                    state.rules.push(RuleState::new(rule.rule_id));
                    state.rules.len() - 1
                }
            };
            let Some(rule_state) = state.rules.get_mut(index) else {
                continue;
            };
            let sample = samples.get(&rule.condition.metric).copied();
            if !alerts::due(rule, rule_state, now) {
                // Not evaluated now, but its data point is kept.
                if let Some(sample) = sample {
                    rule_state.samples.push(sample);
                }
                continue;
            }
            let new_id = || uuid::Uuid::new_v4().simple().to_string();
            if let Some(notice) =
                alerts::step(rule, rule_state, sample, now, maintenance, new_id, &base)
            {
                notices.push(notice);
            }
        }
        state.counters = Some(current.clone());
        state.evaluated_at = Some(now);
        for notice in &mut notices {
            notice.involved = involved(services, notice, workflows.as_deref(), now).await;
        }
        state.remember(notices.iter().cloned());
        if save_alert_state(services, &state, expected).await? {
            // Saved first, so a notice is sent once even if a run is retried.
            for notice in &notices {
                tracing::warn!(
                    rule_id = %notice.rule_id, alert_id = %notice.alert_id, kind = ?notice.kind,
                    value = notice.current_value, alert_signal = %notice.rule_id, "alert"
                );
                if let Some(rule) = alerts::rule(&notice.rule_id) {
                    send_notifications(services, channels, rule, notice).await;
                }
                if let Some(activity) = activity_of(notice) {
                    services.note(&activity).await;
                }
            }
            return Ok(notices);
        }
    }
    Err(StoreError::Unavailable(
        "the alert state kept changing; gave up".into(),
    ))
}

impl AlertState {
    /// Adds sent notices to the recent ones, keeping the newest [`RECENT`].
    fn remember(&mut self, notices: impl IntoIterator<Item = Notice>) {
        self.recent.extend(notices);
        let excess = self.recent.len().saturating_sub(RECENT);
        self.recent.drain(..excess);
    }
}

/// Saves the alert state if it is still at `expected`; false when another
/// writer got there first.
async fn save_alert_state(
    services: &Services,
    state: &AlertState,
    expected: Option<i64>,
) -> Result<bool, StoreError> {
    let doc = serde_json::to_value(state)
        .map_err(|e| StoreError::Corrupt(format!("alert state: {e}")))?;
    services.ops.save_state(ALERT_STATE, &doc, expected).await
}

/// Queues the evaluation half a minute after a scheduled one. Only the
/// schedule queues it (the delayed run does not), so there is one per minute.
pub async fn queue_half_minute_run(services: &Services) -> Result<(), QueueError> {
    services
        .queue
        .enqueue(&Job::EvaluateAlerts, HALF_MINUTE)
        .await
}

/// What a firing notice is about: the deliveries dead-lettered in the rule's
/// window (not alert notifications) and their workflows, or the workflows
/// running past their time. Best effort: a read that fails names nothing.
async fn involved(
    services: &Services,
    notice: &Notice,
    workflows: Option<&[Workflow]>,
    now: OffsetDateTime,
) -> Vec<Involved> {
    if notice.kind == NoticeKind::Resolved {
        return Vec::new();
    }
    let Some(rule) = alerts::rule(&notice.rule_id) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    match rule.condition.metric {
        AlertMetric::DeliveriesDeadLettered => {
            let listed = recent_dead_letters(services, now)
                .await
                .inspect_err(|e| tracing::warn!(error = %e, "dead letters not named"))
                .unwrap_or_default();
            for dead in listed {
                found.push(Involved::delivery(dead.id.to_string()));
                if let Some(workflow_id) = dead.workflow_id {
                    found.push(Involved::workflow(workflow_id));
                }
            }
        }
        AlertMetric::WorkflowExecutionDurationMinutes => {
            for w in workflows.unwrap_or_default() {
                let running = matches!(
                    w.status(),
                    WorkflowStatus::Pending | WorkflowStatus::Running
                );
                let minutes = (now - w.run_started_at()).whole_minutes() as f64;
                if running && minutes > rule.condition.threshold {
                    found.push(Involved::workflow(w.id().to_string()));
                }
            }
        }
        _ => {}
    }
    found.truncate(MAX_INVOLVED);
    found
}

/// The workflows whose runs the timeout rule looks at: the oldest unfinished
/// (a stuck one however old), and the most recent (those that just finished).
async fn workflows_to_time(services: &Services) -> Result<Vec<Workflow>, StoreError> {
    let (mut running, recent) = tokio::try_join!(
        services.store.running_workflows(WORKFLOWS_TIMED),
        services.store.recent_workflows(WORKFLOWS_TIMED),
    )?;
    for workflow in recent {
        if !running.iter().any(|w| w.id() == workflow.id()) {
            running.push(workflow);
        }
    }
    Ok(running)
}

/// The dead letters `webhook_delivery_failures` is about: deliveries
/// dead-lettered within [`DEAD_LETTER_WINDOW_MINUTES`] and still in the queue
/// (a redrive that delivers clears them), but for alert notifications: a
/// failing channel must not page about itself through itself, in a loop.
async fn recent_dead_letters(
    services: &Services,
    now: OffsetDateTime,
) -> Result<Vec<DeadLetter>, StoreError> {
    let since = now - time::Duration::minutes(DEAD_LETTER_WINDOW_MINUTES);
    let listed = super::delivery::dead_letter::dead_letters(services, DEAD_LETTERS_READ).await?;
    Ok(listed
        .into_iter()
        .filter(|d| d.kind != DeliveryKind::AlertNotification && d.dead_lettered_at > since)
        .collect())
}

/// Samples read live rather than from counters (but for the workflow runs,
/// which need the previous evaluation's time).
async fn live_samples(services: &Services, now: OffsetDateTime) -> Samples {
    let mut samples = Samples::new();
    match recent_dead_letters(services, now).await {
        Ok(dead) => {
            samples.insert(
                AlertMetric::DeliveriesDeadLettered,
                Sample::new(now, dead.len() as f64),
            );
        }
        Err(e) => tracing::warn!(error = %e, "dead letters not sampled"),
    }
    // Availability: did the critical services pass their latest check (if fresh)?
    if let Ok(Some(state)) = super::health::load(services).await
        && let Some(report) = state.latest
        && now - report.checked_at <= time::Duration::minutes(2)
    {
        let critical: Vec<_> = report
            .services
            .iter()
            .filter(|c| health::check(&c.service_name).is_some_and(|k| k.critical))
            .collect();
        let up = critical
            .iter()
            .filter(|c| {
                c.last.as_ref().is_some_and(|r| r.healthy) || c.status == ServiceStatus::Healthy
            })
            .count();
        if !critical.is_empty() {
            samples.insert(
                AlertMetric::Availability,
                Sample::ratio(now, up as f64, critical.len() as f64),
            );
        }
    }
    samples
}

/// The delivery of one notice to one channel, if the channel is configured. A
/// webhook URL or routing key is named, never stored: the worker looks it up
/// when it sends. Its id is derived from the notice and the channel, so an
/// evaluation run twice queues it once.
pub fn notification(
    channel: Channel,
    notice: &Notice,
    channels: &AlertChannels,
    now: OffsetDateTime,
) -> Option<Delivery> {
    let kind = DeliveryKind::AlertNotification;
    let mut delivery = match channel {
        Channel::Slack => channels.slack_url.as_ref().map(|_| {
            Delivery::to_secret_url(kind, ALERT_SLACK_URL, alerts::slack_payload(notice), now)
        }),
        Channel::PagerDuty => {
            channels.pagerduty_routing_key.as_ref()?;
            let url = channels
                .pagerduty_url
                .clone()
                .unwrap_or_else(|| PAGERDUTY_EVENTS_URL.into());
            let payload = alerts::pagerduty_payload(notice, "");
            Delivery::new(kind, url, payload, now)
                .inspect_err(|e| tracing::error!(error = %e, "PagerDuty endpoint refused"))
                .ok()
                .map(|d| d.with_body_secret("routing_key", ALERT_PAGERDUTY_KEY))
        }
        Channel::Email => channels.email_url.as_ref().map(|_| {
            let payload = alerts::email_payload(notice, &channels.email_to);
            Delivery::to_secret_url(kind, ALERT_EMAIL_URL, payload, now)
        }),
        Channel::Sms => channels.sms_url.as_ref().map(|_| {
            let payload = alerts::sms_payload(notice, &channels.sms_to);
            Delivery::to_secret_url(kind, ALERT_SMS_URL, payload, now)
        }),
        Channel::Webhook => channels.webhook_url.as_ref().map(|_| {
            let payload = alerts::webhook_payload(notice);
            Delivery::to_secret_url(kind, ALERT_WEBHOOK_URL, payload, now).with_auth(
                DeliveryAuth::Signature {
                    secret: ALERT_WEBHOOK_SECRET.into(),
                },
            )
        }),
    }?;
    let seed = format!(
        "osa-alert:{}:{:?}:{}:{}",
        notice.alert_id,
        notice.kind,
        notice.at.unix_timestamp_nanos(),
        channel.as_str()
    );
    delivery.id = derived_id(&seed);
    Some(delivery)
}

/// The sending hook: one delivery per configured channel, through the delivery
/// queue (retries, backoff, dead letters).
pub async fn send_notifications(
    services: &Services,
    channels: &AlertChannels,
    rule: &AlertRule,
    notice: &Notice,
) {
    // The generic webhook, when there is one, hears every rule.
    let webhook = channels.webhook_url.as_ref().map(|_| Channel::Webhook);
    for channel in rule.channels.iter().copied().chain(webhook) {
        // An acknowledgement is for the tools that track incidents, not a page.
        if notice.kind == NoticeKind::Acknowledged
            && matches!(channel, Channel::Email | Channel::Sms)
        {
            continue;
        }
        let Some(delivery) = notification(channel, notice, channels, services.clock.now()) else {
            tracing::info!(
                channel = channel.as_str(),
                rule_id = rule.rule_id,
                "alert channel not configured"
            );
            continue;
        };
        if let Err(e) = super::delivery::enqueue_delivery(services, delivery).await {
            tracing::error!(error = %e, channel = channel.as_str(), "alert notification not queued");
        }
    }
}

/// Why an operator's action on an alert was not done.
#[derive(Debug, thiserror::Error)]
pub enum AlertActionError {
    #[error(transparent)]
    Action(#[from] alerts::ActionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `POST /api/admin/alerts/{alert_id}/silence`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    /// No re-notification until then: later than now, at most 24 hours ahead.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "osa_domain::schema::Timestamp")]
    pub until: OffsetDateTime,
}

/// A firing alert after an operator's action.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AlertActed {
    pub rule_id: String,
    pub alert: Firing,
    /// False when it was already so (the same action again).
    pub changed: bool,
}

/// Acknowledges or silences a firing alert on an operator's request: saved in
/// the alert state (the evaluator then holds its re-notifications back), an
/// acknowledgement sent to the rule's channels (PagerDuty acknowledges the
/// incident), and every request recorded in the admin audit trail.
pub async fn act_on(
    services: &Services,
    caller: &Caller,
    alert_id: &str,
    action: alerts::AlertAction,
    correlation_id: Option<&str>,
) -> Result<AlertActed, AlertActionError> {
    let outcome = act_and_save(services, caller, alert_id, &action).await;
    let audit_outcome = match &outcome {
        Ok(acted) if acted.changed => "succeeded",
        Ok(_) => "unchanged",
        Err(_) => "refused",
    };
    super::admin::record(
        services,
        caller,
        action.audit_name(),
        alert_id,
        audit_outcome,
        correlation_id,
    )
    .await?;
    let acted = outcome?;
    if let Some(notice) = &acted.notice
        && let Some(rule) = alerts::rule(&acted.rule_id)
    {
        send_notifications(services, &services.config.alert_channels, rule, notice).await;
    }
    Ok(AlertActed {
        rule_id: acted.rule_id,
        alert: acted.firing,
        changed: acted.changed,
    })
}

async fn act_and_save(
    services: &Services,
    caller: &Caller,
    alert_id: &str,
    action: &alerts::AlertAction,
) -> Result<alerts::Acted, AlertActionError> {
    let base = runbook_base(services);
    for _ in 0..SAVE_ATTEMPTS {
        let stored = services.ops.load_state(ALERT_STATE).await?;
        let expected = stored.as_ref().map(|s| s.version);
        let mut state: AlertState = stored
            .and_then(|s| serde_json::from_value(s.doc).ok())
            .unwrap_or_default();
        let now = services.clock.now();
        let acted = alerts::act(
            &mut state.rules,
            &state.recent,
            alert_id,
            action,
            &caller.subject,
            now,
            &base,
        )?;
        if !acted.changed {
            return Ok(acted);
        }
        state.remember(acted.notice.iter().cloned());
        if save_alert_state(services, &state, expected).await? {
            return Ok(acted);
        }
    }
    Err(StoreError::Unavailable("the alert state kept changing; gave up".into()).into())
}

/// Where notices link their runbooks: `OSA_RUNBOOK_BASE_URL`, else the status
/// function's own copy.
fn runbook_base(services: &Services) -> String {
    services
        .config
        .alert_channels
        .runbook_base
        .clone()
        .unwrap_or_else(|| format!("{}/docs", services.config.public_base_url))
}

pub async fn maintenance(services: &Services) -> Result<Maintenance, StoreError> {
    Ok(services
        .ops
        .load_state(MAINTENANCE_STATE)
        .await?
        .and_then(|s| serde_json::from_value(s.doc).ok())
        .unwrap_or_default())
}

/// The admin switch: replaces the maintenance settings.
pub async fn set_maintenance(
    services: &Services,
    settings: &Maintenance,
) -> Result<(), StoreError> {
    let doc = serde_json::to_value(settings)
        .map_err(|e| StoreError::Corrupt(format!("maintenance: {e}")))?;
    for _ in 0..SAVE_ATTEMPTS {
        let expected = services
            .ops
            .load_state(MAINTENANCE_STATE)
            .await?
            .map(|s| s.version);
        if services
            .ops
            .save_state(MAINTENANCE_STATE, &doc, expected)
            .await?
        {
            return Ok(());
        }
    }
    Err(StoreError::Unavailable(
        "the maintenance settings kept changing".into(),
    ))
}

/// The switch on an admin's request, recorded in the admin audit trail (target:
/// whether maintenance is now on) whatever came of it. Answers whether it is on.
pub async fn switch_maintenance(
    services: &Services,
    caller: &Caller,
    settings: Maintenance,
    correlation_id: Option<&str>,
) -> Result<MaintenanceState, StoreError> {
    let saved = set_maintenance(services, &settings).await;
    let active = settings.active(services.clock.now());
    let outcome = if saved.is_ok() { "succeeded" } else { "failed" };
    let target = if active { "on" } else { "off" };
    super::admin::record(
        services,
        caller,
        "maintenance_switched",
        target,
        outcome,
        correlation_id,
    )
    .await?;
    saved.map(|()| MaintenanceState { active, settings })
}

/// The maintenance switch: its settings, and whether they apply now.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MaintenanceState {
    pub active: bool,
    pub settings: Maintenance,
}

/// The maintenance settings, and whether they apply now.
pub async fn maintenance_state(services: &Services) -> Result<MaintenanceState, StoreError> {
    let settings = maintenance(services).await?;
    let active = settings.active(services.clock.now());
    Ok(MaintenanceState { active, settings })
}

/// A notice as the activity feed tells it (a re-notification is not news).
fn activity_of(notice: &Notice) -> Option<Activity> {
    let (alert_id, rule_id) = (notice.alert_id.clone(), notice.rule_id.clone());
    let severity = notice.severity.as_str().to_owned();
    let (title, at) = (notice.title.clone(), notice.at);
    match notice.kind {
        NoticeKind::Fired => Some(Activity::AlertFired {
            alert_id,
            rule_id,
            severity,
            title,
            at,
        }),
        NoticeKind::Resolved => Some(Activity::AlertResolved {
            alert_id,
            rule_id,
            severity,
            title,
            at,
        }),
        NoticeKind::Renotified | NoticeKind::Acknowledged => None,
    }
}

/// `GET /api/admin/alerts`: firing alerts, recent notices, every rule's last
/// evaluation and the maintenance settings.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Alerts")]
pub struct Overview {
    pub firing: Vec<FiringAlert>,
    /// Newest first, at most [`RECENT`].
    pub recent: Vec<Notice>,
    /// Every rule, and how its last evaluation went.
    pub rules: Vec<RuleOverview>,
    pub maintenance: MaintenanceState,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FiringAlert {
    pub rule_id: String,
    pub name: &'static str,
    pub severity: Severity,
    pub alert: Firing,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RuleOverview {
    pub rule: AlertRule,
    pub last_evaluation: Option<Evaluation>,
}

pub async fn overview(services: &Services) -> Result<Overview, StoreError> {
    let state: AlertState = services
        .ops
        .load_state(ALERT_STATE)
        .await?
        .and_then(|s| serde_json::from_value(s.doc).ok())
        .unwrap_or_default();
    let maintenance = maintenance_state(services).await?;
    let firing = state
        .rules
        .iter()
        .filter_map(|r| {
            let rule = alerts::rule(&r.rule_id)?;
            Some(FiringAlert {
                rule_id: r.rule_id.clone(),
                name: rule.name,
                severity: rule.severity,
                alert: r.firing.clone()?,
            })
        })
        .collect();
    let rules = ALERT_RULES
        .iter()
        .map(|rule| RuleOverview {
            rule: *rule,
            last_evaluation: state
                .rules
                .iter()
                .find(|r| r.rule_id == rule.rule_id)
                .and_then(|r| r.last.clone()),
        })
        .collect();
    let mut recent = state.recent;
    recent.reverse();
    Ok(Overview {
        firing,
        recent,
        rules,
        maintenance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-25 10:00 UTC);

    #[test]
    fn deltas_become_samples() {
        let prev = Counters {
            agent_finished: 10.0,
            agent_failed: 1.0,
            api_requests: 100.0,
            api_server_errors: 1.0,
            api_duration_buckets: vec![100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            agents_over_allowance: 2.0,
        };
        assert!(samples_from_counters(None, &prev, NOW).is_empty());
        let mut now = prev.clone();
        now.agent_finished = 20.0;
        now.agent_failed = 3.0;
        now.api_requests = 120.0;
        now.api_server_errors = 3.0;
        now.api_duration_buckets[0] = 118;
        now.api_duration_buckets[13] = 2;
        now.agents_over_allowance = 3.0;
        let s = samples_from_counters(Some(&prev), &now, NOW);
        let rate = s[&AlertMetric::OpalAgentFailureRate];
        assert_eq!((rate.value, rate.weight), (2.0, 10.0));
        let err = s[&AlertMetric::ErrorRate];
        assert_eq!((err.value, err.weight), (2.0, 20.0), "5xx of all requests");
        // 2 of 20 over 10 s: the 95th percentile is in the overflow.
        assert_eq!(s[&AlertMetric::P95ResponseTimeSeconds].value, 20.0);
        now.api_duration_buckets = vec![119, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0];
        let s = samples_from_counters(Some(&prev), &now, NOW);
        assert_eq!(
            s[&AlertMetric::P95ResponseTimeSeconds].value,
            0.001,
            "1 of 20 is the top 5 %"
        );
        assert_eq!(s[&AlertMetric::AgentsOverAllowance].value, 1.0);
        assert!(
            !s.contains_key(&AlertMetric::DeliveriesDeadLettered),
            "read from the dead-letter queue, not from a counter"
        );
        assert!(
            !s.contains_key(&AlertMetric::WorkflowExecutionDurationMinutes),
            "sampled from the workflows themselves, not from a counter"
        );
        // No requests in the interval: no latency sample.
        let s = samples_from_counters(Some(&prev), &prev, NOW);
        assert!(!s.contains_key(&AlertMetric::P95ResponseTimeSeconds));
    }

    /// A pending workflow created `created_min_ago` minutes before `NOW`.
    fn workflow(created_min_ago: i64) -> Workflow {
        let intake = osa_intake();
        let (w, _) = Workflow::create(
            &intake,
            "wf".into(),
            "c".into(),
            NOW - time::Duration::minutes(created_min_ago),
            1.0,
        );
        w
    }

    fn osa_intake() -> osa_domain::intake::Intake {
        let raw = serde_json::json!({
            "business_context": {"company_name": "Acme", "industry": "media", "goals": ["Grow"],
                                 "target_audience": "Readers of long-form journalism"},
            "optimizely_config": {"project_id": "42", "workspace_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
            "analysis_preferences": {"analysis_depth": "standard", "focus_areas": ["content"], "timeline": "30d"}
        });
        osa_domain::intake::parse_intake(raw.to_string().as_bytes()).expect("intake")
    }

    #[test]
    fn workflow_runs_count_running_workflows_from_their_latest_start() {
        let since = Some(NOW - time::Duration::minutes(1));
        let refused = || {
            vec![osa_domain::workflow::RefusedService {
                service: "odp".into(),
                status: 401,
            }]
        };
        // Paused for 40 minutes: no deadline runs, nothing is late.
        let mut paused = workflow(40);
        let at = paused.created_at();
        assert!(paused.pause_for_credentials(refused(), &[], at).is_some());
        assert_eq!(paused.status(), WorkflowStatus::CredentialsInvalid);
        assert_eq!(longest_run_minutes(&[paused], since, NOW), 0.0);
        // Created 50 minutes ago, resumed 10 minutes ago: a 10-minute run.
        let mut resumed = workflow(50);
        let (at, restart) = (resumed.created_at(), NOW - time::Duration::minutes(10));
        assert!(resumed.pause_for_credentials(refused(), &[], at).is_some());
        assert!(resumed.resume(&[], restart).is_some());
        assert!(resumed.accept_trigger("t", 1, &[], restart).is_some());
        assert_eq!(resumed.status(), WorkflowStatus::Running);
        assert_eq!(longest_run_minutes(&[resumed.clone()], since, NOW), 10.0);
        // A workflow that timed out after 31 minutes, half a minute ago: its
        // real run, once; before the previous evaluation it is old news.
        let mut timed_out = workflow(31);
        assert!(
            timed_out
                .expire(NOW - time::Duration::seconds(30), 1.0)
                .is_some()
        );
        let runs = [resumed, timed_out.clone()];
        assert_eq!(longest_run_minutes(&runs, since, NOW), 30.5);
        let later = Some(NOW - time::Duration::seconds(10));
        assert_eq!(longest_run_minutes(&runs, later, NOW), 10.0);
        assert_eq!(longest_run_minutes(&[timed_out], None, NOW), 0.0);
        assert_eq!(longest_run_minutes(&[workflow(3)], None, NOW), 3.0);
    }

    #[test]
    fn only_server_errors_count_as_errors() {
        use osa_domain::metrics::Observation;
        let mut observations = Vec::new();
        for (status, n) in [("200", 6), ("401", 3), ("404", 2), ("503", 1)] {
            for _ in 0..n {
                observations.push(
                    Observation::inc(
                        Family::ApiRequestsTotal,
                        &["GET", "/api/strategy/workflows/{id}", status, "cli"],
                    )
                    .expect("valid"),
                );
            }
        }
        let counters = Counters::from_snapshot(&Snapshot::of_observations(&observations));
        assert_eq!(counters.api_requests, 12.0);
        assert_eq!(counters.api_server_errors, 1.0, "4xx are the caller's");
    }

    #[test]
    fn percentiles_take_the_bound_of_their_bucket() {
        let bounds = [0.1, 1.0];
        assert_eq!(percentile_bound(&bounds, &[0, 0, 0], 0.95), None);
        assert_eq!(percentile_bound(&bounds, &[95, 5, 0], 0.95), Some(0.1));
        assert_eq!(percentile_bound(&bounds, &[94, 5, 1], 0.95), Some(1.0));
        assert_eq!(percentile_bound(&bounds, &[0, 0, 1], 0.95), Some(2.0));
    }
}
