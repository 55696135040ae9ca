//! Evaluating the alert rules on a schedule: samples each
//! rule's metric (deltas of the store-aggregated metrics since the previous run,
//! the oldest running workflow, the delivery failure streaks, the health state),
//! steps the pure rule engine (`domain::alerts`), records every notice, and sends
//! notifications as deliveries (retried and dead-lettered like any delivery).
//!
//! Channel endpoints come from the environment, read at each run:
//! `OSA_ALERT_SLACK_WEBHOOK_URL`; `OSA_ALERT_PAGERDUTY_ROUTING_KEY` (and
//! `OSA_ALERT_PAGERDUTY_URL`, default the Events API v2 endpoint);
//! `OSA_ALERT_EMAIL_WEBHOOK_URL` with `OSA_ALERT_EMAIL_TO`;
//! `OSA_ALERT_SMS_WEBHOOK_URL` with `OSA_ALERT_SMS_TO` (comma-separated lists);
//! `OSA_RUNBOOK_BASE_URL` (default `<public base>/docs`). A channel without an
//! endpoint is skipped and logged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::AlertChannels;
use crate::config::secret_names::{
    ALERT_EMAIL_URL, ALERT_PAGERDUTY_KEY, ALERT_SLACK_URL, ALERT_SMS_URL,
};
use crate::domain::activity::Activity;
use crate::domain::alerts::{
    self, ALERT_RULES, AlertMetric, AlertRule, Channel, Maintenance, Notice, NoticeKind, RuleState,
    Sample,
};
use crate::domain::delivery::{Delivery, DeliveryKind};
use crate::domain::health::{self, ServiceStatus};
use crate::domain::metrics::{Family, Snapshot};
use crate::ports::StoreError;

use super::Services;
use crate::domain::access::Caller;

pub const ALERT_STATE: &str = "alerts";
pub const MAINTENANCE_STATE: &str = "maintenance";
/// Notices kept for `GET /api/admin/alerts`.
pub const RECENT: usize = 50;
const SAVE_ATTEMPTS: usize = 8;
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// The counters the rules take deltas of, from the previous run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub agent_finished: f64,
    pub agent_failed: f64,
    pub webhooks: f64,
    pub webhooks_ok: f64,
    /// Webhooks per processing time range, in [`TIME_RANGES`] order.
    pub webhook_ranges: Vec<f64>,
    pub agent_buckets: Vec<u64>,
    pub workflows_timed_out: f64,
}

/// `osal_webhook_processing_total`'s time ranges and their upper bounds (s).
pub const TIME_RANGES: [(&str, f64); 5] = [
    ("lt_100ms", 0.1),
    ("100ms_500ms", 0.5),
    ("500ms_1s", 1.0),
    ("1s_5s", 5.0),
    ("gte_5s", 10.0),
];

impl Counters {
    pub fn from_snapshot(s: &Snapshot) -> Counters {
        let agents = Family::AgentExecutionTotal;
        let hooks = Family::WebhookProcessingTotal;
        Counters {
            agent_finished: s.total(agents, &[]),
            agent_failed: s.total(agents, &[("status", "failed")])
                + s.total(agents, &[("status", "timed_out")]),
            webhooks: s.total(hooks, &[]),
            webhooks_ok: s.total(hooks, &[("status", "accepted")])
                + s.total(hooks, &[("status", "duplicate")]),
            webhook_ranges: TIME_RANGES
                .iter()
                .map(|(r, _)| s.total(hooks, &[("processing_time_range", r)]))
                .collect(),
            agent_buckets: s.bucket_counts(Family::AgentExecutionDurationSeconds, &[]),
            workflows_timed_out: s.total(
                Family::WorkflowProcessingDurationSeconds,
                &[("status", "timed_out")],
            ),
        }
    }
}

/// What the evaluator keeps between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AlertState {
    pub rules: Vec<RuleState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<Counters>,
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
    let hooks = d(current.webhooks, prev.webhooks);
    samples.insert(
        AlertMetric::ErrorRate,
        Sample::ratio(
            now,
            d(hooks, d(current.webhooks_ok, prev.webhooks_ok)),
            hooks,
        ),
    );
    let ranges: Vec<f64> = current
        .webhook_ranges
        .iter()
        .enumerate()
        .map(|(i, c)| d(*c, prev.webhook_ranges.get(i).copied().unwrap_or(0.0)))
        .collect();
    let total: f64 = ranges.iter().sum();
    if total > 0.0 {
        let mut seen = 0.0;
        let p95 = TIME_RANGES
            .iter()
            .zip(&ranges)
            .find_map(|((_, bound), n)| {
                seen += n;
                (seen >= 0.95 * total).then_some(*bound)
            })
            .unwrap_or(0.0);
        samples.insert(AlertMetric::P95ResponseTimeSeconds, Sample::new(now, p95));
    }
    // The longest agent in the interval: the bound of its bucket (above the last
    // bound, twice the last bound); 0 when none finished.
    let bounds = Family::AgentExecutionDurationSeconds.buckets();
    let longest = current
        .agent_buckets
        .iter()
        .enumerate()
        .filter(|(i, c)| **c > prev.agent_buckets.get(*i).copied().unwrap_or(0))
        .map(|(i, _)| {
            bounds
                .get(i)
                .copied()
                .unwrap_or_else(|| bounds.last().copied().unwrap_or(0.0) * 2.0)
        })
        .fold(0.0, f64::max);
    samples.insert(
        AlertMetric::AgentExecutionDurationSeconds,
        Sample::new(now, longest),
    );
    if current.workflows_timed_out > prev.workflows_timed_out {
        // The lifecycle timed a workflow out: it went past its limit.
        samples.insert(
            AlertMetric::WorkflowExecutionDurationMinutes,
            Sample::new(now, 31.0),
        );
    }
    samples
}

/// Runs every due rule once; notifications go to the configured channels.
/// Returns the notices sent.
pub async fn evaluate(services: &Services) -> Result<Vec<Notice>, StoreError> {
    let channels = &services.config.alert_channels;
    let now = services.clock.now();
    let snapshot = services.metrics.snapshot().await?;
    let current = Counters::from_snapshot(&snapshot);
    let extra = live_samples(services, now).await;
    let maintenance = maintenance(services).await?.active(now);
    let base = channels
        .runbook_base
        .clone()
        .unwrap_or_else(|| format!("{}/docs", services.config.public_base_url));
    for _ in 0..SAVE_ATTEMPTS {
        let stored = services.ops.load_state(ALERT_STATE).await?;
        let expected = stored.as_ref().map(|s| s.version);
        let mut state: AlertState = stored
            .and_then(|s| serde_json::from_value(s.doc).ok())
            .unwrap_or_default();
        let mut samples = samples_from_counters(state.counters.as_ref(), &current, now);
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
        state.recent.extend(notices.iter().cloned());
        if state.recent.len() > RECENT {
            let excess = state.recent.len() - RECENT;
            state.recent.drain(..excess);
        }
        let doc = serde_json::to_value(&state)
            .map_err(|e| StoreError::Corrupt(format!("alert state: {e}")))?;
        if services.ops.save_state(ALERT_STATE, &doc, expected).await? {
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

/// Samples read live rather than from counters.
async fn live_samples(services: &Services, now: OffsetDateTime) -> Samples {
    let mut samples = Samples::new();
    // The oldest unfinished workflow among the most recent ones.
    match services.store.recent_workflows(100).await {
        Ok(workflows) => {
            let oldest = workflows
                .iter()
                .filter(|w| !w.status.is_terminal())
                .map(|w| (now - w.created_at).as_seconds_f64() / 60.0)
                .fold(0.0, f64::max);
            samples.insert(
                AlertMetric::WorkflowExecutionDurationMinutes,
                Sample::new(now, oldest),
            );
        }
        Err(e) => tracing::warn!(error = %e, "workflow ages not sampled"),
    }
    let mut streak = None;
    for kind in [DeliveryKind::OpalTrigger, DeliveryKind::AlertNotification] {
        match services.deliveries.consecutive_failures(kind).await {
            Ok(n) => streak = Some(streak.unwrap_or(0).max(n)),
            Err(e) => tracing::warn!(error = %e, "delivery failures not sampled"),
        }
    }
    if let Some(n) = streak {
        samples.insert(
            AlertMetric::WebhookConsecutiveFailures,
            Sample::new(now, f64::from(n)),
        );
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
/// when it sends.
pub fn notification(
    channel: Channel,
    notice: &Notice,
    channels: &AlertChannels,
    now: OffsetDateTime,
) -> Option<Delivery> {
    let kind = DeliveryKind::AlertNotification;
    match channel {
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
    }
}

/// The sending hook: one delivery per configured channel, through the delivery
/// queue (retries, backoff, dead letters).
pub async fn send_notifications(
    services: &Services,
    channels: &AlertChannels,
    rule: &AlertRule,
    notice: &Notice,
) {
    for channel in rule.channels {
        let Some(delivery) = notification(*channel, notice, channels, services.clock.now()) else {
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
    settings: &Maintenance,
    correlation_id: Option<&str>,
) -> Result<bool, StoreError> {
    let saved = set_maintenance(services, settings).await;
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
    saved.map(|()| active)
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
        NoticeKind::Renotified => None,
    }
}

/// `GET /api/admin/alerts`: firing alerts, recent notices, every rule's last
/// evaluation and the maintenance settings.
pub async fn overview(services: &Services) -> Result<serde_json::Value, StoreError> {
    let state: AlertState = services
        .ops
        .load_state(ALERT_STATE)
        .await?
        .and_then(|s| serde_json::from_value(s.doc).ok())
        .unwrap_or_default();
    let maintenance = maintenance(services).await?;
    let now = services.clock.now();
    let firing: Vec<_> = state
        .rules
        .iter()
        .filter_map(|r| {
            let firing = r.firing.as_ref()?;
            let rule = alerts::rule(&r.rule_id)?;
            Some(serde_json::json!({
                "rule_id": r.rule_id, "name": rule.name, "severity": rule.severity,
                "alert": firing,
            }))
        })
        .collect();
    let mut recent = state.recent.clone();
    recent.reverse();
    Ok(serde_json::json!({
        "success": true,
        "firing": firing,
        "recent": recent,
        "rules": ALERT_RULES.iter().map(|rule| {
            let last = state.rules.iter().find(|r| r.rule_id == rule.rule_id).and_then(|r| r.last.clone());
            serde_json::json!({"rule": rule, "last_evaluation": last})
        }).collect::<Vec<_>>(),
        "maintenance": {"active": maintenance.active(now), "settings": maintenance},
    }))
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
            webhooks: 100.0,
            webhooks_ok: 99.0,
            webhook_ranges: vec![100.0, 0.0, 0.0, 0.0, 0.0],
            agent_buckets: vec![0; 11],
            workflows_timed_out: 0.0,
        };
        assert!(samples_from_counters(None, &prev, NOW).is_empty());
        let mut now = prev.clone();
        now.agent_finished = 20.0;
        now.agent_failed = 3.0;
        now.webhooks = 120.0;
        now.webhooks_ok = 110.0;
        now.webhook_ranges = vec![118.0, 0.0, 0.0, 0.0, 2.0];
        now.agent_buckets[10] = 1;
        now.workflows_timed_out = 1.0;
        let s = samples_from_counters(Some(&prev), &now, NOW);
        let rate = s[&AlertMetric::OpalAgentFailureRate];
        assert_eq!((rate.value, rate.weight), (2.0, 10.0));
        let err = s[&AlertMetric::ErrorRate];
        assert_eq!((err.value, err.weight), (9.0, 20.0));
        // 2 of 20 over 5 s: the 95th percentile is over 5 s.
        assert_eq!(s[&AlertMetric::P95ResponseTimeSeconds].value, 10.0);
        now.webhook_ranges = vec![119.0, 0.0, 0.0, 0.0, 1.0];
        let s = samples_from_counters(Some(&prev), &now, NOW);
        assert_eq!(
            s[&AlertMetric::P95ResponseTimeSeconds].value,
            0.1,
            "1 of 20 is the top 5 %"
        );
        assert_eq!(s[&AlertMetric::AgentExecutionDurationSeconds].value, 600.0);
        assert_eq!(
            s[&AlertMetric::WorkflowExecutionDurationMinutes].value,
            31.0
        );
    }
}
