//! Agent webhook payloads: both vocabularies parsed, validated and normalised.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::agent_output::{AgentOutput, validate_agent_output};
use super::agents::AgentId;
use super::canonical::canonical_hash;
use super::ids::WorkflowId;
use super::schema::{NOT_BLANK, Timestamp, names};
use super::validation::{FieldError, InvalidBody, Violations, optional_object, parse_json};

/// What an event says happened to an agent, whichever vocabulary it used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Started,
    Progress,
    Completed,
    Failed,
    TimedOut,
}

/// Every `execution_status` a webhook may send, in both vocabularies.
pub const EXECUTION_STATUSES: [&str; 8] = [
    "started",
    "running",
    "completed",
    "failed",
    "pending",
    "success",
    "failure",
    "timeout",
];

impl EventKind {
    /// The spec's `started|running|completed|failed` and the real senders'
    /// `pending|success|failure|timeout`.
    pub fn parse(status: &str) -> Option<EventKind> {
        Some(match status {
            "started" | "pending" => EventKind::Started,
            "running" => EventKind::Progress,
            "completed" | "success" => EventKind::Completed,
            "failed" | "failure" => EventKind::Failed,
            "timeout" => EventKind::TimedOut,
            _ => return None,
        })
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Started => "started",
            EventKind::Progress => "progress",
            EventKind::Completed => "completed",
            EventKind::Failed => "failed",
            EventKind::TimedOut => "timed_out",
        }
    }
}

/// The webhook's body: one agent's event, signed with `X-OSA-Signature`.
/// `agent_data` is required when the agent completed; `metadata.optimizely_refused`
/// only with a failure.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "AgentEvent", transform = event_rules)]
pub struct EventWire {
    #[schemars(with = "WorkflowId")]
    workflow_id: String,
    #[schemars(with = "AgentId")]
    agent_id: String,
    #[schemars(schema_with = "execution_status")]
    execution_status: String,
    #[serde(default)]
    #[schemars(length(min = 1, max = MAX_ID_LEN), pattern(NOT_BLANK))]
    execution_id: Option<String>,
    #[serde(default)]
    #[schemars(with = "Option<AgentOutput>")]
    agent_data: Option<Value>,
    #[serde(default, deserialize_with = "whole_number")]
    #[schemars(range(max = u64::MAX))]
    offset: Option<u64>,
    #[serde(default)]
    #[schemars(with = "Option<Timestamp>")]
    timestamp: Option<String>,
    #[serde(default, deserialize_with = "optional_object")]
    metadata: Option<MetadataWire>,
    #[serde(default)]
    #[schemars(length(min = 1, max = MAX_ID_LEN), pattern(NOT_BLANK))]
    correlation_id: Option<String>,
    #[serde(default)]
    environment: Option<String>,
}

fn execution_status(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    names(EXECUTION_STATUSES)
}

/// What the fields alone cannot say: a completed agent sends its `agent_data`,
/// and only a failure names a service that refused its key.
fn event_rules(schema: &mut schemars::Schema) {
    let output = schema
        .get("properties")
        .and_then(|p| p.get("agent_data"))
        .and_then(|d| d.get("anyOf"))
        .and_then(|any| any.as_array())
        .and_then(|any| any.iter().find(|s| s.get("$ref").is_some()))
        .cloned();
    let Some(output) = output else {
        return;
    };
    schema.insert(
        "allOf".into(),
        serde_json::json!([
            {
                "if": {"required": ["execution_status"], "properties": {"execution_status": {"enum": ["completed", "success"]}}},
                "then": {"required": ["agent_data"], "properties": {"agent_data": output}},
            },
            {
                "if": {"required": ["metadata"], "properties": {"metadata": {"type": "object", "required": ["optimizely_refused"],
                    "properties": {"optimizely_refused": {"not": {"type": "null"}}}}}},
                "then": {"properties": {"execution_status": {"enum": ["failed", "failure"]}}},
            },
        ]),
    );
}

/// One Optimizely service that refused its key: its name (`odp`,
/// `experimentation`, `content_recs`, `cmp`) and the HTTP status it answered.
/// Found by the intake's check, or reported by an agent mid-run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RefusedService {
    #[schemars(schema_with = "optimizely_service")]
    pub service: String,
    #[schemars(extend("enum" = [401, 403]))]
    pub status: u16,
}

fn optimizely_service(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    names(OPTIMIZELY_SERVICES)
}

/// The Optimizely services by name (`credentials::OptimizelyService`, which
/// this module cannot name without a cycle; a test keeps the two equal).
pub const OPTIMIZELY_SERVICES: [&str; 4] = ["odp", "experimentation", "content_recs", "cmp"];

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "AgentEventMetadata")]
struct MetadataWire {
    #[serde(default)]
    #[schemars(with = "Option<Timestamp>")]
    timestamp: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 0, max = 86_400_000))]
    execution_duration_ms: Option<f64>,
    #[serde(default)]
    #[schemars(range(min = 0, max = 1))]
    confidence_score: Option<f64>,
    #[serde(default)]
    data_sources: Option<Vec<String>>,
    #[serde(default)]
    error: Option<String>,
    /// A failure because Optimizely refused the workflow's key mid-run
    /// (scenario C): `{"service": "odp", "status": 401}`.
    #[serde(default, deserialize_with = "optional_object")]
    optimizely_refused: Option<RefusedService>,
}

/// A validated, normalised agent event.
#[derive(Clone, Debug)]
pub struct AgentEvent {
    pub workflow_id: String,
    pub agent: AgentId,
    pub kind: EventKind,
    pub execution_id: Option<String>,
    pub offset: Option<u64>,
    pub occurred_at: Option<OffsetDateTime>,
    pub duration_ms: Option<u64>,
    /// Unified to 0..=1, from `metadata.confidence_score` or the hero's 0..100.
    pub confidence: Option<f64>,
    pub data_sources: Vec<String>,
    pub correlation_id: Option<String>,
    pub environment: Option<String>,
    pub error: Option<String>,
    /// The agent failed because Optimizely refused the key (401/403).
    pub optimizely_refused: Option<RefusedService>,
    /// The `agent_data` of a completed agent (validated as an `AgentOutput`),
    /// stored as received after redaction. Shared, not copied, on its way
    /// to the store: it is most of the body.
    pub agent_data: Option<Arc<Value>>,
    /// Identity for de-duplication: the execution id where there is one, else a
    /// content hash. Scoped to the workflow.
    pub dedup_key: String,
    /// Derived from the dedup key, so a duplicate maps to the same event id.
    pub event_id: String,
}

const MAX_ID_LEN: usize = 128;

/// De-duplication key prefix of the timeouts OSA records itself.
const DEADLINE_KEY: &str = "deadline:";
/// De-duplication key prefix of a Standard Webhooks message id.
const MESSAGE_KEY: &str = "webhook-id:";

impl AgentEvent {
    /// OSA recorded it itself (a deadline); no webhook sent it.
    pub fn is_internal(&self) -> bool {
        self.dedup_key.starts_with(DEADLINE_KEY)
    }

    /// The reason an accepted event gets in the audit trail.
    pub fn accepted_reason(&self) -> &'static str {
        if self.is_internal() {
            "deadline_expired"
        } else {
            "accepted"
        }
    }

    /// The event as the Standard Webhooks message `message_id` (verified):
    /// the sender's id for the message is its de-duplication key, so the same
    /// message sent again is a duplicate whatever its body.
    pub fn keyed_by_message(mut self, message_id: &str) -> AgentEvent {
        self.dedup_key = format!("{MESSAGE_KEY}{message_id}");
        self.event_id = event_id(&self.workflow_id, &self.dedup_key);
        self
    }

    /// The event OSA records itself when an agent's deadline passes without a
    /// result. Its identity is fixed per agent and run, so a repeated check is a
    /// duplicate while a later run (a Force Sync) times out afresh.
    pub fn deadline_expired(
        workflow_id: &str,
        agent: AgentId,
        allowed_ms: u64,
        run: u32,
    ) -> AgentEvent {
        let dedup_key = match run {
            0 => format!("{DEADLINE_KEY}{}", agent.as_str()),
            n => format!("{DEADLINE_KEY}{n}:{}", agent.as_str()),
        };
        AgentEvent {
            workflow_id: workflow_id.to_owned(),
            agent,
            kind: EventKind::TimedOut,
            execution_id: None,
            offset: None,
            occurred_at: None,
            duration_ms: None,
            confidence: None,
            data_sources: Vec::new(),
            correlation_id: None,
            environment: None,
            error: Some(format!(
                "no result within the agent's deadline ({} s)",
                allowed_ms / 1000
            )),
            optimizely_refused: None,
            agent_data: None,
            event_id: event_id(workflow_id, &dedup_key),
            dedup_key,
        }
    }
}

/// Parses and validates a webhook body (already signature-verified).
/// A whole number, written `16` or `16.0` (JSON does not tell them apart, and
/// neither does JSON Schema's `integer`).
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    match (n.as_u64(), n.as_f64()) {
        (Some(n), _) => Ok(Some(n)),
        (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 => {
            Ok(Some(f as u64))
        }
        _ => Err(serde::de::Error::custom(
            "must be a whole number of at least 0",
        )),
    }
}

pub fn parse_agent_event(body: &[u8]) -> Result<AgentEvent, InvalidBody> {
    let wire: EventWire = parse_json(body)?;
    normalise(wire).map_err(InvalidBody::Schema)
}

fn normalise(wire: EventWire) -> Result<AgentEvent, Vec<FieldError>> {
    let mut v = Violations::at("");
    if !WorkflowId::is_valid(&wire.workflow_id) {
        v.push("workflow_id", super::ids::InvalidWorkflowId.to_string());
    }
    id_field(&mut v, "execution_id", wire.execution_id.as_deref());
    id_field(&mut v, "correlation_id", wire.correlation_id.as_deref());
    let agent = AgentId::parse(&wire.agent_id);
    if agent.is_none() {
        v.push("agent_id", "is not one of the nine OPAL agents");
    }
    let kind = EventKind::parse(&wire.execution_status);
    if kind.is_none() {
        v.push(
            "execution_status",
            "must be one of started, running, completed, failed (or pending, success, failure, timeout)",
        );
    }
    let meta = wire.metadata.unwrap_or_default();
    // Both are checked when both are given; the top-level one wins.
    let mut timestamp = |path: &str, value: Option<&str>| {
        let parsed = value.map(|ts| OffsetDateTime::parse(ts, &Rfc3339));
        if let Some(Err(_)) = parsed {
            v.push(path, "must be an ISO 8601 (RFC 3339) timestamp");
        }
        parsed.and_then(Result::ok)
    };
    let top = timestamp("timestamp", wire.timestamp.as_deref());
    let in_metadata = timestamp("metadata.timestamp", meta.timestamp.as_deref());
    let occurred_at = top.or(in_metadata);
    if let Some(c) = meta.confidence_score {
        v.range("metadata.confidence_score", c, 0.0, 1.0);
    }
    if let Some(refused) = &meta.optimizely_refused {
        if kind != Some(EventKind::Failed) {
            v.push(
                "metadata.optimizely_refused",
                "is only for a failed execution_status",
            );
        }
        if !OPTIMIZELY_SERVICES.contains(&refused.service.as_str()) {
            v.push(
                "metadata.optimizely_refused.service",
                "must be one of odp, experimentation, content_recs, cmp",
            );
        }
        if !matches!(refused.status, 401 | 403) {
            v.push("metadata.optimizely_refused.status", "must be 401 or 403");
        }
    }
    let duration_ms = match meta.execution_duration_ms {
        Some(d) if !(0.0..=86_400_000.0).contains(&d) => {
            v.push(
                "metadata.execution_duration_ms",
                "must be between 0 and 86400000",
            );
            None
        }
        Some(d) => Some(d as u64),
        None => None,
    };

    // Of the validated output only the hero's confidence is kept: the stored
    // result is `agent_data` itself.
    let mut hero_confidence = None;
    if kind == Some(EventKind::Completed) {
        match &wire.agent_data {
            None | Some(Value::Null) => v.push("agent_data", "is required when an agent completes"),
            Some(data) => match validate_agent_output(data) {
                Ok(output) => hero_confidence = Some(output.hero.confidence / 100.0),
                Err(errors) => {
                    for e in errors {
                        v.push(e.path, e.message);
                    }
                }
            },
        }
    }
    let (Some(agent), Some(kind)) = (agent, kind) else {
        // Parsing either failed, which pushed a violation already.
        return Err(v.into_errors());
    };
    v.into_result(())?;

    let confidence = meta.confidence_score.or(hero_confidence);
    let error = meta.error.or_else(|| {
        wire.agent_data
            .as_ref()
            .and_then(|d| d.get("error"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let agent_data = if kind == EventKind::Completed {
        wire.agent_data.map(Arc::new)
    } else {
        None
    };
    let dedup_key = dedup_key(
        &wire.workflow_id,
        agent,
        kind,
        wire.execution_id.as_deref(),
        wire.offset,
        agent_data.as_deref(),
    );
    let event_id = event_id(&wire.workflow_id, &dedup_key);
    Ok(AgentEvent {
        workflow_id: wire.workflow_id,
        agent,
        kind,
        execution_id: wire.execution_id,
        offset: wire.offset,
        occurred_at,
        duration_ms,
        confidence,
        data_sources: meta.data_sources.unwrap_or_default(),
        correlation_id: wire.correlation_id,
        environment: wire.environment,
        error: error.map(|e| e.chars().take(500).collect()),
        optimizely_refused: meta.optimizely_refused,
        agent_data,
        dedup_key,
        event_id,
    })
}

fn id_field(v: &mut Violations, path: &str, value: Option<&str>) {
    if let Some(s) = value
        && (s.trim().is_empty() || s.len() > MAX_ID_LEN)
    {
        v.push(
            path,
            format!("must be a non-empty string of at most {MAX_ID_LEN} bytes"),
        );
    }
}

/// The execution id (with status and offset) where there is one; otherwise a hash
/// of workflow, agent, status, offset and the canonical `agent_data`.
fn dedup_key(
    workflow_id: &str,
    agent: AgentId,
    kind: EventKind,
    execution_id: Option<&str>,
    offset: Option<u64>,
    agent_data: Option<&Value>,
) -> String {
    let offset = offset.map_or_else(|| "-".to_owned(), |o| o.to_string());
    match execution_id {
        Some(x) => format!("x:{x}:{}:{}:{offset}", agent.as_str(), kind.as_str()),
        None => {
            let data = agent_data.map_or_else(|| "null".to_owned(), canonical_hash);
            let material = format!(
                "{workflow_id}\0{}\0{}\0{offset}\0{data}",
                agent.as_str(),
                kind.as_str()
            );
            format!("h:{}", hex::encode(Sha256::digest(material.as_bytes())))
        }
    }
}

fn event_id(workflow_id: &str, dedup_key: &str) -> String {
    let digest = Sha256::digest(format!("{workflow_id}\0{dedup_key}").as_bytes());
    format!("evt_{}", &hex::encode(digest)[..32])
}

/// Pulls the workflow id out of a body that failed verification, for indexing the
/// audit entry only. Never trusted for anything else.
pub fn sniff_workflow_id(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Sniff {
        workflow_id: Option<String>,
    }
    serde_json::from_slice::<Sniff>(body)
        .ok()?
        .workflow_id
        .filter(|s| WorkflowId::is_valid(s))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::agent_output::tests::sample;
    use serde_json::json;

    pub(crate) fn completed(workflow_id: &str, agent: &str) -> Value {
        json!({
            "workflow_id": workflow_id,
            "execution_id": format!("exec-{agent}"),
            "execution_status": "completed",
            "agent_id": agent,
            "agent_data": sample(),
            "metadata": {"timestamp": "2026-11-25T10:00:00Z", "execution_duration_ms": 4200,
                          "confidence_score": 0.87, "data_sources": ["cms"]},
            "correlation_id": "corr-1"
        })
    }

    fn parse(v: &Value) -> Result<AgentEvent, InvalidBody> {
        parse_agent_event(v.to_string().as_bytes())
    }

    fn paths(v: &Value) -> Vec<String> {
        match parse(v) {
            Err(InvalidBody::Schema(e)) => e.into_iter().map(|e| e.path).collect(),
            other => panic!("expected schema errors, got {other:?}"),
        }
    }

    #[test]
    fn every_listed_execution_status_is_read() {
        for status in EXECUTION_STATUSES {
            assert!(EventKind::parse(status).is_some(), "{status}");
        }
    }

    #[test]
    fn the_spec_vocabulary_is_normalised() {
        let ev = parse(&completed("wf-1", "content_review")).unwrap();
        assert_eq!(ev.agent, AgentId::ContentReview);
        assert_eq!(ev.kind, EventKind::Completed);
        assert_eq!(ev.confidence, Some(0.87));
        assert_eq!(ev.duration_ms, Some(4200));
        assert!(ev.agent_data.is_some());
        assert!(ev.dedup_key.starts_with("x:exec-content_review:"));
    }

    #[test]
    fn the_real_senders_vocabulary_is_normalised() {
        let body = json!({
            "workflow_id": "wf-1", "agent_id": "personalization_generator",
            "execution_status": "success", "agent_data": sample(), "offset": 3,
            "timestamp": "2026-11-25T10:00:00.123Z", "environment": "production"
        });
        let ev = parse(&body).unwrap();
        assert_eq!(ev.agent, AgentId::PersonalizationIdeaGenerator);
        assert_eq!(ev.kind, EventKind::Completed);
        assert_eq!(
            ev.confidence,
            Some(0.82),
            "falls back to hero.confidence / 100"
        );
        assert!(ev.dedup_key.starts_with("h:"));
        for (status, kind) in [
            ("pending", EventKind::Started),
            ("failure", EventKind::Failed),
            ("timeout", EventKind::TimedOut),
            ("running", EventKind::Progress),
        ] {
            let ev = parse(&json!({"workflow_id": "w", "agent_id": "geo_audit", "execution_status": status, "offset": null})).unwrap();
            assert_eq!(ev.kind, kind);
        }
    }

    #[test]
    fn content_hash_ignores_key_order_and_tracks_content() {
        let a = parse(&json!({"workflow_id": "w", "agent_id": "geo_audit", "execution_status": "success", "agent_data": sample(), "offset": 1})).unwrap();
        let b = parse_agent_event(format!(
            r#"{{"offset":1,"agent_data":{},"execution_status":"success","agent_id":"geo_audit","workflow_id":"w"}}"#,
            sample()
        ).as_bytes()).unwrap();
        assert_eq!(a.event_id, b.event_id);
        let c = parse(&json!({"workflow_id": "w", "agent_id": "geo_audit", "execution_status": "success", "agent_data": sample(), "offset": 2})).unwrap();
        assert_ne!(a.event_id, c.event_id);
    }

    #[test]
    fn a_completed_agent_needs_valid_agent_data() {
        let mut v = completed("w", "geo_audit");
        v.as_object_mut().unwrap().remove("agent_data");
        assert_eq!(paths(&v), vec!["agent_data"]);
        let mut v = completed("w", "geo_audit");
        v["agent_data"]["hero"]["metrics"] = json!([]);
        assert_eq!(paths(&v), vec!["agent_data.hero.metrics"]);
    }

    #[test]
    fn bad_fields_report_their_paths() {
        let mut v = completed("", "nobody");
        v["execution_status"] = json!("exploded");
        v["metadata"]["confidence_score"] = json!(87);
        v["metadata"]["timestamp"] = json!("noon");
        assert_eq!(
            paths(&v),
            vec![
                "workflow_id",
                "agent_id",
                "execution_status",
                "metadata.timestamp",
                "metadata.confidence_score"
            ]
        );
        let mut v = completed("w", "geo_audit");
        v["offset"] = json!(-1);
        assert_eq!(paths(&v), vec!["offset"]);
    }

    /// Found by the API fuzzer: serde reads a struct from an array too, so
    /// `"metadata": [null, null]` and a whole body sent as an array were taken
    /// as events; a bad `metadata.timestamp` passed unchecked beside a good
    /// `timestamp`; `16.0` (an integer to JSON Schema) was refused as an offset.
    #[test]
    fn objects_are_objects_every_timestamp_is_checked_and_offsets_are_whole_numbers() {
        let mut v = completed("w", "geo_audit");
        v["metadata"] = json!([null, null]);
        assert_eq!(paths(&v), vec!["metadata"]);
        let mut v = completed("w", "geo_audit");
        v["metadata"] = json!({"optimizely_refused": ["odp", 401]});
        v["execution_status"] = json!("failed");
        assert_eq!(paths(&v), vec!["metadata.optimizely_refused"]);
        let as_array = json!(["w", "geo_audit", "started"]);
        assert!(matches!(
            parse_agent_event(as_array.to_string().as_bytes()),
            Err(InvalidBody::Schema(_))
        ));
        let mut v = completed("w", "geo_audit");
        v["agent_data"]["hero"] = json!(["title", "promise", [], 80]);
        assert_eq!(paths(&v), vec!["agent_data.hero"]);

        let mut v = completed("w", "geo_audit");
        v["timestamp"] = json!("2026-11-25T10:00:00Z");
        v["metadata"]["timestamp"] = json!("AAA");
        assert_eq!(paths(&v), vec!["metadata.timestamp"]);

        for (offset, whole) in [
            (json!(16.0), Some(16)),
            (json!(16), Some(16)),
            (json!(16.5), None),
            (json!(-1.0), None),
            (json!(u64::MAX), Some(u64::MAX)),
            (
                serde_json::from_str::<Value>("18446744073709551616").expect("json"),
                None,
            ),
        ] {
            let mut v = completed("w", "geo_audit");
            v["offset"] = offset.clone();
            match whole {
                Some(n) => {
                    let event = parse_agent_event(v.to_string().as_bytes()).expect("accepted");
                    assert_eq!(event.offset, Some(n), "{offset}");
                }
                None => assert_eq!(paths(&v), vec!["offset"], "{offset}"),
            }
        }
    }

    #[test]
    fn sniffing_is_lenient() {
        assert_eq!(
            sniff_workflow_id(br#"{"workflow_id":"abc","x":1}"#),
            Some("abc".into())
        );
        assert_eq!(sniff_workflow_id(b"not json"), None);
    }
}
