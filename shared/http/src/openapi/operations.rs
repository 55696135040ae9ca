//! What each route of the table does, for the document: its id, summary,
//! parameters, body and the answers it can give besides the ones every route
//! shares (those follow from its access: see `super::common_errors`).

use serde_json::{Value, json};

use super::schemas::schema_ref;
use crate::routes::{self, Route};
use osa_app::monitoring;

/// One operation, before the document adds what follows from the route's access.
pub(super) struct Operation {
    pub id: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub parameters: Vec<Value>,
    /// The JSON body's schema name and an example of it.
    pub body: Option<(&'static str, Value)>,
    /// Status and response object, the route's own answers.
    pub responses: Vec<(u16, Value)>,
}

/// A JSON answer with this schema.
fn json_answer(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": schema_ref(schema)}},
    })
}

/// An error answer (one of `components.responses`).
pub(super) fn error(status: u16) -> Value {
    json!({ "$ref": format!("#/components/responses/E{status}") })
}

fn path_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn workflow_id() -> Value {
    path_param(
        "id",
        "The workflow's id.",
        json!({"type": "string", "minLength": 1, "maxLength": 128}),
    )
}

fn delivery_id() -> Value {
    path_param(
        "id",
        "The delivery's id.",
        json!({"type": "string", "format": "uuid"}),
    )
}

fn limit(default: usize, max: usize) -> Value {
    query_param(
        "limit",
        &format!("How many, 1 to {max} ({default} by default)."),
        json!({"type": "integer", "minimum": 1, "maximum": max, "default": default}),
    )
}

fn cursor() -> Value {
    query_param(
        "cursor",
        "The `next` of the page before.",
        json!({"type": "string"}),
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

    fn body(mut self, schema: &'static str, example: Value) -> Self {
        self.body = Some((schema, example));
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
pub(super) fn describe(route: &Route, examples: &super::Examples) -> Option<Operation> {
    let r = |other: &Route| route == other;
    let described = if r(&routes::INTAKE) {
        op(
            "submitIntake",
            "Submit a strategy intake and start its workflow",
            "workflows",
        )
        .body("Intake", examples.intake.clone())
        .answer(
            202,
            with_workflow_links(json_answer(
                "The workflow was created and OPAL is being triggered.",
                "IntakeAccepted",
            )),
        )
        .answer(
            200,
            with_workflow_links(json_answer(
                "The same intake was submitted before: its workflow.",
                "IntakeAccepted",
            )),
        )
        .errors(&[400, 409, 413, 415, 422])
    } else if r(&routes::WEBHOOK) {
        op(
            "receiveAgentEvent",
            "Receive an OPAL agent's signed event",
            "webhooks",
        )
        .body("AgentEvent", examples.agent_event.clone())
        .answer(202, json_answer("Accepted and stored.", "EventAccepted"))
        .answer(
            200,
            json_answer(
                "A duplicate of an event already stored; nothing changed.",
                "EventAccepted",
            ),
        )
        .errors(&[400, 401, 404, 413, 422])
    } else if r(&routes::WORKFLOW) {
        op(
            "getWorkflow",
            "A workflow's status, agents and results",
            "workflows",
        )
        .param(workflow_id())
        .answer(200, json_answer("The workflow.", "Workflow"))
        .errors(&[404])
    } else if r(&routes::REPORT) {
        op(
            "getReport",
            "A workflow's ranked strategy and roadmap",
            "workflows",
        )
        .param(workflow_id())
        .param(query_param(
            "format",
            "`json` (the default) or `markdown`.",
            json!({"enum": ["json", "markdown", "md"], "default": "json"}),
        ))
        .answer(
            200,
            json!({
                "description": "The report: JSON, or Markdown with `?format=markdown`.",
                "content": {
                    "application/json": {"schema": schema_ref("Report")},
                    "text/markdown": {"schema": {"type": "string"}},
                },
            }),
        )
        .errors(&[400, 404])
    } else if r(&routes::STREAM) {
        op("streamWorkflow", "A workflow's changes, live", "streams")
            .param(workflow_id())
            .param(last_event_id())
            .answer(200, event_stream(WORKFLOW_EVENTS))
            .errors(&[400, 404])
    } else if r(&routes::STREAM_BY_QUERY) {
        op("streamWorkflowByQuery", "A workflow's changes, live (the original path)", "streams")
            .param(json!({"name": "workflow_id", "in": "query", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 128}}))
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
        .body(
            "ForceSync",
            json!({"sync_scope": "priority_platforms", "triggered_by": "dashboard"}),
        )
        .answer(
            202,
            json_answer("A new run was requested.", "ForceSyncAccepted"),
        )
        .answer(
            200,
            json_answer(
                "A sync of this workflow was already in flight.",
                "ForceSyncAccepted",
            ),
        )
        .errors(&[400, 404, 409, 413, 415, 422])
    } else if r(&routes::CREDENTIALS) {
        op(
            "refreshCredentials",
            "Refresh the Optimizely keys of a paused workflow and resume it",
            "workflows",
        )
        .param(workflow_id())
        .body(
            "CredentialsUpdate",
            json!({"api_credentials": {"odp_key": "odp-refreshed-key"}}),
        )
        .answer(200, json_answer("Resumed.", "CredentialsResumed"))
        .errors(&[400, 404, 409, 413, 415, 422])
    } else if r(&routes::RECENT_STATUS) {
        op(
            "getRecentStatus",
            "When OSA last heard from OPAL and the latest workflow's status",
            "admin",
        )
        .answer(200, json_answer("The latest activity.", "RecentStatus"))
    } else if r(&routes::WEBHOOK_EVENTS) {
        op(
            "listWebhookEvents",
            "The audit trail of webhook attempts, oldest first",
            "admin",
        )
        .param(query_param(
            "workflow_id",
            "One workflow's attempts.",
            json!({"type": "string", "minLength": 1, "maxLength": 128}),
        ))
        .param(query_param(
            "unattributed_on",
            "Or a UTC day's attempts that named no workflow.",
            json!({"type": "string", "format": "date"}),
        ))
        .param(limit(500, 1000))
        .param(cursor())
        .answer(200, json_answer("A page of attempts.", "WebhookEventsPage"))
        .errors(&[400])
    } else if r(&routes::ERASE) {
        op(
            "eraseWorkflow",
            "Erase a workflow and everything stored for it",
            "admin",
        )
        .param(workflow_id())
        .answer(200, json_answer("Erased.", "Erased"))
        .errors(&[404])
    } else if r(&routes::ADMIN_AUDIT) {
        op(
            "listAdminAudit",
            "The admin audit trail, newest first",
            "admin",
        )
        .param(limit(100, 1000))
        .param(cursor())
        .answer(200, json_answer("A page of entries.", "AuditPage"))
        .errors(&[400])
    } else if r(&routes::DEAD_LETTERS) {
        op(
            "listDeadLetters",
            "The dead-lettered deliveries, latest first",
            "deliveries",
        )
        .param(limit(100, 1000))
        .answer(200, json_answer("The dead letters.", "DeadLetters"))
        .errors(&[400])
    } else if r(&routes::DELIVERY) {
        op(
            "getDelivery",
            "One delivery with every attempt",
            "deliveries",
        )
        .param(delivery_id())
        .answer(200, json_answer("The delivery.", "Delivery"))
        .errors(&[404])
    } else if r(&routes::REDRIVE) {
        op(
            "redriveDelivery",
            "Attempt a dead letter again",
            "deliveries",
        )
        .param(delivery_id())
        .answer(
            202,
            json_answer("A fresh run of attempts was queued.", "Redriven"),
        )
        .errors(&[404, 409])
    } else if r(&routes::REDRIVE_ALL) {
        op(
            "redriveAll",
            "Attempt every dead letter again",
            "deliveries",
        )
        .answer(202, json_answer("Queued.", "RedrivenAll"))
    } else if r(&routes::HEALTH) {
        op("probeHealth", "Run one health check now", "health")
            .param(path_param(
                "service",
                "Which check.",
                json!({"enum": ["intake", "opal", "database"]}),
            ))
            .answer(200, json_answer("Healthy.", "HealthProbe"))
            .answer(
                503,
                json_answer(
                    "Unhealthy (the probe's result, not an outage of this API).",
                    "HealthProbe",
                ),
            )
            .errors(&[404])
    } else if r(&routes::GUARDRAILS_HEALTH) {
        op(
            "getHealthReport",
            "The latest scheduled health report",
            "health",
        )
        .param(query_param(
            "detailed",
            "Also each service's state and the recent reports.",
            json!({"type": "boolean", "default": false}),
        ))
        .answer(
            200,
            json_answer(
                "The report (null before the first check).",
                "GuardrailsHealth",
            ),
        )
        .errors(&[400])
    } else if r(&routes::ALERTS) {
        op(
            "listAlerts",
            "Alert rules, their last evaluation, firing and recent alerts",
            "alerts",
        )
        .answer(200, json_answer("The alerts.", "Alerts"))
    } else if r(&routes::MAINTENANCE) {
        op("getMaintenance", "The maintenance switch", "alerts").answer(
            200,
            json_answer(
                "Whether maintenance is active, and its settings.",
                "MaintenanceState",
            ),
        )
    } else if r(&routes::SET_MAINTENANCE) {
        op("setMaintenance", "Set the maintenance switch", "alerts")
            .body(
                "Maintenance",
                json!({"scheduled": true, "manual_until": null}),
            )
            .answer(200, json_answer("The new state.", "MaintenanceState"))
            .errors(&[400, 413, 415, 422])
    } else if r(&routes::CONFIDENCE_METRICS) {
        op(
            "getConfidenceMetrics",
            "Agents' confidence over the recent workflows",
            "monitoring",
        )
        .param(limit(monitoring::DEFAULT_WINDOW, monitoring::MAX_WINDOW))
        .answer(200, json_answer("Per agent and overall.", "Monitoring"))
        .errors(&[400])
    } else if r(&routes::FALLBACK_STATS) {
        op(
            "getFallbackStats",
            "How often OSA fell back over the recent workflows",
            "monitoring",
        )
        .param(limit(monitoring::DEFAULT_WINDOW, monitoring::MAX_WINDOW))
        .answer(
            200,
            json_answer("Timeouts, failures, late results, retries.", "Monitoring"),
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
