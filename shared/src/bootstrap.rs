//! The one place `Services` is assembled: from the environment for the Lambda
//! functions ([`from_env`]), and from options the local runtime and the tests
//! pass ([`assemble`] over [`Adapters`] and a [`Runtime`]). Built once per
//! process (per Lambda instance), never per request.
//!
//! `OSA_BACKEND` picks the adapters and must be set, so a function never runs
//! on a store it was not meant to:
//! - `aws` (what `template.yaml` sets): DynamoDB table `OSA_TABLE_NAME`, SQS queue
//!   `OSA_QUEUE_URL`, EventBridge bus `OSA_EVENT_BUS_NAME`; `AWS_ENDPOINT_URL`
//!   points the SDK at a local endpoint such as moto.
//! - `sqlite`: the embedded store and queue in `OSA_DATA_DIR`, domain events to
//!   the log.
//!
//! Nothing here can fail because a dependency is down: the identity provider's
//! keys are fetched when the first token comes, Optimizely is called when an
//! intake gives keys. Secrets come from the environment (`OSA_WEBHOOK_SECRETS`,
//! `OPAL_API_KEY`) or, in AWS, from Secrets Manager by ARN
//! (`OSA_WEBHOOK_SECRETS_ARN`, `OPAL_API_KEY_SECRET_ARN`), read when first
//! needed (`app::secrets`), kept, and never logged.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::adapters::aws::AwsClients;
use crate::adapters::aws::dynamo::{DynamoMetrics, DynamoSettings, DynamoStore};
use crate::adapters::aws::eventbridge::EventBridgeBus;
use crate::adapters::aws::secrets::SecretsManager;
use crate::adapters::aws::sqs::SqsQueue;
use crate::adapters::http::client::ReqwestClient;
use crate::adapters::http::optimizely::{
    OptimizelyClient, OptimizelyService, ReqwestTransport, TokioSleeper,
};
use crate::adapters::jwt::{JwtVerifier, RefreshPolicy};
use crate::adapters::log_bus::LogBus;
use crate::adapters::sqlite::SqliteStore;
use crate::app::Services;
use crate::app::secrets::HeldSecrets;
use crate::config::{Config, ConfigError, parsed, required, var};
use crate::domain::access::{AccessError, Caller};
use crate::ports::{
    Clock, CredentialChecker, DeliveryStore, EventBus, HttpClient, JobQueue, MetricsStore,
    OpsStore, OutboundError, SecretStore, StoreChanges, StoreError, SystemClock, TokenVerifier,
    WorkflowStore,
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Http(#[from] OutboundError),
    #[error("token verification: {0}")]
    Tokens(#[from] AccessError),
    #[error("could not create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
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
        match required("OSA_BACKEND")?.as_str() {
            "sqlite" => Ok(Backend::Embedded {
                data_dir: PathBuf::from(required("OSA_DATA_DIR")?),
            }),
            "aws" => Ok(Backend::Aws {
                table: required("OSA_TABLE_NAME")?,
                queue_url: required("OSA_QUEUE_URL")?,
                event_bus: required("OSA_EVENT_BUS_NAME")?,
            }),
            other => Err(ConfigError::Invalid("OSA_BACKEND", other.to_owned())),
        }
    }
}

/// The stateful ports, over one backend.
#[derive(Clone)]
pub struct Adapters {
    pub store: Arc<dyn WorkflowStore>,
    pub queue: Arc<dyn JobQueue>,
    pub events: Arc<dyn EventBus>,
    pub metrics: Arc<dyn MetricsStore>,
    pub ops: Arc<dyn OpsStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub changes: Option<Arc<dyn StoreChanges>>,
    /// Where credentials named by reference are read (`None`: none can be).
    pub secrets: Option<Arc<dyn SecretStore>>,
}

impl Adapters {
    pub async fn open(backend: &Backend, clock: Arc<dyn Clock>) -> Result<Adapters, StartupError> {
        match backend {
            Backend::Embedded { data_dir } => {
                std::fs::create_dir_all(data_dir)
                    .map_err(|e| StartupError::DataDir(data_dir.display().to_string(), e))?;
                let store = Arc::new(SqliteStore::open(&data_dir.join("osa.db"), clock)?);
                Ok(Adapters::embedded(store, Arc::new(LogBus::default())))
            }
            Backend::Aws {
                table,
                queue_url,
                event_bus,
            } => {
                let clients = AwsClients::shared().await;
                // In Lambda, metrics also go to CloudWatch as EMF log lines:
                // those the metrics store writes, and those the workflow store
                // writes with the events they count.
                let emf = var("AWS_LAMBDA_FUNCTION_NAME").is_some();
                let metrics = Arc::new(
                    DynamoMetrics::new(clients.dynamodb.clone(), table.as_str(), clock.clone())
                        .with_emf(emf),
                );
                let dynamo = Arc::new(
                    DynamoStore::new(clients.dynamodb.clone(), table.as_str(), clock)
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
                    queue: Arc::new(SqsQueue::new(clients.sqs.clone(), queue_url.as_str())),
                    events: Arc::new(EventBridgeBus::new(
                        clients.eventbridge.clone(),
                        event_bus.as_str(),
                    )),
                })
            }
        }
    }

    /// Every stateful port over one embedded store; domain events to `events`.
    pub fn embedded(store: Arc<SqliteStore>, events: Arc<dyn EventBus>) -> Adapters {
        Adapters {
            changes: Some(store.clone()),
            secrets: None,
            store: store.clone(),
            queue: store.clone(),
            metrics: store.clone(),
            deliveries: store.clone(),
            ops: store,
            events,
        }
    }
}

/// Everything else a process runs with: its configuration, clock, outbound HTTP,
/// token verifier and credential checker.
pub struct Runtime {
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub http: Arc<dyn HttpClient>,
    pub tokens: Arc<dyn TokenVerifier>,
    pub optimizely: Option<Arc<dyn CredentialChecker>>,
}

/// The application over `adapters`, run as `runtime` says.
pub fn assemble(adapters: Adapters, runtime: Runtime) -> Services {
    Services {
        store: adapters.store,
        queue: adapters.queue,
        events: adapters.events,
        metrics: adapters.metrics,
        ops: adapters.ops,
        deliveries: adapters.deliveries,
        changes: adapters.changes,
        secrets: Arc::new(HeldSecrets::new(adapters.secrets)),
        clock: runtime.clock,
        http: runtime.http,
        tokens: runtime.tokens,
        config: Arc::new(runtime.config),
        optimizely: runtime.optimizely,
    }
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
        Tokens::Verified => Arc::new(verifier_from_env()?),
        Tokens::NotUsed => Arc::new(NoTokens),
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let adapters = Adapters::open(&Backend::from_env()?, clock.clone()).await?;
    let runtime = Runtime {
        optimizely: Some(Arc::new(optimizely_from_env(clock.clone())?)),
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

/// Bearer-token settings: `OSA_JWT_ISSUER`, `OSA_JWT_AUDIENCE`, and the keys:
/// `OSA_JWKS_FILE`, else `OSA_JWKS_URL` (fetched when the first token comes),
/// else `OSA_JWT_PUBLIC_KEY_FILES` (comma-separated PEM paths, never re-read).
/// A JWKS file or URL is re-read when older than `OSA_JWKS_TTL_SECS` (600) or
/// when a token names an unknown `kid`, at most once per
/// `OSA_JWKS_MIN_REFRESH_SECS` (60).
pub fn verifier_from_env() -> Result<JwtVerifier, StartupError> {
    let issuer = required("OSA_JWT_ISSUER")?;
    let audience = required("OSA_JWT_AUDIENCE")?;
    let policy = RefreshPolicy {
        ttl: Duration::from_secs(parsed("OSA_JWKS_TTL_SECS", 600u64)?),
        min_interval: Duration::from_secs(parsed("OSA_JWKS_MIN_REFRESH_SECS", 60u64)?),
        ..RefreshPolicy::default()
    };
    if let Some(path) = var("OSA_JWKS_FILE") {
        return Ok(
            JwtVerifier::from_jwks_file(path, &issuer, &audience)?.with_refresh_policy(policy)
        );
    }
    if let Some(url) = var("OSA_JWKS_URL") {
        return Ok(JwtVerifier::from_jwks_url(
            &url, &issuer, &audience, policy,
        )?);
    }
    let files = required("OSA_JWT_PUBLIC_KEY_FILES")?;
    let pems = files
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| std::fs::read_to_string(p).map_err(|e| ConfigError::Read(p.to_owned(), e)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(JwtVerifier::from_pems(&pems, &issuer, &audience)?)
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

/// The Optimizely client (built once per instance): production URLs, each
/// overridable with `OPTIMIZELY_BASE_URL_<SERVICE>` (`..._ODP`,
/// `..._EXPERIMENTATION`, `..._CONTENT_RECS`, `..._CMP`).
pub fn optimizely_from_env(clock: Arc<dyn Clock>) -> Result<OptimizelyClient, StartupError> {
    optimizely_client(clock, |name| std::env::var(name).ok())
}

/// The Optimizely client with base URLs from `lookup` (`OPTIMIZELY_BASE_URL_<SERVICE>`).
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
    fn the_backend_comes_from_the_environment_and_missing_settings_are_named() {
        assert!(matches!(
            Backend::from_lookup(lookup(&[])),
            Err(ConfigError::Missing("OSA_BACKEND"))
        ));
        assert!(matches!(
            Backend::from_lookup(lookup(&[("OSA_BACKEND", "sqlite")])),
            Err(ConfigError::Missing("OSA_DATA_DIR"))
        ));
        assert_eq!(
            Backend::from_lookup(lookup(&[("OSA_BACKEND", "sqlite"), ("OSA_DATA_DIR", "/d")])).ok(),
            Some(Backend::Embedded {
                data_dir: "/d".into()
            })
        );
        let aws = [
            ("OSA_BACKEND", "aws"),
            ("OSA_TABLE_NAME", "t"),
            ("OSA_QUEUE_URL", "http://q"),
            ("OSA_EVENT_BUS_NAME", "osa"),
        ];
        assert_eq!(
            Backend::from_lookup(lookup(&aws)).ok(),
            Some(Backend::Aws {
                table: "t".into(),
                queue_url: "http://q".into(),
                event_bus: "osa".into()
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
