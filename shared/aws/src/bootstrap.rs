//! The one place a Lambda function's `Services` are assembled, from the
//! environment ([`from_env`]), over DynamoDB, SQS and EventBridge. Built once per
//! instance, never per request. A Lambda links no other backend: `OSA_BACKEND`
//! must say `aws` (what `template.yaml` sets), so a function never runs on a
//! store it was not meant to.
//!
//! - DynamoDB table `OSA_TABLE_NAME`, SQS queue `OSA_QUEUE_URL`, EventBridge bus
//!   `OSA_EVENT_BUS_NAME`; `AWS_ENDPOINT_URL` points the SDK at a local endpoint
//!   such as moto.
//!
//! Nothing here can fail because a dependency is down: the identity provider's
//! keys are fetched when the first token comes, Optimizely is called when an
//! intake gives keys. Secrets come from the environment (`OSA_WEBHOOK_SECRETS`,
//! `OPAL_API_KEY`) or from Secrets Manager by ARN (`OSA_WEBHOOK_SECRETS_ARN`,
//! `OPAL_API_KEY_SECRET_ARN`), read when first needed (`osa_app::secrets`),
//! kept, and never logged.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use osa_app::Services;
use osa_app::bootstrap::{Adapters, Runtime, StartupError, assemble};
use osa_app::config::{Config, ConfigError, var};
use osa_app::ports::{Clock, SystemClock, TokenVerifier};
use osa_domain::access::{AccessError, Caller};
use osa_net::http::client::ReqwestClient;

use crate::AwsClients;
use crate::dynamo::{DynamoMetrics, DynamoSettings, DynamoStore};
use crate::eventbridge::EventBridgeBus;
use crate::secrets::SecretsManager;
use crate::sqs::SqsQueue;

/// Where a deployment's state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsResources {
    pub table: String,
    pub queue_url: String,
    pub event_bus: String,
}

impl AwsResources {
    pub fn from_env() -> Result<AwsResources, ConfigError> {
        AwsResources::from_lookup(var)
    }

    fn from_lookup(
        var: impl Fn(&'static str) -> Option<String>,
    ) -> Result<AwsResources, ConfigError> {
        let required = |name| var(name).ok_or(ConfigError::Missing(name));
        match required("OSA_BACKEND")?.as_str() {
            "aws" => Ok(AwsResources {
                table: required("OSA_TABLE_NAME")?,
                queue_url: required("OSA_QUEUE_URL")?,
                event_bus: required("OSA_EVENT_BUS_NAME")?,
            }),
            other => Err(ConfigError::Invalid("OSA_BACKEND", other.to_owned())),
        }
    }
}

/// Every stateful port over DynamoDB, SQS and EventBridge.
pub async fn adapters(
    resources: &AwsResources,
    clock: Arc<dyn Clock>,
) -> Result<Adapters, StartupError> {
    let clients = AwsClients::shared().await;
    // In Lambda, metrics also go to CloudWatch as EMF log lines: those the
    // metrics store writes, and those the workflow store writes with the events
    // they count.
    let emf = var("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let metrics = Arc::new(
        DynamoMetrics::new(
            clients.dynamodb.clone(),
            resources.table.as_str(),
            clock.clone(),
        )
        .with_emf(emf),
    );
    let dynamo = Arc::new(
        DynamoStore::new(clients.dynamodb.clone(), resources.table.as_str(), clock)
            .with_settings(retention_from_env()?)
            .with_emf(emf),
    );
    Ok(Adapters {
        changes: None,
        secrets: Some(Arc::new(SecretsManager)),
        metrics: metrics.clone(),
        ops: metrics,
        store: dynamo.clone(),
        deliveries: dynamo,
        queue: Arc::new(SqsQueue::new(
            clients.sqs.clone(),
            resources.queue_url.as_str(),
        )),
        events: Arc::new(EventBridgeBus::new(
            clients.eventbridge.clone(),
            resources.event_bus.as_str(),
        )),
    })
}

/// Whether a function verifies bearer tokens itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokens {
    /// An HTTP function behind scopes: the `OSA_JWT_*` settings are required.
    Verified,
    /// The webhook receiver, the worker, the scheduled functions: no token
    /// settings are read and every token is refused.
    NotUsed,
}

/// Builds the services a Lambda function needs from the environment.
pub async fn from_env(tokens: Tokens) -> Result<Services, StartupError> {
    let config = Config::from_env()?;
    if config.signature.secrets.is_empty() && config.secret_refs.webhook_secrets.is_none() {
        tracing::warn!("no webhook secret configured: every webhook signature will be refused");
    }
    let tokens: Arc<dyn TokenVerifier> = match tokens {
        Tokens::Verified => Arc::new(osa_net::verifier_from_env()?),
        Tokens::NotUsed => Arc::new(NoTokens),
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let adapters = adapters(&AwsResources::from_env()?, clock.clone()).await?;
    let runtime = Runtime {
        optimizely: Some(Arc::new(osa_net::optimizely_from_env(clock.clone())?)),
        http: Arc::new(ReqwestClient::new()?),
        clock,
        tokens,
        config,
    };
    Ok(assemble(adapters, runtime))
}

/// Refuses every token: for functions that take none.
struct NoTokens;

#[async_trait]
impl TokenVerifier for NoTokens {
    async fn verify(&self, _token: &str) -> Result<Caller, AccessError> {
        Err(AccessError::Invalid(
            "this function takes no bearer tokens".into(),
        ))
    }
}

/// `OSA_RETENTION_DAYS` (workflow data, default 90) and
/// `OSA_AUDIT_RETENTION_DAYS` (both audit trails, default 400): the TTL DynamoDB
/// expires items by.
fn retention_from_env() -> Result<DynamoSettings, ConfigError> {
    let days = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
        let days = match var(name) {
            None => default,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .ok_or(ConfigError::Invalid(name, v))?,
        };
        Ok(Duration::from_secs(days * 24 * 3600))
    };
    Ok(DynamoSettings {
        workflow_retention: days("OSA_RETENTION_DAYS", 90)?,
        audit_retention: days("OSA_AUDIT_RETENTION_DAYS", 400)?,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&'static str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_resources_come_from_the_environment_and_missing_settings_are_named() {
        assert!(matches!(
            AwsResources::from_lookup(lookup(&[])),
            Err(ConfigError::Missing("OSA_BACKEND"))
        ));
        let aws = [
            ("OSA_BACKEND", "aws"),
            ("OSA_TABLE_NAME", "t"),
            ("OSA_QUEUE_URL", "http://q"),
            ("OSA_EVENT_BUS_NAME", "osa"),
        ];
        assert_eq!(
            AwsResources::from_lookup(lookup(&aws)).ok(),
            Some(AwsResources {
                table: "t".into(),
                queue_url: "http://q".into(),
                event_bus: "osa".into()
            })
        );
        assert!(matches!(
            AwsResources::from_lookup(lookup(&aws[..2])),
            Err(ConfigError::Missing("OSA_QUEUE_URL"))
        ));
        // A Lambda function links only the AWS adapters: any other backend is
        // a start-up error that names the setting.
        for other in ["sqlite", "mongo"] {
            assert!(matches!(
                AwsResources::from_lookup(lookup(&[("OSA_BACKEND", other)])),
                Err(ConfigError::Invalid("OSA_BACKEND", _))
            ));
        }
    }
}
