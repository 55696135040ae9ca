//! What each route of the table does, for the document: its id, summary,
//! parameters, body and the answers it can give besides the ones every route
//! shares (those follow from its access: see `super::operation_object`). Bodies,
//! answers and query parameters are the handlers' own types.

use schemars::JsonSchema;
use serde_json::{Value, json};

use super::schemas::Schemas;
use crate::api::{
    CredentialsResumed, DeadLetters, DeliveryFound, EventAccepted, IntakeAccepted, Redriven,
    RedrivenAll, Success,
};
use crate::routes::{self, Route};
use osa_app::admin::{AuditPage, AuditQuery, Erased, WebhookEventsPage, WebhookEventsQuery};
use osa_app::alerts::{AlertActed, MaintenanceState, Overview, SilenceRequest};
use osa_app::delivery::dead_letter::DeadLetterQuery;
use osa_app::health::{HealthProbe, HealthRoute, ReportQuery as HealthQuery, ReportView};
use osa_app::monitoring::WindowQuery;
use osa_app::recovery::{RecoverRequest, Recovered, ReplayRequest, Replayed};
use osa_app::status::{RecentStatus, ReportQuery, WorkflowView, WorkflowsPage, WorkflowsQuery};
use osa_app::stream::StreamQuery;
use osa_app::sync::{SyncAccepted, SyncRequest};
use osa_domain::WorkflowId;
use osa_domain::alerts::Maintenance;
use osa_domain::event::EventWire;
use osa_domain::intake::{CredentialsUpdateWire, IntakeWire};
use osa_domain::monitoring::{ConfidenceMetrics, FallbackStats};
use osa_domain::report::Report;

/// One operation, before the document adds what follows from the route's access.
pub(super) struct Operation {
    pub id: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub parameters: Vec<Value>,
    /// The JSON body's schema (its index in [`Schemas`]) and an example of it.
    pub body: Option<(usize, Value)>,
    /// Status and response object, the route's own answers.
    pub responses: Vec<(u16, Value)>,
}

/// A JSON answer of type `T`.
fn json_answer<T: JsonSchema>(s: &mut Schemas, description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": s.answer::<T>()}},
    })
}

/// An error answer (one of `components.responses`).
pub(super) fn error(status: u16) -> Value {
    json!({ "$ref": format!("#/components/responses/E{status}") })
}

fn path_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

fn workflow_id(s: &mut Schemas) -> Value {
    path_param("id", "The workflow's id.", s.path::<WorkflowId>())
}

fn delivery_id(s: &mut Schemas) -> Value {
    path_param("id", "The delivery's id.", s.path::<uuid::Uuid>())
}

fn alert_id() -> Value {
    path_param(
        "alert_id",
        "A firing alert's id (`GET /api/admin/alerts`).",
        json!({"type": "string", "pattern": "^[0-9a-f]{32}$"}),
    )
}

fn last_event_id() -> Value {
    json!({"name": "Last-Event-ID", "in": "header", "required": false,
        "description": "Resume after this event (a whole number, as the stream sent it).",
        "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"}})
}

/// Server-sent events, each `id`, `event` and JSON `data`.
fn event_stream(events: &str) -> Value {
    json!({
        "description": format!("Server-sent events: {events}; `heartbeat` every 15 s when quiet, and `error` before closing."),
        "content": {"text/event-stream": {"schema": {
            "type": "object",
            "required": ["event", "data"],
            "properties": {
                "id": {"type": "string", "pattern": "^[0-9]+$", "description": "Resume after it with `Last-Event-ID`."},
                "event": {"type": "string"},
                "data": {"type": "string", "contentMediaType": "application/json"},
            },
        }}},
    })
}

const WORKFLOW_EVENTS: &str = "`connection` (the status view), then `webhook_event`, `agent_status`, `workflow_status`, `report_ready`";
const ACTIVITY_EVENTS: &str = "`connection`, then `workflow_created`, `workflow_finished`, `webhook_rejected`, `delivery_dead_lettered`, `alert_fired`, `alert_resolved`";

/// Where a workflow's id leads: its status, report, credentials, erasure (the
/// stateful phase of a fuzzer follows these).
fn with_workflow_links(mut response: Value) -> Value {
    let link = |operation: &str| json!({"operationId": operation, "parameters": {"id": "$response.body#/workflow_id"}});
    response["links"] = json!({
        "GetWorkflow": link("getWorkflow"),
        "GetReport": link("getReport"),
        "RefreshCredentials": link("refreshCredentials"),
        "EraseWorkflow": link("eraseWorkflow"),
    });
    response
}

fn op(id: &'static str, summary: &'static str, tag: &'static str) -> Operation {
    Operation {
        id,
        summary,
        tag,
        parameters: Vec::new(),
        body: None,
        responses: Vec::new(),
    }
}

impl Operation {
    fn param(mut self, parameter: Value) -> Self {
        self.parameters.push(parameter);
        self
    }

    /// The query parameters `T` reads.
    fn query<T: JsonSchema>(mut self, s: &mut Schemas) -> Self {
        self.parameters.extend(s.query::<T>());
        self
    }

    fn body<T: JsonSchema>(mut self, s: &mut Schemas, example: Value) -> Self {
        self.body = Some((s.body::<T>(), example));
        self
    }

    fn answer(mut self, status: u16, response: Value) -> Self {
        self.responses.push((status, response));
        self
    }

    fn errors(mut self, statuses: &[u16]) -> Self {
        self.responses
            .extend(statuses.iter().map(|s| (*s, error(*s))));
        self
    }
}

/// The operation a route is, if it is described (a test checks that all are).
pub(super) fn describe(
    route: &Route,
    examples: &super::Examples,
    s: &mut Schemas,
) -> Option<Operation> {
    let r = |other: &Route| route == other;
    let described = if r(&routes::INTAKE) {
        op(
            "submitIntake",
            "Submit a strategy intake and start its workflow",
            "workflows",
        )
        .body::<IntakeWire>(s, examples.intake.clone())
        .answer(
            202,
            with_workflow_links(json_answer::<Success<IntakeAccepted>>(
                s,
                "The workflow was created and OPAL is being triggered.",
            )),
        )
        .answer(
            200,
            with_workflow_links(json_answer::<Success<IntakeAccepted>>(
                s,
                "The same intake was submitted before: its workflow.",
            )),
        )
        .errors(&[400, 409, 413, 415, 422])
    } else if r(&routes::WEBHOOK) {
        op(
            "receiveAgentEvent",
            "Receive an OPAL agent's signed event",
            "webhooks",
        )
        .body::<EventWire>(s, examples.agent_event.clone())
        .answer(
            202,
            json_answer::<Success<EventAccepted>>(s, "Accepted and stored."),
        )
        .answer(
            200,
            json_answer::<Success<EventAccepted>>(
                s,
                "A duplicate of an event already stored; nothing changed.",
            ),
        )
        .errors(&[400, 401, 404, 413, 422])
    } else if r(&routes::WORKFLOWS) {
        op(
            "listWorkflows",
            "Workflows, newest first, a page at a time",
            "workflows",
        )
        .query::<WorkflowsQuery>(s)
        .answer(
            200,
            json_answer::<Success<WorkflowsPage>>(s, "A page of workflows."),
        )
        .errors(&[400])
    } else if r(&routes::WORKFLOW) {
        op(
            "getWorkflow",
            "A workflow's status, agents and results",
            "workflows",
        )
        .param(workflow_id(s))
        .answer(
            200,
            json_answer::<Success<WorkflowView>>(s, "The workflow."),
        )
        .errors(&[404])
    } else if r(&routes::REPORT) {
        let report = s.answer::<Success<Report>>();
        op(
            "getReport",
            "A workflow's ranked strategy and roadmap",
            "workflows",
        )
        .param(workflow_id(s))
        .query::<ReportQuery>(s)
        .answer(
            200,
            json!({
                "description": "The report: JSON, or Markdown with `?format=markdown`.",
                "content": {
                    "application/json": {"schema": report},
                    "text/markdown": {"schema": {"type": "string"}},
                },
            }),
        )
        .errors(&[400, 404])
    } else if r(&routes::STREAM) {
        op("streamWorkflow", "A workflow's changes, live", "streams")
            .param(workflow_id(s))
            .param(last_event_id())
            .answer(200, event_stream(WORKFLOW_EVENTS))
            .errors(&[400, 404])
    } else if r(&routes::STREAM_BY_QUERY) {
        op(
            "streamWorkflowByQuery",
            "A workflow's changes, live (the original path)",
            "streams",
        )
        .query::<StreamQuery>(s)
        .param(last_event_id())
        .answer(200, event_stream(WORKFLOW_EVENTS))
        .errors(&[400, 404])
    } else if r(&routes::ADMIN_STREAM) {
        op(
            "streamActivity",
            "The whole system's activity, live",
            "streams",
        )
        .param(last_event_id())
        .answer(200, event_stream(ACTIVITY_EVENTS))
        .errors(&[400])
    } else if r(&routes::FORCE_SYNC) {
        op(
            "forceSync",
            "Run a workflow again (the latest by default)",
            "workflows",
        )
        .body::<SyncRequest>(
            s,
            json!({"sync_scope": "priority_platforms", "triggered_by": "dashboard"}),
        )
        .answer(
            202,
            json_answer::<Success<SyncAccepted>>(s, "A new run was requested."),
        )
        .answer(
            200,
            json_answer::<Success<SyncAccepted>>(
                s,
                "A sync of this workflow was already in flight.",
            ),
        )
        .errors(&[400, 404, 409, 413, 415, 422])
    } else if r(&routes::CREDENTIALS) {
        op(
            "refreshCredentials",
            "Refresh the Optimizely keys of a paused workflow and resume it",
            "workflows",
        )
        .param(workflow_id(s))
        .body::<CredentialsUpdateWire>(
            s,
            json!({"api_credentials": {"odp_key": "odp-refreshed-key"}}),
        )
        .answer(
            200,
            json_answer::<Success<CredentialsResumed>>(s, "Resumed."),
        )
        .errors(&[400, 404, 409, 413, 415, 422])
    } else if r(&routes::RECENT_STATUS) {
        op(
            "getRecentStatus",
            "When OSA last heard from OPAL and the latest workflow's status",
            "admin",
        )
        .answer(200, json_answer::<RecentStatus>(s, "The latest activity."))
    } else if r(&routes::WEBHOOK_EVENTS) {
        op(
            "listWebhookEvents",
            "The audit trail of webhook attempts, oldest first",
            "admin",
        )
        .query::<WebhookEventsQuery>(s)
        .answer(
            200,
            json_answer::<Success<WebhookEventsPage>>(s, "A page of attempts."),
        )
        .errors(&[400])
    } else if r(&routes::ERASE) {
        op(
            "eraseWorkflow",
            "Erase a workflow and everything stored for it",
            "admin",
        )
        .param(workflow_id(s))
        .answer(200, json_answer::<Success<Erased>>(s, "Erased."))
        .errors(&[404])
    } else if r(&routes::ADMIN_AUDIT) {
        op(
            "listAdminAudit",
            "The admin audit trail, newest first",
            "admin",
        )
        .query::<AuditQuery>(s)
        .answer(
            200,
            json_answer::<Success<AuditPage>>(s, "A page of entries."),
        )
        .errors(&[400])
    } else if r(&routes::DEAD_LETTERS) {
        op(
            "listDeadLetters",
            "The dead-lettered deliveries, latest first",
            "deliveries",
        )
        .query::<DeadLetterQuery>(s)
        .answer(
            200,
            json_answer::<Success<DeadLetters>>(s, "The dead letters."),
        )
        .errors(&[400])
    } else if r(&routes::DELIVERY) {
        op(
            "getDelivery",
            "One delivery with every attempt",
            "deliveries",
        )
        .param(delivery_id(s))
        .answer(
            200,
            json_answer::<Success<DeliveryFound>>(s, "The delivery."),
        )
        .errors(&[404])
    } else if r(&routes::REDRIVE) {
        op(
            "redriveDelivery",
            "Attempt a dead letter again",
            "deliveries",
        )
        .param(delivery_id(s))
        .answer(
            202,
            json_answer::<Success<Redriven>>(s, "A fresh run of attempts was queued."),
        )
        .errors(&[404, 409])
    } else if r(&routes::REDRIVE_ALL) {
        op(
            "redriveAll",
            "Attempt every dead letter again",
            "deliveries",
        )
        .answer(202, json_answer::<Success<RedrivenAll>>(s, "Queued."))
    } else if r(&routes::RECOVER_DELIVERIES) {
        op(
            "recoverDeliveries",
            "Redrive every dead letter of a time window",
            "deliveries",
        )
        .body::<RecoverRequest>(
            s,
            json!({"since": "2026-12-07T09:00:00Z", "until": "2026-12-07T11:00:00Z",
                   "kind": "result_notification"}),
        )
        .answer(
            202,
            json_answer::<Success<Recovered>>(s, "Fresh runs of attempts were queued."),
        )
        .errors(&[400, 413, 415, 422])
    } else if r(&routes::REPLAY_EVENTS) {
        op(
            "replayEvents",
            "Relay a workflow's or a window's outbox items again, ids unchanged",
            "deliveries",
        )
        .body::<ReplayRequest>(
            s,
            json!({"since": "2026-12-07T09:00:00Z", "until": "2026-12-07T11:00:00Z"}),
        )
        .answer(200, json_answer::<Success<Replayed>>(s, "Relayed again."))
        .errors(&[400, 404, 413, 415, 422])
    } else if r(&routes::HEALTH) {
        let service = s.path::<HealthRoute>();
        op("probeHealth", "Run one health check now", "health")
            .param(path_param("service", "Which check.", service))
            .answer(200, json_answer::<HealthProbe>(s, "Healthy."))
            .answer(
                503,
                json_answer::<HealthProbe>(
                    s,
                    "Unhealthy (the probe's result, not an outage of this API).",
                ),
            )
            .errors(&[404])
    } else if r(&routes::GUARDRAILS_HEALTH) {
        op(
            "getHealthReport",
            "The latest scheduled health report",
            "health",
        )
        .query::<HealthQuery>(s)
        .answer(
            200,
            json_answer::<Success<ReportView>>(s, "The report (null before the first check)."),
        )
        .errors(&[400])
    } else if r(&routes::ALERTS) {
        op(
            "listAlerts",
            "Alert rules, their last evaluation, firing and recent alerts",
            "alerts",
        )
        .answer(200, json_answer::<Success<Overview>>(s, "The alerts."))
    } else if r(&routes::MAINTENANCE) {
        op("getMaintenance", "The maintenance switch", "alerts").answer(
            200,
            json_answer::<Success<MaintenanceState>>(
                s,
                "Whether maintenance is active, and its settings.",
            ),
        )
    } else if r(&routes::SET_MAINTENANCE) {
        op("setMaintenance", "Set the maintenance switch", "alerts")
            .body::<Maintenance>(s, json!({"scheduled": true, "manual_until": null}))
            .answer(
                200,
                json_answer::<Success<MaintenanceState>>(s, "The new state."),
            )
            .errors(&[400, 413, 415, 422])
    } else if r(&routes::ACK_ALERT) {
        op(
            "acknowledgeAlert",
            "Acknowledge a firing alert: it re-notifies no more",
            "alerts",
        )
        .param(alert_id())
        .answer(
            200,
            json_answer::<Success<AlertActed>>(s, "The alert, acknowledged."),
        )
        .errors(&[404, 409])
    } else if r(&routes::SILENCE_ALERT) {
        op(
            "silenceAlert",
            "Hold a firing alert's re-notifications until a time (at most 24 h)",
            "alerts",
        )
        .param(alert_id())
        .body::<SilenceRequest>(s, json!({"until": "2026-12-08T12:00:00Z"}))
        .answer(
            200,
            json_answer::<Success<AlertActed>>(s, "The alert, silenced."),
        )
        .errors(&[400, 404, 409, 413, 415, 422])
    } else if r(&routes::CONFIDENCE_METRICS) {
        op(
            "getConfidenceMetrics",
            "Agents' confidence over the recent workflows",
            "monitoring",
        )
        .query::<WindowQuery>(s)
        .answer(
            200,
            json_answer::<Success<ConfidenceMetrics>>(s, "Per agent and overall."),
        )
        .errors(&[400])
    } else if r(&routes::FALLBACK_STATS) {
        op(
            "getFallbackStats",
            "How often OSA fell back over the recent workflows",
            "monitoring",
        )
        .query::<WindowQuery>(s)
        .answer(
            200,
            json_answer::<Success<FallbackStats>>(s, "Timeouts, failures, late results, retries."),
        )
        .errors(&[400])
    } else if r(&routes::PROMETHEUS) {
        op(
            "getPrometheusMetrics",
            "The osal_* metrics, Prometheus text format",
            "monitoring",
        )
        .answer(
            200,
            json!({
                "description": "Prometheus text exposition 0.0.4.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }),
        )
    } else if r(&routes::DASHBOARD) {
        op("getDashboard", "The operator dashboard", "dashboard")
            .answer(200, json!({"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}}))
    } else if r(&routes::DASHBOARD_FILE) {
        op(
            "getDashboardFile",
            "One of the dashboard's files",
            "dashboard",
        )
        .param(path_param(
            "file",
            "The file's name.",
            json!({"type": "string"}),
        ))
        .answer(
            200,
            json!({"description": "The file.", "content": {
                "text/javascript": {"schema": {"type": "string"}},
                "text/css": {"schema": {"type": "string"}},
                "image/svg+xml": {"schema": {"type": "string"}},
            }}),
        )
        .errors(&[404])
    } else if r(&routes::RUNBOOKS) {
        op("getRunbooks", "The runbooks' index", "dashboard").answer(
            200,
            json!({"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}}),
        )
    } else if r(&routes::RUNBOOK) {
        op(
            "getRunbook",
            "One alert rule's or playbook's runbook, as HTML",
            "dashboard",
        )
        .param(path_param(
            "page",
            "The rule's id with dashes (`webhook-delivery-failures`), or a playbook's name.",
            json!({"type": "string"}),
        ))
        .answer(
            200,
            json!({"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}}),
        )
        .errors(&[404])
    } else if r(&routes::OPENAPI) {
        op("getOpenApi", "This document", "meta").answer(
            200,
            json!({
                "description": "OpenAPI 3.1.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }),
        )
    } else {
        return None;
    };
    Some(described)
}
