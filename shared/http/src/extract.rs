//! Extractors: what a handler takes from a request, already checked, with every
//! refusal the JSON error the API promises (never axum's plain-text rejections).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::ApiError;
use osa_app::Services;
use osa_app::health::HealthRoute;
use osa_app::webhook::WebhookBody;
use osa_domain::WorkflowId;
use osa_domain::signature::SIGNATURE_HEADER;
use osa_domain::standard_webhooks;
use osa_domain::validation::parse_json;
use osa_domain::webhook_signature::Signatures;

/// The body of a JSON request, whole: `Content-Type: application/json`, at most
/// `Config::max_body_bytes` (413 when more is declared or sent). The app parses
/// it, so validation errors carry field paths.
pub struct JsonBytes(pub Bytes);

impl FromRequest<Arc<Services>> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, services: &Arc<Services>) -> Result<Self, ApiError> {
        let limit = services.config.max_body_bytes;
        if declared_length(request.headers()).is_some_and(|len| len > limit as u64) {
            return Err(ApiError::too_large(limit));
        }
        require_json(request.headers())?;
        read_body(request.into_body(), limit).await.map(JsonBytes)
    }
}

/// A JSON body parsed into `T` (unknown fields are `T`'s business).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<Services>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, services: &Arc<Services>) -> Result<Self, ApiError> {
        let JsonBytes(bytes) = JsonBytes::from_request(request, services).await?;
        Ok(JsonBody(parse_json(&bytes)?))
    }
}

/// The webhook's body: any type, whole, or refused unread (with the size it
/// claimed) when over the limit, for the webhook audits even what it refuses.
pub struct RawWebhook(pub WebhookBody);

impl FromRequest<Arc<Services>> for RawWebhook {
    type Rejection = ApiError;

    async fn from_request(request: Request, services: &Arc<Services>) -> Result<Self, ApiError> {
        let limit = services.config.max_body_bytes;
        if let Some(len) = declared_length(request.headers()).filter(|len| *len > limit as u64) {
            return Ok(RawWebhook(WebhookBody::TooLarge {
                declared_bytes: len,
            }));
        }
        match read_body(request.into_body(), limit).await {
            Ok(bytes) => Ok(RawWebhook(WebhookBody::Read(bytes))),
            Err(e) if e.status == StatusCode::PAYLOAD_TOO_LARGE => {
                Ok(RawWebhook(WebhookBody::TooLarge {
                    declared_bytes: limit as u64 + 1,
                }))
            }
            Err(e) => Err(e),
        }
    }
}

/// Query parameters parsed into `T`; a bad one is a JSON 400 `invalid_query`.
pub struct ValidQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ValidQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(query)| ValidQuery(query))
            .map_err(|e: QueryRejection| ApiError::bad_request("invalid_query", e.body_text()))
    }
}

/// A workflow id from the path, as [`WorkflowId`] has it, else 404 (no workflow
/// could have it).
pub struct WorkflowPath(pub WorkflowId);

impl<S: Send + Sync> FromRequestParts<S> for WorkflowPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found("no such workflow"))?;
        WorkflowId::parse(id)
            .map(WorkflowPath)
            .map_err(|_| ApiError::not_found("no such workflow"))
    }
}

/// Which health check the path names (`intake`, `opal`, `database`), else 404.
pub struct HealthCheckPath(pub HealthRoute);

impl<S: Send + Sync> FromRequestParts<S> for HealthCheckPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<HealthRoute>::from_request_parts(parts, state)
            .await
            .map(|Path(route)| HealthCheckPath(route))
            .map_err(|_| ApiError::not_found("no such health check"))
    }
}

/// The webhook's signature headers, as sent (`X-OSA-Signature`, and the
/// Standard Webhooks three); the app checks them.
pub struct Signature {
    osa: Option<HeaderValue>,
    id: Option<HeaderValue>,
    timestamp: Option<HeaderValue>,
    signature: Option<HeaderValue>,
}

impl Signature {
    /// The headers sent as text; a scheme with a header missing or not text
    /// counts as not sent.
    pub fn signatures(&self) -> Signatures<'_> {
        fn text(v: &Option<HeaderValue>) -> Option<&str> {
            v.as_ref().and_then(|v| v.to_str().ok())
        }
        let standard = match (text(&self.id), text(&self.timestamp), text(&self.signature)) {
            (Some(id), Some(timestamp), Some(signature)) => Some(standard_webhooks::Signed {
                id,
                timestamp,
                signature,
            }),
            _ => None,
        };
        Signatures {
            osa: text(&self.osa),
            standard,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Signature {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).cloned();
        Ok(Signature {
            osa: header(SIGNATURE_HEADER),
            id: header(standard_webhooks::ID_HEADER),
            timestamp: header(standard_webhooks::TIMESTAMP_HEADER),
            signature: header(standard_webhooks::SIGNATURE_HEADER),
        })
    }
}

/// `Last-Event-ID`: the id of the last event a stream's client saw, a whole
/// number; anything else is a 400 (a stream cannot resume from it).
pub struct LastEventId(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for LastEventId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get("last-event-id") else {
            return Ok(LastEventId(None));
        };
        value
            .to_str()
            .ok()
            .map(str::trim)
            .and_then(|v| v.parse::<u64>().ok())
            .map(|id| LastEventId(Some(id)))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_last_event_id",
                    "Last-Event-ID must be the id of an event this stream sent",
                )
            })
    }
}

/// A delivery id from the path: a UUID, else 404.
pub struct DeliveryId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for DeliveryId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found("no such delivery"))?;
        Uuid::parse_str(&id)
            .map(DeliveryId)
            .map_err(|_| ApiError::not_found("no such delivery"))
    }
}

/// Reads the whole body, refusing more than `limit` bytes with a 413.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // An over-limit body surfaces as a LengthLimitError somewhere in the chain.
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if err.is::<http_body_util::LengthLimitError>() {
                return ApiError::too_large(limit);
            }
            source = err.source();
        }
        ApiError::bad_request("body_unreadable", "the request body could not be read")
    })
}

/// The declared `Content-Length`, if any.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Requests with a body must say it is JSON.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/json",
        ))
    }
}
