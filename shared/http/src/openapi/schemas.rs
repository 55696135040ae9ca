//! The document's `components.schemas`: JSON Schema (2020-12, as OpenAPI 3.1 has
//! it) for every body OSA reads or writes. Enumerations come from the domain's own
//! lists, so a new agent, industry or status appears here without an edit.

use serde_json::{Map, Value, json};

use osa_domain::agents::AgentId;
use osa_domain::event::OPTIMIZELY_SERVICES;
use osa_domain::intake::Industry;
use osa_domain::status::{AgentStatus, WorkflowStatus};

/// A `$ref` to a schema of this document.
pub(super) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// Somewhere a character that is not white space as Rust's `str::trim` has it
/// (Unicode's White_Space), written out: `\S` means less in some regex dialects.
const NOT_BLANK: &str = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// Text that is not blank, of `min..=max` characters (what `Violations::text` checks).
fn text(min: usize, max: usize) -> Value {
    json!({"type": "string", "minLength": min, "maxLength": max, "pattern": NOT_BLANK})
}

fn timestamp() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn nullable(schema: Value) -> Value {
    json!({"oneOf": [schema, {"type": "null"}]})
}

fn workflow_id() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 128})
}

fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

fn agents() -> Vec<&'static str> {
    AgentId::ALL.iter().map(|a| a.as_str()).collect()
}

fn workflow_statuses() -> Vec<&'static str> {
    WorkflowStatus::ALL.iter().map(|s| s.as_str()).collect()
}

fn agent_statuses() -> Vec<&'static str> {
    AgentStatus::ALL.iter().map(|s| s.as_str()).collect()
}

/// An object with these properties, of which `required` must be present; other
/// properties may follow (answers grow without breaking clients).
fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

/// A success answer: `success: true` and these properties.
fn success(required: &[&str], properties: Value) -> Value {
    let mut schema = object(required, properties);
    schema["required"]
        .as_array_mut()
        .into_iter()
        .for_each(|r| r.push("success".into()));
    schema["properties"]["success"] = json!({"const": true});
    schema
}

/// Every schema the document names, by name.
pub(super) fn all() -> Map<String, Value> {
    let optimizely_key = json!({"type": "string", "minLength": 1, "maxLength": 512, "pattern": NOT_BLANK, "writeOnly": true});
    let credentials = json!({
        "type": "object",
        "additionalProperties": false,
        "description": "Optimizely API keys, kept by reference and never echoed.",
        "properties": {
            "odp_key": optimizely_key, "experimentation_key": optimizely_key,
            "content_recs_key": optimizely_key, "cmp_key": optimizely_key,
        },
    });
    // The intake may name a key as null (not given); a refresh must give one.
    let mut credentials_in_intake = credentials.clone();
    for key in [
        "odp_key",
        "experimentation_key",
        "content_recs_key",
        "cmp_key",
    ] {
        credentials_in_intake["properties"][key] = nullable(optimizely_key.clone());
    }
    let mut refreshed_credentials = credentials.clone();
    refreshed_credentials["minProperties"] = json!(1);
    let industries: Vec<&str> = Industry::ALL.iter().map(|i| i.as_str()).collect();
    let schemas = json!({
        "Error": {
            "type": "object",
            "required": ["success", "error"],
            "properties": {
                "success": {"const": false},
                "error": {
                    "type": "object",
                    "required": ["code", "message", "details"],
                    "properties": {
                        "code": {"type": "string", "description": "Stable, machine-readable: `validation_failed`, `invalid_json`, `not_found`, `unauthorized`, `rate_limited`, `service_unavailable`, …"},
                        "message": {"type": "string"},
                        "details": {"type": "array", "items": schema_ref("FieldError")},
                    },
                },
            },
        },
        "FieldError": object(&["path", "message"], json!({
            "path": {"type": "string", "description": "Where in the body, e.g. `business_context.goals[2]`."},
            "message": {"type": "string"},
        })),
        "Intake": {
            "type": "object",
            "additionalProperties": false,
            "required": ["business_context", "optimizely_config", "analysis_preferences"],
            "properties": {
                "workflow_id": nullable(json!({"type": "string", "format": "uuid", "description": "Optional: the client's id, which makes a retry idempotent."})),
                "business_context": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["company_name", "industry", "goals", "target_audience"],
                    "properties": {
                        "company_name": text(1, 100),
                        "industry": {"enum": industries},
                        "goals": {"type": "array", "minItems": 1, "maxItems": 10, "items": text(1, 200)},
                        "target_audience": text(10, 500),
                        "current_challenges": nullable(json!({"type": "array", "maxItems": 20, "items": text(1, 500)})),
                    },
                },
                "optimizely_config": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["project_id", "workspace_id"],
                    "properties": {
                        "project_id": {"type": "string", "pattern": "^[0-9]{1,20}$"},
                        "workspace_id": {"type": "string", "format": "uuid"},
                        "api_credentials": nullable(credentials_in_intake),
                    },
                },
                "analysis_preferences": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["analysis_depth", "focus_areas", "timeline"],
                    "properties": {
                        "analysis_depth": {"enum": ["basic", "standard", "comprehensive"]},
                        "focus_areas": {"type": "array", "minItems": 1, "maxItems": 4, "uniqueItems": true,
                            "items": {"enum": ["content", "audiences", "experimentation", "personalization"]}},
                        "timeline": {"enum": ["30d", "60d", "90d"]},
                    },
                },
                "notify_url": nullable(json!({"type": "string", "format": "uri", "description": "`https` to a public host: where the result-ready notification goes."})),
            },
        },
        "IntakeAccepted": success(
            &["workflow_id", "correlation_id", "status", "created", "status_check_url", "webhook_url", "estimated_completion_minutes"],
            json!({
                "workflow_id": {"type": "string"},
                "correlation_id": {"type": "string"},
                "status": {"enum": workflow_statuses()},
                "created": {"type": "boolean", "description": "False when the same intake was submitted before."},
                "status_check_url": {"type": "string", "format": "uri"},
                "webhook_url": {"type": "string", "format": "uri"},
                "estimated_completion_minutes": {"type": "integer", "minimum": 0},
                "credentials": object(&["valid", "refused", "resume_url"], json!({
                    "valid": {"const": false},
                    "refused": {"type": "array", "items": schema_ref("RefusedService")},
                    "resume_url": {"type": "string", "format": "uri"},
                })),
            }),
        ),
        "RefusedService": object(&["service", "status"], json!({
            "service": {"enum": OPTIMIZELY_SERVICES},
            "status": {"enum": [401, 403]},
        })),
        "CredentialsUpdate": {
            "type": "object",
            "additionalProperties": false,
            "required": ["api_credentials"],
            "properties": {"api_credentials": refreshed_credentials},
        },
        "CredentialsResumed": success(&["workflow_id", "status", "resumed", "triggered", "status_check_url"], json!({
            "workflow_id": {"type": "string"},
            "status": {"enum": workflow_statuses()},
            "resumed": {"const": true},
            "triggered": {"type": "boolean"},
            "status_check_url": {"type": "string", "format": "uri"},
        })),
        "ForceSync": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "sync_scope": nullable(text(1, 64)),
                "include_rag_update": {"type": "boolean"},
                "triggered_by": nullable(text(1, 128)),
                "client_context": {"type": ["object", "null"], "properties": {"workflow_id": nullable(text(1, 128))}, "description": "Free-form; its `workflow_id` picks the workflow (default: the latest)."},
            },
        },
        "ForceSyncAccepted": success(&["workflow_id", "sync_id", "already_in_flight", "state"], json!({
            "workflow_id": {"type": "string"},
            "sync_id": {"type": "string"},
            "already_in_flight": {"type": "boolean"},
            "state": {"type": "string"},
        })),
        "AgentEvent": {
            "type": "object",
            "required": ["workflow_id", "agent_id", "execution_status"],
            "description": "One agent's event, signed with `X-OSA-Signature`. `agent_data` is required when the agent completed; `metadata.optimizely_refused` only with a failure.",
            "properties": {
                "workflow_id": workflow_id(),
                "agent_id": {"enum": agents()},
                "execution_status": {"enum": ["started", "running", "completed", "failed", "pending", "success", "failure", "timeout"]},
                "execution_id": nullable(json!({"type": "string", "minLength": 1, "maxLength": 128})),
                "agent_data": nullable(schema_ref("AgentOutput")),
                "offset": nullable(json!({"type": "integer", "minimum": 0, "maximum": u64::MAX})),
                "timestamp": nullable(timestamp()),
                "correlation_id": nullable(json!({"type": "string", "minLength": 1, "maxLength": 128})),
                "environment": nullable(json!({"type": "string"})),
                "metadata": nullable(json!({
                    "type": "object",
                    "properties": {
                        "timestamp": nullable(timestamp()),
                        "execution_duration_ms": nullable(json!({"type": "number", "minimum": 0, "maximum": 86_400_000})),
                        "confidence_score": nullable(json!({"type": "number", "minimum": 0, "maximum": 1})),
                        "data_sources": nullable(json!({"type": "array", "items": {"type": "string"}})),
                        "error": nullable(json!({"type": "string"})),
                        "optimizely_refused": nullable(schema_ref("RefusedService")),
                    },
                })),
            },
            "allOf": [
                {
                    "if": {"required": ["execution_status"], "properties": {"execution_status": {"enum": ["completed", "success"]}}},
                    "then": {"required": ["agent_data"], "properties": {"agent_data": schema_ref("AgentOutput")}},
                },
                {
                    "if": {"required": ["metadata"], "properties": {"metadata": {"type": "object", "required": ["optimizely_refused"],
                        "properties": {"optimizely_refused": {"not": {"type": "null"}}}}}},
                    "then": {"properties": {"execution_status": {"enum": ["failed", "failure"]}}},
                },
            ],
        },
        "AgentOutput": {
            "type": "object",
            "required": ["hero", "overview", "insights", "opportunities", "nextSteps", "meta"],
            "properties": {
                "hero": object(&["title", "promise", "metrics", "confidence"], json!({
                    "title": text(1, 200), "promise": text(1, 200),
                    "metrics": {"type": "array", "minItems": 3, "maxItems": 3, "items": object(&["label", "value"], json!({
                        "label": text(1, 200), "value": text(1, 200), "hint": nullable(json!({"type": "string"})),
                    }))},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 100},
                    "confidenceNote": nullable(json!({"type": "string"})),
                })),
                "overview": object(&["summary", "keyPoints"], json!({
                    "summary": text(1, 5000),
                    "keyPoints": {"type": "array", "minItems": 2, "maxItems": 4, "items": {"type": "string"}},
                })),
                "insights": {"type": "array", "items": object(&["title", "description", "bullets"], json!({
                    "title": text(1, 300), "description": {"type": "string"},
                    "bullets": {"type": "array", "items": {"type": "string"}},
                }))},
                "opportunities": {"type": "array", "items": object(&["label", "impactLevel", "effortLevel", "confidence"], json!({
                    "label": text(1, 300),
                    "impactLevel": {"enum": ["High", "Medium", "Low"]},
                    "effortLevel": {"enum": ["High", "Medium", "Low"]},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 100},
                }))},
                "nextSteps": {"type": "array", "minItems": 2, "items": object(&["label"], json!({
                    "label": text(1, 300), "ownerHint": nullable(json!({"type": "string"})), "timeframeHint": nullable(json!({"type": "string"})),
                }))},
                "meta": object(&["tier", "agents", "maturity", "lastUpdated"], json!({
                    "tier": {"enum": ["strategy", "insights", "optimization", "dxptools"]},
                    "agents": {"type": "array", "items": {"type": "string"}},
                    "maturity": {"enum": ["crawl", "walk", "run", "fly"]},
                    "lastUpdated": timestamp(),
                })),
            },
        },
        "EventAccepted": success(&["message", "event_id", "duplicate"], json!({
            "message": {"type": "string"},
            "event_id": {"type": "string"},
            "duplicate": {"type": "boolean"},
            "state_changed": {"type": "boolean"},
            "agent_status": {"enum": agent_statuses()},
            "workflow_status": {"enum": workflow_statuses()},
        })),
        "Workflow": success(&["workflow_id", "status", "run", "agents", "progress", "progress_percent", "created_at", "updated_at"], json!({
            "workflow_id": {"type": "string"},
            "correlation_id": {"type": "string"},
            "status": {"enum": workflow_statuses()},
            "run": {"type": "integer", "minimum": 0},
            "progress_percent": {"type": "integer", "minimum": 0, "maximum": 100},
            "progress": object(&["completed", "failed", "pending", "running", "timed_out"], json!({
                "completed": {"type": "integer"}, "failed": {"type": "integer"}, "pending": {"type": "integer"},
                "running": {"type": "integer"}, "timed_out": {"type": "integer"},
            })),
            "agents": {"type": "array", "items": object(&["agent", "status", "max_duration_secs"], json!({
                "agent": {"enum": agents()},
                "status": {"enum": agent_statuses()},
                "max_duration_secs": {"type": "integer"},
                "deadline_at": nullable(timestamp()),
                "started_at": nullable(timestamp()),
                "finished_at": nullable(timestamp()),
                "confidence": nullable(json!({"type": "number"})),
            }))},
            "results": {"type": "array", "items": object(&["agent", "event_id", "received_at", "agent_data"], json!({
                "agent": {"enum": agents()},
                "event_id": {"type": "string"},
                "received_at": timestamp(),
                "agent_data": {"type": "object"},
            }))},
            "created_at": timestamp(),
            "updated_at": timestamp(),
            "finished_at": nullable(timestamp()),
        })),
        "Report": success(&["workflow_id", "status", "final", "summary", "recommendations", "roadmap", "coverage"], json!({
            "workflow_id": {"type": "string"},
            "status": {"enum": workflow_statuses()},
            "final": {"type": "boolean", "description": "False while agents are still working: the report so far."},
            "run": {"type": "integer", "minimum": 0},
            "summary": object(&["headline", "agents_expected", "agents_reporting"], json!({
                "headline": {"type": "string"},
                "agents_expected": {"type": "integer"},
                "agents_reporting": {"type": "integer"},
                "overall_confidence": nullable(json!({"type": "number"})),
            })),
            "recommendations": {"type": "array", "items": schema_ref("Recommendation")},
            "backlog": {"type": "array", "items": schema_ref("Recommendation")},
            "roadmap": {"type": "array", "items": object(&["phase", "name", "start_day", "end_day", "recommendations"], json!({
                "phase": {"type": "integer"}, "name": {"type": "string"},
                "start_day": {"type": "integer"}, "end_day": {"type": "integer"},
                "recommendations": {"type": "array"},
            }))},
            "coverage": {"type": "array", "items": object(&["agent", "status"], json!({
                "agent": {"enum": agents()}, "status": {"enum": agent_statuses()},
            }))},
            "warnings": {"type": "array", "items": object(&["code", "message"], json!({
                "code": {"type": "string"}, "message": {"type": "string"},
            }))},
        })),
        "Recommendation": object(&["rank", "label", "score", "impact", "effort", "confidence", "supporting_agents"], json!({
            "rank": {"type": "integer", "minimum": 1},
            "label": {"type": "string"},
            "score": {"type": "number"},
            "impact": {"enum": ["High", "Medium", "Low"]},
            "effort": {"enum": ["High", "Medium", "Low"]},
            "confidence": {"type": "number"},
            "supporting_agents": {"type": "array", "items": {"enum": agents()}},
            "phase": nullable(json!({"type": "integer"})),
        })),
        "Erased": success(&["workflow_id", "erased_items"], json!({
            "workflow_id": {"type": "string"}, "erased_items": {"type": "integer", "minimum": 0},
        })),
        "AuditPage": success(&["entries", "next"], json!({
            "entries": {"type": "array", "items": {"type": "object"}},
            "next": nullable(json!({"type": "string", "description": "Pass as `cursor` for the next page."})),
        })),
        "WebhookEventsPage": success(&["events", "next"], json!({
            "workflow_id": {"type": "string"},
            "unattributed_on": {"type": "string", "format": "date"},
            "events": {"type": "array", "items": object(&["outcome", "http_status", "received_at", "body_sha256"], json!({
                "outcome": {"type": "string"}, "http_status": {"type": "integer"},
                "received_at": timestamp(), "body_sha256": {"type": "string"},
            }))},
            "next": nullable(json!({"type": "string"})),
        })),
        "RecentStatus": object(&["lastWebhookAt", "lastAgentDataAt", "lastForceSyncAt", "lastWorkflowStatus", "lastWorkflowId"], json!({
            "lastWebhookAt": nullable(timestamp()),
            "lastAgentDataAt": nullable(timestamp()),
            "lastForceSyncAt": nullable(timestamp()),
            "lastWorkflowStatus": nullable(json!({"type": "string"})),
            "lastWorkflowId": nullable(json!({"type": "string"})),
        })),
        "HealthProbe": object(&["service", "status", "timestamp", "version"], json!({
            "service": {"type": "string"},
            "status": {"type": "string"},
            "timestamp": timestamp(),
            "version": {"type": "string"},
            "response_time_ms": {"type": "integer"},
        })),
        "GuardrailsHealth": success(&["report"], json!({"report": nullable(json!({"type": "object"}))})),
        "Alerts": object(&["firing", "rules", "maintenance"], json!({
            "firing": {"type": "array"}, "recent": {"type": "array"}, "rules": {"type": "array"},
            "maintenance": {"type": "object"},
        })),
        "Maintenance": {
            "type": "object",
            "additionalProperties": false,
            "required": ["scheduled"],
            "properties": {
                "scheduled": {"type": "boolean", "description": "The weekly window (Sunday 02:00-04:00 UTC) applies."},
                "manual_until": nullable(timestamp()),
            },
        },
        "MaintenanceState": success(&["active", "settings"], json!({
            "active": {"type": "boolean"}, "settings": schema_ref("Maintenance"),
        })),
        "Monitoring": success(&["window"], json!({"window": {"type": "object"}})),
        "DeadLetters": success(&["count", "deliveries"], json!({
            "count": {"type": "integer"}, "deliveries": {"type": "array", "items": {"type": "object"}},
        })),
        "Delivery": success(&["delivery"], json!({"delivery": {"type": "object"}})),
        "Redriven": success(&["delivery_id", "run", "status"], json!({
            "delivery_id": uuid(), "run": {"type": "integer"}, "status": {"type": "string"},
        })),
        "RedrivenAll": success(&["redriven", "delivery_ids", "skipped"], json!({
            "redriven": {"type": "integer"}, "delivery_ids": {"type": "array", "items": uuid()},
            "skipped": {"type": "array", "items": uuid()},
        })),
    });
    match schemas {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
