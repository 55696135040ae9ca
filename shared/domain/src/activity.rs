//! What happened across the whole system, for the operators' live stream:
//! workflows created and finished, webhooks rejected, deliveries dead-lettered,
//! alerts fired and resolved. Each is numbered by the store as it is appended;
//! the number is the stream's event id.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::status::WorkflowStatus;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Activity {
    WorkflowCreated {
        workflow_id: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    WorkflowFinished {
        workflow_id: String,
        status: WorkflowStatus,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// A webhook refused: its reason and status, and the workflow its body named.
    WebhookRejected {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workflow_id: Option<String>,
        reason: String,
        status: u16,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    DeliveryDeadLettered {
        delivery_id: String,
        delivery_kind: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workflow_id: Option<String>,
        reason: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    AlertFired {
        alert_id: String,
        rule_id: String,
        severity: String,
        title: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    AlertResolved {
        alert_id: String,
        rule_id: String,
        severity: String,
        title: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
}

impl Activity {
    /// The stream's event name: the kind.
    pub const fn name(&self) -> &'static str {
        match self {
            Activity::WorkflowCreated { .. } => "workflow_created",
            Activity::WorkflowFinished { .. } => "workflow_finished",
            Activity::WebhookRejected { .. } => "webhook_rejected",
            Activity::DeliveryDeadLettered { .. } => "delivery_dead_lettered",
            Activity::AlertFired { .. } => "alert_fired",
            Activity::AlertResolved { .. } => "alert_resolved",
        }
    }

    /// The stream's event data: the activity without its `kind` tag.
    pub fn data(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.remove("kind");
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn an_activity_is_named_by_its_kind_and_keeps_the_rest_as_data() {
        let activity = Activity::WorkflowFinished {
            workflow_id: "wf-1".into(),
            status: WorkflowStatus::Partial,
            at: datetime!(2026-11-30 10:00 UTC),
        };
        assert_eq!(activity.name(), "workflow_finished");
        assert_eq!(
            activity.data(),
            serde_json::json!({"workflow_id": "wf-1", "status": "partial", "at": "2026-11-30T10:00:00Z"})
        );
        let stored = serde_json::to_string(&activity).expect("encodes");
        assert_eq!(
            serde_json::from_str::<Activity>(&stored).ok(),
            Some(activity)
        );
    }
}
