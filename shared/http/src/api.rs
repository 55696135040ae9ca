//! The bodies the API answers that are the edge's own: a use case's result in
//! the shape a client reads (with the URLs it follows), and the envelope every
//! JSON success and error wears. The app's read models answer as they are. Each
//! type is also its schema in the OpenAPI document (`openapi`).

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};
use uuid::Uuid;

use osa_app::Services;
use osa_app::credentials::Resumed;
use osa_app::delivery::dead_letter::{DeadLetter, DeliveryView, RedriveAll};
use osa_app::intake::Submitted;
use osa_app::webhook::Ingested;
use osa_domain::delivery::{Delivery, DeliveryStatus};
use osa_domain::validation::FieldError;
use osa_domain::workflow::{AgentStatus, RefusedService, WorkflowStatus};

use super::ApiError;

/// A boolean that is always `B`: the `success` of every JSON answer.
pub struct Flag<const B: bool>;

impl<const B: bool> Serialize for Flag<B> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(B)
    }
}

impl<const B: bool> JsonSchema for Flag<B> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("Flag_{B}").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"const": B})
    }
}

/// A successful JSON answer: `"success": true` and the body's own fields.
#[derive(Serialize)]
pub struct Success<T> {
    success: Flag<true>,
    #[serde(flatten)]
    body: T,
}

/// The body's schema (named after the body) with `success` added.
impl<T: JsonSchema> JsonSchema for Success<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("Success_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let body = generator.subschema_for::<T>();
        json_schema!({
            "type": "object",
            "allOf": [body],
            "required": ["success"],
            "properties": {"success": {"const": true}},
        })
    }
}

/// `body` as a successful JSON answer.
pub fn success<T>(body: T) -> Success<T> {
    Success {
        success: Flag,
        body,
    }
}

impl<T: Serialize> IntoResponse for Success<T> {
    fn into_response(self) -> Response {
        json_response(&self)
    }
}

/// `value` as `application/json`; a value that cannot be written is a 500 in
/// the error shape, never a plain-text one.
pub(crate) fn json_response(value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "response not serialisable");
            ApiError::internal().into_response()
        }
    }
}

/// Every error: `{"success": false, "error": {"code", "message", "details"}}`.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody<'a> {
    pub success: Flag<false>,
    pub error: ErrorDetail<'a>,
}

#[derive(Serialize, JsonSchema)]
pub struct ErrorDetail<'a> {
    /// Stable, machine-readable: `validation_failed`, `invalid_json`,
    /// `not_found`, `unauthorized`, `rate_limited`, `service_unavailable`, …
    pub code: &'a str,
    pub message: &'a str,
    /// One per field that broke the schema, when that is the trouble.
    pub details: &'a [FieldError],
}

/// `POST /api/strategy/intake`: the workflow, and where to follow it.
#[derive(Serialize, JsonSchema)]
pub struct IntakeAccepted {
    pub workflow_id: String,
    pub correlation_id: String,
    pub estimated_completion_minutes: u32,
    #[schemars(url)]
    pub webhook_url: String,
    #[schemars(url)]
    pub status_check_url: String,
    pub status: WorkflowStatus,
    /// False when the same intake was submitted before.
    pub created: bool,
    /// Present when Optimizely refused the keys: the workflow is paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<CredentialsRefused>,
}

#[derive(Serialize, JsonSchema)]
pub struct CredentialsRefused {
    pub valid: Flag<false>,
    pub refused: Vec<RefusedService>,
    pub message: &'static str,
    /// Where refreshed keys go.
    #[schemars(url)]
    pub resume_url: String,
}

impl IntakeAccepted {
    pub fn new(services: &Services, submitted: Submitted) -> Self {
        let w = submitted.workflow;
        let credentials = (w.status() == WorkflowStatus::CredentialsInvalid).then(|| {
            CredentialsRefused {
                valid: Flag,
                refused: w
                    .credentials_pause()
                    .map(|p| p.refused.clone())
                    .unwrap_or_default(),
                message: "Optimizely refused these credentials; the workflow is paused until refreshed ones are posted to resume_url",
                resume_url: services.credentials_url(w.id()),
            }
        });
        IntakeAccepted {
            webhook_url: services.webhook_url(),
            status_check_url: services.status_url(w.id()),
            workflow_id: w.id().to_owned(),
            correlation_id: w.correlation_id().to_owned(),
            estimated_completion_minutes: w.estimated_completion_minutes(),
            status: w.status(),
            created: submitted.created,
            credentials,
        }
    }
}

/// Refreshed keys were accepted and the workflow resumed.
#[derive(Serialize, JsonSchema)]
pub struct CredentialsResumed {
    pub workflow_id: String,
    pub status: WorkflowStatus,
    pub resumed: Flag<true>,
    /// The OPAL trigger was queued (it had never been accepted).
    pub triggered: bool,
    #[schemars(url)]
    pub status_check_url: String,
}

impl CredentialsResumed {
    pub fn new(services: &Services, resumed: Resumed) -> Self {
        let w = resumed.workflow;
        CredentialsResumed {
            status_check_url: services.status_url(w.id()),
            workflow_id: w.id().to_owned(),
            status: w.status(),
            resumed: Flag,
            triggered: resumed.triggered,
        }
    }
}

/// A webhook event stored, or recognised as one stored before.
#[derive(Serialize, JsonSchema)]
pub struct EventAccepted {
    pub message: &'static str,
    pub event_id: String,
    pub duplicate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_changed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_status: Option<AgentStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_status: Option<WorkflowStatus>,
}

impl EventAccepted {
    /// The answer and its status: `202` stored, `200` a duplicate.
    pub fn of(ingested: Ingested) -> (StatusCode, Self) {
        match ingested {
            Ingested::Accepted {
                event_id,
                agent_status,
                state_changed,
                workflow_status,
            } => (
                StatusCode::ACCEPTED,
                EventAccepted {
                    message: "event accepted",
                    event_id,
                    duplicate: false,
                    state_changed: Some(state_changed),
                    agent_status: Some(agent_status),
                    workflow_status: Some(workflow_status),
                },
            ),
            Ingested::Duplicate { event_id } => (
                StatusCode::OK,
                EventAccepted {
                    message: "duplicate event ignored",
                    event_id,
                    duplicate: true,
                    state_changed: None,
                    agent_status: None,
                    workflow_status: None,
                },
            ),
        }
    }
}

/// The dead-letter queue.
#[derive(Serialize, JsonSchema)]
pub struct DeadLetters {
    pub count: usize,
    pub deliveries: Vec<DeadLetter>,
}

impl From<Vec<DeadLetter>> for DeadLetters {
    fn from(deliveries: Vec<DeadLetter>) -> Self {
        DeadLetters {
            count: deliveries.len(),
            deliveries,
        }
    }
}

/// One delivery with every attempt.
#[derive(Serialize, JsonSchema)]
pub struct DeliveryFound {
    pub delivery: DeliveryView,
}

/// A fresh run of attempts was queued for a dead letter.
#[derive(Serialize, JsonSchema)]
pub struct Redriven {
    pub delivery_id: Uuid,
    /// The new run's number (how many times it was redriven).
    pub run: u32,
    pub status: DeliveryStatus,
}

impl From<Delivery> for Redriven {
    fn from(d: Delivery) -> Self {
        Redriven {
            delivery_id: d.id,
            run: d.redrives,
            status: d.status,
        }
    }
}

/// What "redrive all" did.
#[derive(Serialize, JsonSchema)]
pub struct RedrivenAll {
    pub redriven: usize,
    pub delivery_ids: Vec<Uuid>,
    /// Listed but no longer dead-lettered when redriven (someone else was first).
    pub skipped: Vec<Uuid>,
}

impl From<RedriveAll> for RedrivenAll {
    fn from(done: RedriveAll) -> Self {
        RedrivenAll {
            redriven: done.redriven.len(),
            delivery_ids: done.redriven,
            skipped: done.skipped,
        }
    }
}
