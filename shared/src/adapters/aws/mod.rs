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

/// The SDK configuration from the environment; `endpoint` overrides
/// `AWS_ENDPOINT_URL` (tests pass the moto endpoint here).
pub async fn load_config(endpoint: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
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
mod call_log;
pub mod dynamo;
pub mod eventbridge;
pub mod provision;
pub mod schema;
pub mod secrets;
pub mod sqs;
