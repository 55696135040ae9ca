//! The AWS adapters: the workflow store, deliveries and metrics over DynamoDB
//! (`dynamo`), the job queue over SQS (`sqs`), domain events to EventBridge
//! (`eventbridge`), secrets from Secrets Manager (`secrets`), and the set-up of
//! the table and queues for tests and the local runtime (`provision`).
//!
//! This module builds the SDK clients, once per process, from the environment.
//!
//! `aws_config::defaults` reads the usual environment: `AWS_REGION`, credentials, and
//! `AWS_ENDPOINT_URL` (or a per-service `AWS_ENDPOINT_URL_DYNAMODB`...) to talk to a
//! local endpoint such as moto.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use tokio::sync::OnceCell;

pub use call_log::CallLog;

/// The three SDK clients, sharing one configuration (and one HTTP connection pool
/// each). Cheap to clone: every client is a handle on shared state.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
}

impl AwsClients {
    pub fn new(config: &SdkConfig) -> AwsClients {
        let log = CallLog::from_env();
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(config);
        let mut sqs = aws_sdk_sqs::config::Builder::from(config);
        let mut eventbridge = aws_sdk_eventbridge::config::Builder::from(config);
        if let Some(log) = log {
            dynamodb = dynamodb.interceptor(log.clone());
            sqs = sqs.interceptor(log.clone());
            eventbridge = eventbridge.interceptor(log);
        }
        AwsClients {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            eventbridge: aws_sdk_eventbridge::Client::from_conf(eventbridge.build()),
        }
    }

    /// The clients of this process, built on first use from the environment and
    /// shared afterwards (a Lambda instance builds them once, not per request).
    pub async fn shared() -> &'static AwsClients {
        static CLIENTS: OnceCell<AwsClients> = OnceCell::const_new();
        CLIENTS
            .get_or_init(|| async { AwsClients::new(&load_config(None).await) })
            .await
    }
}

/// Attempts of one AWS call, the first included (the SDK's standard retry mode:
/// transient errors, timeouts and throttling are retried with jittered backoff).
pub const MAX_ATTEMPTS: u32 = 3;
/// How long connecting to an endpoint may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one attempt may take, from sending to the whole answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one call may take, retries included. An HTTP request makes at most
/// a few calls one after another before it fails (the shared rate limit, then
/// its own), so an endpoint that is down or hangs is answered `503` well inside
/// the HTTP functions' 15 s Lambda timeout (and API Gateway's 30 s).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(4);

/// The time budget of every call: the timeouts above. Without them the SDK
/// waits for an endpoint that accepts and never answers for ever.
pub fn call_budget() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The SDK configuration from the environment; `endpoint` overrides
/// `AWS_ENDPOINT_URL` (tests pass the moto endpoint here). Every call is bounded
/// by [`call_budget`] and [`MAX_ATTEMPTS`].
pub async fn load_config(endpoint: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(call_budget());
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// A short description of an SDK failure: the service's error code and message, or
/// the transport failure. Never the request itself, so never a credential.
pub(crate) fn describe<E, R>(operation: &str, error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.code() {
        Some(code) => format!("{operation}: {code}: {}", error.message().unwrap_or("")),
        None => format!("{operation}: {}", DisplayErrorContext(error)),
    }
}

pub mod attr;
pub mod bootstrap;
mod call_log;
pub mod deploy;
pub mod dynamo;
pub mod eventbridge;
pub mod provision;
pub mod schema;
pub mod secrets;
pub mod sqs;
pub mod xray;
