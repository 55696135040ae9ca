//! The one place a Lambda function's `Services` are assembled, from its
//! settings ([`from_env`]; `osa_app::config` reads and checks them), over
//! DynamoDB, SQS and EventBridge. Built once per instance, never per request. A
//! Lambda links no other backend: `OSA_BACKEND` must say `aws` (what
//! `template.yaml` sets), so a function never runs on a store it was not meant
//! to. `AWS_ENDPOINT_URL` points the SDK at a local endpoint such as moto.
//!
//! Nothing here can fail because a dependency is down: the identity provider's
//! keys are fetched when the first token comes, Optimizely is called when an
//! intake gives keys. Secrets come from the environment (`OSA_WEBHOOK_SECRETS`,
//! `OPAL_API_KEY`) or from Secrets Manager by ARN (`OSA_WEBHOOK_SECRETS_ARN`,
//! `OPAL_API_KEY_SECRET_ARN`), read when first needed (`osa_app::secrets`),
//! kept, and never logged.

use std::sync::Arc;

use async_trait::async_trait;
use osa_app::Services;
use osa_app::bootstrap::{Adapters, Runtime, StartupError, assemble};
use osa_app::config::{AwsResources, Config, JwtSettings, optimizely_base_urls_from_env};
use osa_app::ports::{Clock, SystemClock, TokenVerifier};
use osa_domain::access::{AccessError, Caller};
use osa_net::http::client::ReqwestClient;

use crate::AwsClients;
use crate::dynamo::{DynamoMetrics, DynamoSettings, DynamoStore};
use crate::eventbridge::EventBridgeBus;
use crate::secrets::SecretsManager;
use crate::sqs::SqsQueue;

/// Every stateful port over DynamoDB, SQS and EventBridge.
pub async fn adapters(
    resources: &AwsResources,
    clock: Arc<dyn Clock>,
) -> Result<Adapters, StartupError> {
    let clients = AwsClients::shared().await;
    // In Lambda, metrics also go to CloudWatch as EMF log lines: those the
    // metrics store writes, and those the workflow store writes with the events
    // they count.
    let emf = resources.emf;
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
            .with_settings(DynamoSettings {
                workflow_retention: resources.retention.workflows,
                audit_retention: resources.retention.audit,
                ..Default::default()
            })
            .with_emf(emf),
    );
    Ok(Adapters {
        changes: None,
        secrets: Some(Arc::new(SecretsManager)),
        metrics: metrics.clone(),
        activity: metrics.clone(),
        ops: metrics,
        audit: dynamo.clone(),
        leases: Some(dynamo.clone()),
        store: dynamo.clone(),
        deliveries: dynamo.clone(),
        outbox: dynamo,
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
        Tokens::Verified => Arc::new(osa_net::verifier(&JwtSettings::from_env()?)?),
        Tokens::NotUsed => Arc::new(NoTokens),
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let adapters = adapters(&AwsResources::from_env()?, clock.clone()).await?;
    let http = ReqwestClient::new(config.notify.targets)?;
    let runtime = Runtime {
        optimizely: Some(Arc::new(osa_net::optimizely(
            clock.clone(),
            &optimizely_base_urls_from_env(),
        )?)),
        http: Arc::new(http),
        clock,
        tokens,
        config,
    };
    let mut services = assemble(adapters, runtime);
    // The table's stream feeds the `outbox-relay` function: a commit answers
    // at once, and the relay does what it causes.
    services.relay = std::sync::Arc::new(osa_app::outbox::RelayWake::background());
    Ok(services)
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
