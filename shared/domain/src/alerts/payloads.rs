//! The notification payloads, each in its channel's own format: a Slack
//! incoming-webhook message (`text` for notifications, `blocks` for the
//! message), a PagerDuty Events API v2 event (`trigger`, and `resolve` with the
//! same `dedup_key`), the e-mail and SMS webhooks' `{to, subject, text}` and
//! `{to, message}`, and a generic webhook's Standard Webhooks event
//! (`{type, timestamp, data}`, the notice as data).

use super::{AlertMetric, Notice, NoticeKind, Operator, Severity, rule};
use crate::rfc3339;

/// Slack's limit on a header block's text.
const SLACK_HEADER_MAX: usize = 150;
/// PagerDuty's limit on `payload.summary`.
const PAGERDUTY_SUMMARY_MAX: usize = 1024;

fn headline(notice: &Notice) -> String {
    let what = match notice.kind {
        NoticeKind::Fired => "FIRING",
        NoticeKind::Renotified => "STILL FIRING",
        NoticeKind::Resolved => "RESOLVED",
        NoticeKind::Acknowledged => "ACKNOWLEDGED",
    };
    format!(
        "[{what}] [{}] {}",
        notice.severity.as_str().to_uppercase(),
        notice.title
    )
}

fn truncated(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    text.chars().take(max.saturating_sub(3)).collect::<String>() + "..."
}

/// A value of the rule's metric as people read it: rates as percentages,
/// durations with their unit.
pub fn shown_value(rule_id: &str, value: f64) -> String {
    match rule(rule_id).map(|r| r.condition.metric) {
        Some(
            AlertMetric::OpalAgentFailureRate | AlertMetric::ErrorRate | AlertMetric::Availability,
        ) => format!("{:.1} %", value * 100.0),
        Some(AlertMetric::WorkflowExecutionDurationMinutes) => format!("{value:.1} min"),
        Some(AlertMetric::P95ResponseTimeSeconds) => format!("{value:.3} s"),
        _ => format!("{value}"),
    }
}

/// "12.0 % (threshold > 10.0 %)".
fn against_threshold(notice: &Notice) -> String {
    let operator = match rule(&notice.rule_id).map(|r| r.condition.operator) {
        Some(Operator::Gt) => ">",
        Some(Operator::Gte) => "≥",
        Some(Operator::Lt) => "<",
        Some(Operator::Lte) => "≤",
        Some(Operator::Eq) | None => "=",
    };
    format!(
        "{} (threshold {operator} {})",
        shown_value(&notice.rule_id, notice.current_value),
        shown_value(&notice.rule_id, notice.threshold)
    )
}

fn involved_list(notice: &Notice) -> String {
    notice
        .involved
        .iter()
        .map(|i| format!("{} {}", i.kind, i.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A Slack incoming-webhook message: `text` (what notifications show) and
/// Block Kit `blocks`: a header, the description, the severity, the value
/// against the threshold, the ids, and the runbook link.
pub fn slack_payload(notice: &Notice) -> serde_json::Value {
    let text = format!(
        "{}: {} <{}|Runbook>",
        headline(notice),
        against_threshold(notice),
        notice.runbook_url
    );
    let mut fields = vec![
        mrkdwn(format!("*Severity*\n{}", notice.severity.as_str())),
        mrkdwn(format!("*Value*\n{}", against_threshold(notice))),
        mrkdwn(format!("*Rule*\n`{}`", notice.rule_id)),
        mrkdwn(format!("*Alert id*\n`{}`", notice.alert_id)),
    ];
    if !notice.involved.is_empty() {
        fields.push(mrkdwn(format!("*Involved*\n{}", involved_list(notice))));
    }
    serde_json::json!({
        "text": text,
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": truncated(&headline(notice), SLACK_HEADER_MAX)},
            },
            {"type": "section", "text": mrkdwn(notice.description.clone())},
            {"type": "section", "fields": fields},
            {
                "type": "context",
                "elements": [mrkdwn(format!(
                    "<{}|Runbook> · {} · {}",
                    notice.runbook_url,
                    rfc3339(notice.at),
                    match notice.kind {
                        NoticeKind::Resolved => "resolved",
                        NoticeKind::Renotified => "still firing",
                        NoticeKind::Fired => "fired",
                        NoticeKind::Acknowledged => "acknowledged",
                    }
                ))],
            },
        ],
    })
}

fn mrkdwn(text: String) -> serde_json::Value {
    serde_json::json!({"type": "mrkdwn", "text": text})
}

/// A PagerDuty Events API v2 event. The alert id is the `dedup_key`, so a
/// trigger, its repeats and its resolve are one incident. A `resolve` (or
/// `acknowledge`) carries only the routing key, the action and the key, as
/// the API asks. `routing_key` is filled in when the delivery is sent.
pub fn pagerduty_payload(notice: &Notice, routing_key: &str) -> serde_json::Value {
    let closing = match notice.kind {
        NoticeKind::Resolved => Some("resolve"),
        NoticeKind::Acknowledged => Some("acknowledge"),
        NoticeKind::Fired | NoticeKind::Renotified => None,
    };
    if let Some(action) = closing {
        return serde_json::json!({
            "routing_key": routing_key,
            "event_action": action,
            "dedup_key": notice.alert_id,
        });
    }
    let summary = format!("{}: {}", headline(notice), against_threshold(notice));
    serde_json::json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": notice.alert_id,
        "client": "OSA",
        "payload": {
            "summary": truncated(&summary, PAGERDUTY_SUMMARY_MAX),
            "source": "osa",
            "severity": notice.severity.pagerduty(),
            "timestamp": rfc3339(notice.at),
            "component": component(&notice.rule_id),
            "group": "osa",
            "class": notice.rule_id,
            "custom_details": {
                "alert_id": notice.alert_id,
                "rule_id": notice.rule_id,
                "description": notice.description,
                "current_value": notice.current_value,
                "threshold": notice.threshold,
                "value": against_threshold(notice),
                "involved": notice.involved,
                "runbook_url": notice.runbook_url,
            },
        },
        "links": [{"href": notice.runbook_url, "text": "Runbook"}],
    })
}

/// The part of OSA a rule watches.
fn component(rule_id: &str) -> &'static str {
    match rule(rule_id).map(|r| r.condition.metric) {
        Some(AlertMetric::OpalAgentFailureRate | AlertMetric::AgentsOverAllowance) => "opal-agents",
        Some(AlertMetric::DeliveriesDeadLettered) => "deliveries",
        Some(AlertMetric::WorkflowExecutionDurationMinutes) => "workflows",
        Some(AlertMetric::Availability) => "health",
        _ => "api",
    }
}

/// An email, for a mail-sending webhook endpoint.
pub fn email_payload(notice: &Notice, to: &[String]) -> serde_json::Value {
    let involved = if notice.involved.is_empty() {
        String::new()
    } else {
        format!("Involved: {}\n", involved_list(notice))
    };
    serde_json::json!({
        "to": to,
        "subject": headline(notice),
        "text": format!(
            "{}\n\nValue: {}\nSeverity: {}\nAt: {}\nRule: {}\nAlert id: {}\n{involved}Runbook: {}\n",
            notice.description,
            against_threshold(notice),
            notice.severity.as_str(),
            rfc3339(notice.at),
            notice.rule_id,
            notice.alert_id,
            notice.runbook_url
        ),
    })
}

/// An SMS (at most 160 characters), for an SMS-sending webhook endpoint.
pub fn sms_payload(notice: &Notice, to: &[String]) -> serde_json::Value {
    let message = format!(
        "{} {} {}",
        headline(notice),
        against_threshold(notice),
        notice.runbook_url
    );
    serde_json::json!({ "to": to, "message": truncated(&message, 160) })
}

/// A generic webhook's event, shaped as Standard Webhooks suggests: `type`
/// (`alert.fired`, `alert.renotified`, `alert.resolved`, `alert.acknowledged`), `timestamp`, and the
/// whole notice as `data`.
pub fn webhook_payload(notice: &Notice) -> serde_json::Value {
    let kind = match notice.kind {
        NoticeKind::Fired => "alert.fired",
        NoticeKind::Renotified => "alert.renotified",
        NoticeKind::Resolved => "alert.resolved",
        NoticeKind::Acknowledged => "alert.acknowledged",
    };
    serde_json::json!({
        "type": kind,
        "timestamp": rfc3339(notice.at),
        "data": notice,
    })
}

impl Severity {
    /// PagerDuty's severity vocabulary.
    pub const fn pagerduty(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low => "info",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::Involved;
    use time::macros::datetime;

    fn notice() -> Notice {
        Notice {
            kind: NoticeKind::Fired,
            alert_id: "a1".into(),
            rule_id: "opal_agent_failure_rate".into(),
            severity: Severity::High,
            title: "High OPAL Agent Failure Rate".into(),
            description: "d".into(),
            current_value: 0.125,
            threshold: 0.1,
            at: datetime!(2026-11-25 10:00 UTC),
            runbook_url: "https://osa.test/docs/runbooks/opal-agent-failure-rate".into(),
            involved: vec![Involved::workflow("wf-1")],
            by: None,
        }
    }

    #[test]
    fn pagerduty_triggers_and_resolves_one_incident_keyed_by_the_alert() {
        let notice = notice();
        let pd = pagerduty_payload(&notice, "rk");
        assert_eq!(pd["routing_key"], "rk");
        assert_eq!(pd["event_action"], "trigger");
        assert_eq!(pd["dedup_key"], "a1");
        assert_eq!(pd["payload"]["severity"], "error");
        assert_eq!(pd["payload"]["source"], "osa");
        assert_eq!(pd["payload"]["component"], "opal-agents");
        assert_eq!(
            pd["payload"]["summary"],
            "[FIRING] [HIGH] High OPAL Agent Failure Rate: 12.5 % (threshold > 10.0 %)"
        );
        assert_eq!(pd["payload"]["custom_details"]["involved"][0]["id"], "wf-1");
        assert_eq!(pd["links"][0]["href"], notice.runbook_url);
        let resolved = Notice {
            kind: NoticeKind::Resolved,
            ..notice
        };
        let pd2 = pagerduty_payload(&resolved, "rk");
        assert_eq!(pd2["event_action"], "resolve");
        assert_eq!(pd2["dedup_key"], pd["dedup_key"]);
        assert!(pd2.get("payload").is_none());
        let acknowledged = Notice {
            kind: NoticeKind::Acknowledged,
            by: Some("oncall".into()),
            ..resolved.clone()
        };
        let pd3 = pagerduty_payload(&acknowledged, "rk");
        assert_eq!(pd3["event_action"], "acknowledge");
        assert_eq!(pd3["dedup_key"], pd["dedup_key"]);
        assert!(pd3.get("payload").is_none());
    }

    #[test]
    fn slack_has_text_and_blocks_with_value_ids_and_runbook() {
        let notice = notice();
        let slack = slack_payload(&notice);
        let text = slack["text"].as_str().unwrap_or_default();
        assert!(text.starts_with("[FIRING] [HIGH]"), "{text}");
        assert!(text.contains(&notice.runbook_url));
        let blocks = slack["blocks"].as_array().cloned().unwrap_or_default();
        assert_eq!(blocks[0]["type"], "header");
        let all = slack["blocks"].to_string();
        for needle in ["12.5 %", "a1", "opal_agent_failure_rate", "wf-1", "high"] {
            assert!(all.contains(needle), "{needle} in {all}");
        }
        assert!(all.contains(&format!("<{}|Runbook>", notice.runbook_url)));
        let long = Notice {
            title: "x".repeat(300),
            ..notice
        };
        let header = slack_payload(&long)["blocks"][0]["text"]["text"]
            .as_str()
            .map(|t| t.chars().count());
        assert_eq!(header, Some(SLACK_HEADER_MAX));
    }

    #[test]
    fn email_and_sms() {
        let notice = notice();
        let mail = email_payload(&notice, &["ops@example.com".into()]);
        assert_eq!(mail["to"][0], "ops@example.com");
        assert!(
            mail["text"]
                .as_str()
                .is_some_and(|t| t.contains("Runbook: https://") && t.contains("wf-1"))
        );
        let long = Notice {
            title: "x".repeat(300),
            ..notice
        };
        let sms = sms_payload(&long, &["+15550100".into()]);
        assert_eq!(
            sms["message"].as_str().map(|m| m.chars().count()),
            Some(160)
        );
    }

    #[test]
    fn a_generic_webhook_gets_a_standard_webhooks_event_with_the_whole_notice() {
        let mut notice = notice();
        let fired = webhook_payload(&notice);
        assert_eq!(fired["type"], "alert.fired");
        assert_eq!(fired["timestamp"], "2026-11-25T10:00:00Z");
        assert_eq!(fired["data"]["alert_id"], "a1");
        assert_eq!(fired["data"]["rule_id"], "opal_agent_failure_rate");
        assert_eq!(fired["data"]["involved"][0]["id"], "wf-1");
        notice.kind = NoticeKind::Resolved;
        assert_eq!(webhook_payload(&notice)["type"], "alert.resolved");
    }
}
