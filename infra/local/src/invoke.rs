//! `osa invoke`: runs one function's handler on a Lambda event file, as the Lambda
//! runtime would, over the local embedded store. SAM-local invocation without Docker.
//!
//! Event files may hold two placeholders: `{{dev_token}}` (replaced by a fresh dev
//! token) and `{{signature}}` (replaced by the `X-OSA-Signature` of the event's body).

use std::path::Path;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body as LambdaBody;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use base64::Engine;
use http_body_util::BodyExt;
use osa_domain::access::scopes;
use osa_domain::signature::sign;
use serde_json::Value;
use tower::ServiceExt;

use crate::local::{LifecycleSettings, LocalFiles, embedded_services};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Function {
    Intake,
    OpalWebhook,
    StatusApi,
    Stream,
    Worker,
    HealthCheck,
    AlertEvaluator,
    OutboxRelay,
}

pub fn invoke(
    function: Function,
    event: &Path,
    data_dir: &Path,
    opal_url: &str,
) -> Result<(), String> {
    let text = std::fs::read_to_string(event)
        .map_err(|e| format!("cannot read {}: {e}", event.display()))?;
    let files = LocalFiles::open(data_dir)?;
    let event = substitute(&text, &files)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let output = runtime.block_on(async {
        let services = embedded_services(
            &files,
            "http://127.0.0.1:3000",
            opal_url.to_owned(),
            LifecycleSettings::default(),
        )?;
        let router = match function {
            Function::Intake => intake::app(services),
            Function::OpalWebhook => opal_webhook::app(services),
            Function::StatusApi => status_api::app(services),
            // The whole stream, collected: a finished workflow's ends at once.
            Function::Stream => stream::app(services),
            Function::Worker => {
                let batch: SqsEvent =
                    serde_json::from_str(&event).map_err(|e| format!("not an SQS event: {e}"))?;
                let response = worker::handle(&services, batch).await;
                return serde_json::to_string_pretty(&response).map_err(|e| e.to_string());
            }
            Function::OutboxRelay => {
                let batch: outbox_relay::StreamEvent = serde_json::from_str(&event)
                    .map_err(|e| format!("not a DynamoDB Stream event: {e}"))?;
                let response = outbox_relay::handle(&services, batch).await;
                return serde_json::to_string_pretty(&response).map_err(|e| e.to_string());
            }
            Function::HealthCheck | Function::AlertEvaluator => {
                let scheduled: EventBridgeEvent<Value> = serde_json::from_str(&event)
                    .map_err(|e| format!("not an EventBridge event: {e}"))?;
                let response = match function {
                    Function::HealthCheck => health_check::handle(&services, scheduled).await,
                    _ => alert_evaluator::handle(&services, scheduled).await,
                }
                .map_err(|e| e.to_string())?;
                return serde_json::to_string_pretty(&response).map_err(|e| e.to_string());
            }
        };
        // The same deserialisation lambda_http applies to an API Gateway event.
        let request = lambda_http::request::from_str(&event)
            .map_err(|e| format!("not an API Gateway HTTP API event: {e}"))?;
        let response = router.oneshot(request).await.map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        let mut lambda = ApiGatewayV2httpResponse::default();
        lambda.status_code = i64::from(parts.status.as_u16());
        lambda.headers = parts.headers;
        lambda.is_base64_encoded = false;
        lambda.body = (!bytes.is_empty())
            .then(|| LambdaBody::Text(String::from_utf8_lossy(&bytes).into_owned()));
        serde_json::to_string_pretty(&lambda).map_err(|e| e.to_string())
    })?;
    crate::print_out(&output)
}

/// Replaces the token and signature placeholders (also `osa events render`).
pub(crate) fn substitute(text: &str, files: &LocalFiles) -> Result<String, String> {
    let text = if text.contains("{{dev_token}}") {
        text.replace(
            "{{dev_token}}",
            &files.mint_token("osa-invoke", &scopes::ALL, 3600)?,
        )
    } else {
        text.to_owned()
    };
    if !text.contains("{{signature}}") {
        return Ok(text);
    }
    let mut event: Value =
        serde_json::from_str(&text).map_err(|e| format!("event is not JSON: {e}"))?;
    let body = match (event["body"].as_str(), event["isBase64Encoded"].as_bool()) {
        (Some(b), Some(true)) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| format!("body is not base64: {e}"))?,
        (Some(b), _) => b.as_bytes().to_vec(),
        (None, _) => Vec::new(),
    };
    let now = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let signature = sign(std::slice::from_ref(&files.webhook_secret), now, &body);
    if let Some(headers) = event["headers"].as_object_mut() {
        for value in headers.values_mut() {
            if value == "{{signature}}" {
                *value = Value::String(signature.clone());
            }
        }
    }
    serde_json::to_string(&event).map_err(|e| e.to_string())
}
