//! Wiring for the Lambda entry points and the local runtime: configuration and
//! adapters from the environment, built once per instance (never per request).
//!
//! `OSA_BACKEND` picks the adapters:
//! - `aws` (what `template.yaml` sets): DynamoDB table `OSA_TABLE_NAME`, SQS queue
//!   `OSA_QUEUE_URL`, EventBridge bus `OSA_EVENT_BUS_NAME` (default `default`);
//!   `AWS_ENDPOINT_URL` points the SDK at a local endpoint such as moto.
//! - `sqlite` (the default): the embedded store and queue in `OSA_DATA_DIR`
//!   (default `/tmp/osa`), domain events to the log.
//!
//! Secrets come from the environment (`OSA_WEBHOOK_SECRETS`, `OPAL_API_KEY`) or,
//! in AWS, from Secrets Manager by ARN (`OSA_WEBHOOK_SECRETS_ARN`,
//! `OPAL_API_KEY_SECRET_ARN`), read once at cold start and never logged.

use std::path::PathBuf;
use std::sync::Arc;

use crate::adapters::aws::AwsClients;
use crate::adapters::aws::dynamo::DynamoMetrics;
use crate::adapters::aws::dynamo::DynamoStore;
use crate::adapters::aws::eventbridge::EventBridgeBus;
use crate::adapters::aws::sqs::SqsQueue;
use crate::adapters::http::client::ReqwestClient;
use crate::adapters::http::optimizely::{
    OptimizelyClient, OptimizelyService, ReqwestTransport, TokioSleeper,
};
use crate::adapters::log_bus::LogBus;
use crate::adapters::sqlite::SqliteStore;
use crate::app::Services;
use crate::config::{Config, ConfigError, secrets_from, var, verifier_from_env};
use crate::domain::Secret;
use crate::ports::{
    Clock, DeliveryStore, EventBus, JobQueue, MetricsStore, OpsStore, OutboundError, StoreError,
    SystemClock, WorkflowStore,
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Http(#[from] OutboundError),
    #[error("could not create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("could not read secret {arn}: {reason}")]
    Secret { arn: String, reason: String },
}

/// Where state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite store and queue in a directory.
    Embedded { data_dir: PathBuf },
    /// DynamoDB, SQS and EventBridge.
    Aws {
        table: String,
        queue_url: String,
        event_bus: String,
    },
}

impl Backend {
    pub fn from_env() -> Result<Backend, ConfigError> {
        Backend::from_lookup(var)
    }

    fn from_lookup(var: impl Fn(&'static str) -> Option<String>) -> Result<Backend, ConfigError> {
        let required = |name| var(name).ok_or(ConfigError::Missing(name));
        match var("OSA_BACKEND").as_deref() {
            None | Some("sqlite") => Ok(Backend::Embedded {
                data_dir: PathBuf::from(var("OSA_DATA_DIR").unwrap_or_else(|| "/tmp/osa".into())),
            }),
            Some("aws") => Ok(Backend::Aws {
                table: required("OSA_TABLE_NAME")?,
                queue_url: required("OSA_QUEUE_URL")?,
                event_bus: var("OSA_EVENT_BUS_NAME").unwrap_or_else(|| "default".into()),
            }),
            Some(other) => Err(ConfigError::Invalid("OSA_BACKEND", other.to_owned())),
        }
    }
}

/// The three stateful ports, over one backend.
#[derive(Clone)]
pub struct Adapters {
    pub store: Arc<dyn WorkflowStore>,
    pub queue: Arc<dyn JobQueue>,
    pub events: Arc<dyn EventBus>,
    pub metrics: Arc<dyn MetricsStore>,
    pub ops: Arc<dyn OpsStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
}

impl Adapters {
    pub async fn open(backend: &Backend, clock: Arc<dyn Clock>) -> Result<Adapters, StartupError> {
        match backend {
            Backend::Embedded { data_dir } => {
                std::fs::create_dir_all(data_dir)
                    .map_err(|e| StartupError::DataDir(data_dir.display().to_string(), e))?;
                let store = Arc::new(SqliteStore::open(&data_dir.join("osa.db"), clock)?);
                Ok(Adapters {
                    store: store.clone(),
                    queue: store.clone(),
                    events: Arc::new(LogBus::default()),
                    metrics: store.clone(),
                    deliveries: store.clone(),
                    ops: store,
                })
            }
            Backend::Aws {
                table,
                queue_url,
                event_bus,
            } => {
                let clients = AwsClients::shared().await;
                // In Lambda, metrics also go to CloudWatch as EMF log lines.
                let metrics = Arc::new(
                    DynamoMetrics::new(clients.dynamodb.clone(), table.as_str(), clock.clone())
                        .with_emf(var("AWS_LAMBDA_FUNCTION_NAME").is_some()),
                );
                let dynamo = Arc::new(
                    DynamoStore::new(clients.dynamodb.clone(), table.as_str(), clock)
                        .with_settings(retention_from_env()?),
                );
                Ok(Adapters {
                    metrics: metrics.clone(),
                    ops: metrics,
                    store: dynamo.clone(),
                    deliveries: dynamo,
                    queue: Arc::new(SqsQueue::new(clients.sqs.clone(), queue_url.as_str())),
                    events: Arc::new(EventBridgeBus::new(
                        clients.eventbridge.clone(),
                        event_bus.as_str(),
                    )),
                })
            }
        }
    }
}

/// `OSA_RETENTION_DAYS` (workflow data, default 90) and
/// `OSA_AUDIT_RETENTION_DAYS` (both audit trails, default 400): the TTL DynamoDB
/// expires items by.
fn retention_from_env() -> Result<crate::adapters::aws::dynamo::DynamoSettings, ConfigError> {
    let days = |name: &'static str, default: u64| -> Result<std::time::Duration, ConfigError> {
        let days = match var(name) {
            None => default,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .ok_or(ConfigError::Invalid(name, v))?,
        };
        Ok(std::time::Duration::from_secs(days * 24 * 3600))
    };
    Ok(crate::adapters::aws::dynamo::DynamoSettings {
        workflow_retention: days("OSA_RETENTION_DAYS", 90)?,
        audit_retention: days("OSA_AUDIT_RETENTION_DAYS", 400)?,
        ..Default::default()
    })
}

/// Builds the services a function needs from the environment.
pub async fn services_from_env() -> Result<Services, StartupError> {
    let mut config = Config::from_env()?;
    if let Some(arn) = var("OSA_WEBHOOK_SECRETS_ARN") {
        let list = secret_value(&arn).await?;
        config.signature.secrets.extend(secrets_from(&list));
    }
    if let Some(arn) = var("OPAL_API_KEY_SECRET_ARN") {
        config.opal.api_key = Some(Secret::new(secret_value(&arn).await?.trim()));
    }
    if config.signature.secrets.is_empty() {
        tracing::warn!("no webhook secret configured: every webhook signature will be refused");
    }
    let auth = verifier_from_env().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let adapters = Adapters::open(&Backend::from_env()?, clock.clone()).await?;
    Ok(Services {
        store: adapters.store,
        queue: adapters.queue,
        events: adapters.events,
        metrics: adapters.metrics,
        ops: adapters.ops,
        deliveries: adapters.deliveries,
        optimizely: Some(Arc::new(optimizely_from_env(clock.clone())?)),
        clock,
        http: Arc::new(ReqwestClient::new()?),
        auth: Arc::new(auth),
        config: Arc::new(config),
    })
}

/// The Optimizely client (built once per instance): production URLs, each
/// overridable with `OPTIMIZELY_BASE_URL_<SERVICE>` (`..._ODP`,
/// `..._EXPERIMENTATION`, `..._CONTENT_RECS`, `..._CMP`).
pub fn optimizely_from_env(clock: Arc<dyn Clock>) -> Result<OptimizelyClient, StartupError> {
    optimizely_client(clock, |name| std::env::var(name).ok())
}

pub fn optimizely_client(
    clock: Arc<dyn Clock>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<OptimizelyClient, StartupError> {
    let mut client = OptimizelyClient::new(
        Arc::new(ReqwestTransport::new()?),
        clock,
        Arc::new(TokioSleeper),
    );
    for service in OptimizelyService::ALL {
        let name = format!(
            "OPTIMIZELY_BASE_URL_{}",
            service.as_str().to_ascii_uppercase()
        );
        if let Some(url) = lookup(&name).filter(|u| !u.trim().is_empty()) {
            client = client.with_base_url(service, url.trim());
        }
    }
    Ok(client)
}

/// The `SecretString` of a Secrets Manager secret.
async fn secret_value(arn: &str) -> Result<String, StartupError> {
    let failed = |reason: String| StartupError::Secret {
        arn: arn.to_owned(),
        reason,
    };
    let config = crate::adapters::aws::load_config(None).await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| failed(crate::adapters::aws::describe("GetSecretValue", &e)))?;
    out.secret_string()
        .map(str::to_owned)
        .ok_or_else(|| failed("the secret has no SecretString".into()))
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
    fn the_backend_comes_from_the_environment() {
        assert_eq!(
            Backend::from_lookup(lookup(&[])).ok(),
            Some(Backend::Embedded {
                data_dir: "/tmp/osa".into()
            })
        );
        let aws = [
            ("OSA_BACKEND", "aws"),
            ("OSA_TABLE_NAME", "t"),
            ("OSA_QUEUE_URL", "http://q"),
        ];
        assert_eq!(
            Backend::from_lookup(lookup(&aws)).ok(),
            Some(Backend::Aws {
                table: "t".into(),
                queue_url: "http://q".into(),
                event_bus: "default".into()
            })
        );
        assert!(matches!(
            Backend::from_lookup(lookup(&aws[..2])),
            Err(ConfigError::Missing("OSA_QUEUE_URL"))
        ));
        assert!(matches!(
            Backend::from_lookup(lookup(&[("OSA_BACKEND", "mongo")])),
            Err(ConfigError::Invalid("OSA_BACKEND", _))
        ));
    }
}
