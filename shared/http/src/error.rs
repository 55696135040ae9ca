//! The one error shape every endpoint answers with:
//! `{"success":false,"error":{"code","message","details":[{"path","message"}]}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::{ErrorBody, ErrorDetail, Flag};
use osa_app::alerts::AlertActionError;
use osa_app::credentials::CredentialsError;
use osa_app::delivery::DeliveryOpError;
use osa_app::intake::IntakeError;
use osa_app::listing::ListError;
use osa_app::ports::{QueueError, StoreError};
use osa_app::recovery::RecoveryError;
use osa_app::stream::StreamError;
use osa_app::sync::SyncError;
use osa_app::webhook::WebhookError;
use osa_domain::access::AccessError;
use osa_domain::alerts::ActionError;
use osa_domain::validation::{FieldError, InvalidBody};
use osa_domain::workflow::RefusedService;

const INTERNAL_BODY: &[u8] = br#"{"success":false,"error":{"code":"internal_error","message":"an internal error occurred","details":[]}}"#;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request body exceeds {limit} bytes"),
        )
    }

    /// Never says more than this: details go to the log, not the client.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "storage is temporarily unavailable; retry later",
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Missing => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a bearer token is required",
            ),
            AccessError::Invalid(_) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the bearer token is not valid",
            ),
            AccessError::InsufficientScope(scope) => ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("the token lacks the {scope} scope"),
            ),
            AccessError::Unavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "identity_provider_unavailable",
                "bearer tokens cannot be verified right now; retry later",
            ),
            AccessError::Config(reason) => {
                tracing::error!(reason, "token verification is misconfigured");
                ApiError::internal()
            }
        }
    }
}

impl From<StreamError> for ApiError {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::NotFound(_) => ApiError::not_found("no such workflow"),
            e @ StreamError::UnknownCursor { .. } => {
                ApiError::bad_request("invalid_last_event_id", e.to_string())
            }
            StreamError::Store(e) => e.into(),
        }
    }
}

/// The OPAL trigger could not be built: the configuration is wrong, not the request.
fn trigger_unbuildable(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "the OPAL trigger cannot be built");
    ApiError::internal()
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Invalid(e) => e.into(),
            IntakeError::Conflict(id) => ApiError::conflict(
                "workflow_conflict",
                format!("workflow {id} already exists with a different intake"),
            ),
            IntakeError::Store(e) => e.into(),
            IntakeError::Queue(e) => e.into(),
            IntakeError::Trigger(e) => trigger_unbuildable(e),
        }
    }
}

impl From<CredentialsError> for ApiError {
    fn from(e: CredentialsError) -> Self {
        match e {
            CredentialsError::Invalid(e) => e.into(),
            CredentialsError::NotFound => ApiError::not_found("no such workflow"),
            CredentialsError::NotPaused(status) => ApiError::conflict(
                "workflow_not_paused",
                format!(
                    "the workflow is {}, not paused for credentials",
                    status.as_str()
                ),
            ),
            CredentialsError::StillInvalid(refused) => still_refused(&refused),
            CredentialsError::Store(e) => e.into(),
            CredentialsError::Queue(e) => e.into(),
            CredentialsError::Trigger(e) => trigger_unbuildable(e),
        }
    }
}

/// `422 credentials_invalid`, one detail per refusing service (never a key).
fn still_refused(refused: &[RefusedService]) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "credentials_invalid",
        "Optimizely still refuses these credentials; the workflow stays paused",
    );
    error.details = refused
        .iter()
        .map(|r| {
            FieldError::new(
                format!("api_credentials.{}_key", r.service),
                format!("refused by {} (HTTP {})", r.service, r.status),
            )
        })
        .collect();
    error
}

impl From<SyncError> for ApiError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Invalid(e) => e.into(),
            SyncError::NoWorkflow => ApiError::not_found("no workflow to sync"),
            e @ SyncError::CredentialsInvalid(_) => {
                ApiError::conflict("credentials_invalid", e.to_string())
            }
            SyncError::Store(e) => e.into(),
            SyncError::Queue(e) => e.into(),
        }
    }
}

impl From<DeliveryOpError> for ApiError {
    fn from(e: DeliveryOpError) -> Self {
        match e {
            DeliveryOpError::NotFound => ApiError::not_found("no such delivery"),
            DeliveryOpError::NotDeadLettered(id) => ApiError::conflict(
                "not_dead_lettered",
                format!("delivery {id} is not dead-lettered; only a dead letter can be redriven"),
            ),
            DeliveryOpError::Store(e) => e.into(),
            DeliveryOpError::Queue(e) => e.into(),
        }
    }
}

impl From<RecoveryError> for ApiError {
    fn from(e: RecoveryError) -> Self {
        match e {
            RecoveryError::Invalid(e) => e.into(),
            RecoveryError::UnknownWorkflow => ApiError::not_found("no such workflow"),
            RecoveryError::Store(e) => e.into(),
            RecoveryError::Queue(e) => e.into(),
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Signature(s) => {
                ApiError::new(StatusCode::UNAUTHORIZED, s.code(), s.to_string())
            }
            WebhookError::Invalid(e) => e.into(),
            WebhookError::UnknownWorkflow => {
                ApiError::not_found("no workflow with that workflow_id")
            }
            WebhookError::TooLarge { limit } => ApiError::too_large(limit),
            WebhookError::Store(e) => e.into(),
            WebhookError::SecretsUnavailable(_) => ApiError::unavailable(),
        }
    }
}

impl From<InvalidBody> for ApiError {
    fn from(e: InvalidBody) -> Self {
        match e {
            InvalidBody::Syntax(_) => {
                ApiError::bad_request("invalid_json", "the request body is not valid JSON")
            }
            InvalidBody::Schema(details) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "validation_failed",
                message: format!("{} field(s) failed validation", details.len().max(1)),
                details,
            },
        }
    }
}

impl From<AlertActionError> for ApiError {
    fn from(e: AlertActionError) -> Self {
        match e {
            AlertActionError::Action(ActionError::Unknown) => {
                ApiError::not_found("no such firing alert")
            }
            AlertActionError::Action(ActionError::Resolved) => ApiError::conflict(
                "alert_resolved",
                "the alert has resolved: there is nothing to acknowledge or silence",
            ),
            AlertActionError::Action(e @ ActionError::BadUntil) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "validation_failed",
                message: "1 field(s) failed validation".into(),
                details: vec![FieldError::new("until", e.to_string())],
            },
            AlertActionError::Store(e) => e.into(),
        }
    }
}

impl From<ListError> for ApiError {
    fn from(e: ListError) -> Self {
        match e {
            ListError::InvalidQuery(reason) => ApiError::bad_request("invalid_query", reason),
            ListError::InvalidCursor(e) => ApiError::bad_request("invalid_cursor", e.to_string()),
            ListError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        ApiError::unavailable()
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        tracing::error!(error = %e, "queue error");
        ApiError::unavailable()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            success: Flag,
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
                details: &self.details,
            },
        };
        // Strings and field errors always serialise; the fallback is for form's sake.
        let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| INTERNAL_BODY.to_vec());
        let json = HeaderValue::from_static("application/json");
        let mut response = (self.status, [(header::CONTENT_TYPE, json)], bytes).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
