//! Runtime configuration, read from the environment in Lambda and built from
//! flags and the data directory by the local runtime.

use std::time::Duration;

use osa_domain::Secret;
use osa_domain::credentials::OptimizelyService;
use osa_domain::pii::{PiiPolicy, RedactionMode};
use osa_domain::signature::SignatureConfig;

/// The largest webhook or intake body accepted (1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Clone, Debug)]
pub struct OpalConfig {
    /// Where the OPAL `strategy_workflow` trigger is POSTed.
    pub trigger_url: String,
    pub api_key: Option<Secret>,
    pub timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Base URL clients reach OSA at; used for `webhook_url` and `status_check_url`.
    pub public_base_url: String,
    pub signature: SignatureConfig,
    pub opal: OpalConfig,
    pub max_body_bytes: usize,
    /// Multiplies every agent deadline (1.0 in production; small for local runs and tests).
    pub deadline_scale: f64,
    /// How PII in agent output and intake free text is rewritten before storage.
    pub pii: PiiPolicy,
    /// Trigger a timed-out agent once more, with a reduced scope.
    pub retrigger_timed_out_agents: bool,
    /// How long an intake may spend checking Optimizely keys, all services
    /// together; past it the check is inconclusive and the workflow starts.
    pub credentials_budget: Duration,
    /// Behind API Gateway's JWT authorizer, read the claims it verified instead
    /// of verifying the token a second time.
    pub trust_gateway_claims: bool,
    pub alert_channels: AlertChannels,
    pub stream: StreamSettings,
    /// See [`stream_url_from_env`].
    pub stream_url: Option<String>,
    pub secret_refs: SecretRefs,
    pub notify: NotifyConfig,
    pub edge: EdgeSettings,
    /// Where the OPAL probe GETs (`OPAL_HEALTH_URL`); `None`: beside the trigger.
    pub opal_health_url: Option<String>,
    /// The `environment` label (`OSA_ENVIRONMENT`, default `local`).
    pub environment: String,
}

/// What the HTTP edge of every function runs with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EdgeSettings {
    /// Origins a browser may call from (`scheme://host[:port]`); empty: no CORS
    /// headers at all.
    pub cors_allowed_origins: Vec<String>,
    /// `None` turns rate limiting off.
    pub rate_limit: Option<RateLimitConfig>,
}

impl EdgeSettings {
    /// `OSA_CORS_ALLOWED_ORIGINS` (comma-separated origins such as
    /// `https://app.example.com`; unset means none), `OSA_RATE_LIMIT_PER_MINUTE`
    /// and `OSA_RATE_LIMIT_BURST`. A value that cannot be used is an error
    /// naming its variable.
    pub fn from_env() -> Result<EdgeSettings, ConfigError> {
        EdgeSettings::from_lookup(var)
    }

    fn from_lookup(
        var: impl Fn(&'static str) -> Option<String>,
    ) -> Result<EdgeSettings, ConfigError> {
        let origins = var("OSA_CORS_ALLOWED_ORIGINS").unwrap_or_default();
        let cors_allowed_origins = origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| {
                let o = o.trim_end_matches('/');
                usable_origin(o)
                    .then(|| o.to_owned())
                    .ok_or_else(|| ConfigError::Invalid("OSA_CORS_ALLOWED_ORIGINS", o.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        Ok(EdgeSettings {
            cors_allowed_origins,
            rate_limit: RateLimitConfig::from_lookup(var)?,
        })
    }
}

/// `scheme://host[:port]`: http or https, no path, no wildcard, no credentials.
pub fn usable_origin(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    rest.is_some_and(|host| {
        !host.is_empty()
            && !host.contains(['/', '*', '?', '#', '@'])
            && host.bytes().all(|b| b.is_ascii_graphic())
    })
}

/// How many requests a client may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// The sustained rate.
    pub per_minute: u32,
    /// How many requests may arrive at once (at least 1).
    pub burst: u32,
    /// How many clients are tracked; the least indebted are forgotten first.
    pub max_clients: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_minute: 600,
            burst: 100,
            max_clients: 10_000,
        }
    }
}

impl RateLimitConfig {
    /// `OSA_RATE_LIMIT_PER_MINUTE` (600; `0` turns limiting off) and
    /// `OSA_RATE_LIMIT_BURST` (100, at least 1).
    fn from_lookup(
        var: impl Fn(&'static str) -> Option<String>,
    ) -> Result<Option<RateLimitConfig>, ConfigError> {
        let number = |name: &'static str, default: u32| match var(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u32>()
                .map_err(|_| ConfigError::Invalid(name, v)),
        };
        let defaults = RateLimitConfig::default();
        let per_minute = number("OSA_RATE_LIMIT_PER_MINUTE", defaults.per_minute)?;
        let burst = number("OSA_RATE_LIMIT_BURST", defaults.burst)?;
        if burst == 0 {
            return Err(ConfigError::Invalid("OSA_RATE_LIMIT_BURST", "0".into()));
        }
        Ok((per_minute > 0).then_some(RateLimitConfig {
            per_minute,
            burst,
            ..defaults
        }))
    }
}

/// `OSA_ENVIRONMENT`: a short label (at most 32 characters); `local` when unset.
fn environment_from_env() -> Result<String, ConfigError> {
    match var("OSA_ENVIRONMENT") {
        None => Ok("local".into()),
        Some(e) if e.len() <= 32 => Ok(e),
        Some(e) => Err(ConfigError::Invalid("OSA_ENVIRONMENT", e)),
    }
}

/// Credentials named by reference (Secrets Manager ARNs), read when first
/// needed (`app::secrets`), never at start-up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretRefs {
    /// Holds the webhook secrets, comma-separated (`OSA_WEBHOOK_SECRETS_ARN`).
    pub webhook_secrets: Option<String>,
    /// Holds the OPAL API key (`OPAL_API_KEY_SECRET_ARN`).
    pub opal_api_key: Option<String>,
    /// Holds the key result-ready notifications are signed with
    /// (`OSA_NOTIFY_SIGNING_SECRET_ARN`).
    pub notify_signing_secret: Option<String>,
}

/// Result-ready notifications to an intake's `notify_url`.
#[derive(Clone, Debug)]
pub struct NotifyConfig {
    /// `OSA_NOTIFY_SIGNING_SECRET`; else the reference in [`SecretRefs`].
    pub signing_secret: Option<Secret>,
    /// Which URLs an intake may name (`OSA_NOTIFY_ALLOW_LOCAL=true`: also http
    /// and this machine or a private network, for a local run).
    pub targets: osa_domain::notification::TargetPolicy,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            signing_secret: None,
            targets: osa_domain::notification::TargetPolicy::Public,
        }
    }
}

/// How a live stream paces itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamSettings {
    /// A `heartbeat` event after this long without one (proxies close quiet
    /// connections; the client takes three missed as a dead one).
    pub heartbeat: Duration,
    /// How often a stream re-reads its workflow when the store cannot tell it
    /// of changes (DynamoDB).
    pub poll: Duration,
    /// How long one stream may stay open; the client reconnects with
    /// `Last-Event-ID`. Set below the function's timeout on Lambda.
    pub budget: Option<Duration>,
}

/// Where the dashboard opens live streams: its own origin (`None`, as under
/// `osa serve`), or the stream function's URL on AWS, where API Gateway's HTTP
/// API cannot stream.
pub fn stream_url_from_env() -> Result<Option<String>, ConfigError> {
    let Some(url) = var("OSA_STREAM_URL") else {
        return Ok(None);
    };
    let url = url.trim().trim_end_matches('/').to_owned();
    let origin_only = url.starts_with("https://") || url.starts_with("http://");
    if !origin_only || url.contains(['"', '<', '>', ' ', '\'', '?', '#']) {
        return Err(ConfigError::Invalid("OSA_STREAM_URL", url));
    }
    Ok(Some(url))
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            heartbeat: Duration::from_secs(15),
            poll: Duration::from_secs(1),
            budget: None,
        }
    }
}

/// A credential given either as its value or by reference (a Secrets Manager
/// ARN, read when first needed by `app::secrets`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    Value(Secret),
    Arn(String),
}

impl SecretSource {
    /// `value_var`'s value, else the reference in `arn_var`.
    fn from_lookup(
        var: &impl Fn(&'static str) -> Option<String>,
        value_var: &'static str,
        arn_var: &'static str,
    ) -> Option<SecretSource> {
        var(value_var)
            .map(|v| SecretSource::Value(Secret::new(v.trim())))
            .or_else(|| var(arn_var).map(|arn| SecretSource::Arn(arn.trim().to_owned())))
    }
}

/// Where alert notifications go; a channel without an endpoint is skipped. The
/// webhook URLs and the PagerDuty routing key are credentials: deliveries name
/// them (`secret_names`) and whoever sends one (the worker) looks them up when
/// it sends, from its own configuration: the value, or a Secrets Manager
/// secret read once per process.
#[derive(Clone, Debug, Default)]
pub struct AlertChannels {
    pub slack_url: Option<SecretSource>,
    pub pagerduty_routing_key: Option<SecretSource>,
    /// The PagerDuty Events API v2 endpoint (not a secret; its default is public).
    pub pagerduty_url: Option<String>,
    pub email_url: Option<SecretSource>,
    pub email_to: Vec<String>,
    pub sms_url: Option<SecretSource>,
    pub sms_to: Vec<String>,
    /// A generic webhook hearing every notice, and the secret its deliveries
    /// are signed with (Standard Webhooks; a `whsec_…` key or any string).
    pub webhook_url: Option<SecretSource>,
    pub webhook_secret: Option<SecretSource>,
    pub runbook_base: Option<String>,
}

impl AlertChannels {
    /// `OSA_ALERT_SLACK_WEBHOOK_URL`; `OSA_ALERT_PAGERDUTY_ROUTING_KEY` (and
    /// `OSA_ALERT_PAGERDUTY_URL`); `OSA_ALERT_EMAIL_WEBHOOK_URL` with
    /// `OSA_ALERT_EMAIL_TO`; `OSA_ALERT_SMS_WEBHOOK_URL` with `OSA_ALERT_SMS_TO`
    /// (comma-separated lists); `OSA_ALERT_WEBHOOK_URL` with
    /// `OSA_ALERT_WEBHOOK_SECRET`; `OSA_RUNBOOK_BASE_URL`. Each of the six
    /// credentials may instead be named by its Secrets Manager secret:
    /// the same variable with `_SECRET_ARN` appended.
    pub fn from_env() -> Result<AlertChannels, ConfigError> {
        AlertChannels::from_lookup(var)
    }

    fn from_lookup(
        var: impl Fn(&'static str) -> Option<String>,
    ) -> Result<AlertChannels, ConfigError> {
        let list = |name| {
            var(name)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let runbook_base = match var("OSA_RUNBOOK_BASE_URL") {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Some(url.trim().trim_end_matches('/').to_owned())
            }
            Some(url) => return Err(ConfigError::Invalid("OSA_RUNBOOK_BASE_URL", url)),
            None => None,
        };
        let webhook_url = SecretSource::from_lookup(
            &var,
            "OSA_ALERT_WEBHOOK_URL",
            "OSA_ALERT_WEBHOOK_URL_SECRET_ARN",
        );
        let webhook_secret = SecretSource::from_lookup(
            &var,
            "OSA_ALERT_WEBHOOK_SECRET",
            "OSA_ALERT_WEBHOOK_SECRET_ARN",
        );
        // Every delivery to it is signed: a target without its secret is a
        // mistake to refuse at start-up, not a notice sent unsigned.
        if webhook_url.is_some() && webhook_secret.is_none() {
            return Err(ConfigError::Missing("OSA_ALERT_WEBHOOK_SECRET"));
        }
        Ok(AlertChannels {
            slack_url: SecretSource::from_lookup(
                &var,
                "OSA_ALERT_SLACK_WEBHOOK_URL",
                "OSA_ALERT_SLACK_WEBHOOK_URL_SECRET_ARN",
            ),
            pagerduty_routing_key: SecretSource::from_lookup(
                &var,
                "OSA_ALERT_PAGERDUTY_ROUTING_KEY",
                "OSA_ALERT_PAGERDUTY_ROUTING_KEY_SECRET_ARN",
            ),
            pagerduty_url: var("OSA_ALERT_PAGERDUTY_URL"),
            email_url: SecretSource::from_lookup(
                &var,
                "OSA_ALERT_EMAIL_WEBHOOK_URL",
                "OSA_ALERT_EMAIL_WEBHOOK_URL_SECRET_ARN",
            ),
            email_to: list("OSA_ALERT_EMAIL_TO"),
            sms_url: SecretSource::from_lookup(
                &var,
                "OSA_ALERT_SMS_WEBHOOK_URL",
                "OSA_ALERT_SMS_WEBHOOK_URL_SECRET_ARN",
            ),
            sms_to: list("OSA_ALERT_SMS_TO"),
            webhook_url,
            webhook_secret,
            runbook_base,
        })
    }

    /// Where the credential a delivery names comes from, if it is a channel's.
    pub fn source(&self, name: &str) -> Option<&SecretSource> {
        match name {
            secret_names::ALERT_SLACK_URL => self.slack_url.as_ref(),
            secret_names::ALERT_PAGERDUTY_KEY => self.pagerduty_routing_key.as_ref(),
            secret_names::ALERT_EMAIL_URL => self.email_url.as_ref(),
            secret_names::ALERT_SMS_URL => self.sms_url.as_ref(),
            secret_names::ALERT_WEBHOOK_URL => self.webhook_url.as_ref(),
            secret_names::ALERT_WEBHOOK_SECRET => self.webhook_secret.as_ref(),
            _ => None,
        }
    }
}

/// The names deliveries give their secrets; [`Config::secret`] answers them.
pub mod secret_names {
    pub use osa_domain::delivery::OPAL_API_KEY;
    pub const ALERT_SLACK_URL: &str = "alert_slack_webhook_url";
    pub const ALERT_PAGERDUTY_KEY: &str = "alert_pagerduty_routing_key";
    pub const ALERT_EMAIL_URL: &str = "alert_email_webhook_url";
    pub const ALERT_SMS_URL: &str = "alert_sms_webhook_url";
    pub const ALERT_WEBHOOK_URL: &str = "alert_webhook_url";
    pub const ALERT_WEBHOOK_SECRET: &str = "alert_webhook_signing_secret";
}

/// The default budget for checking an intake's Optimizely keys.
pub const CREDENTIALS_BUDGET: Duration = Duration::from_secs(4);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("invalid value for {0}: {1}")]
    Invalid(&'static str, String),
    #[error("could not read {0}: {1}")]
    Read(String, std::io::Error),
}

pub fn var(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn required(name: &'static str) -> Result<String, ConfigError> {
    var(name).ok_or(ConfigError::Missing(name))
}

pub fn parsed<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid(name, v)),
    }
}

/// Comma-separated secrets, for rotation: every one is accepted.
pub fn secrets_from(list: &str) -> Vec<Secret> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Secret::new)
        .collect()
}

impl Config {
    /// A configuration with every setting at its default but these three.
    pub fn new(public_base_url: &str, signature: SignatureConfig, opal: OpalConfig) -> Config {
        Config {
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
            signature,
            opal,
            max_body_bytes: MAX_BODY_BYTES,
            deadline_scale: 1.0,
            pii: PiiPolicy::default(),
            retrigger_timed_out_agents: false,
            credentials_budget: CREDENTIALS_BUDGET,
            trust_gateway_claims: false,
            alert_channels: AlertChannels::default(),
            stream: StreamSettings::default(),
            stream_url: None,
            secret_refs: SecretRefs::default(),
            notify: NotifyConfig::default(),
            edge: EdgeSettings {
                cors_allowed_origins: Vec::new(),
                rate_limit: Some(RateLimitConfig::default()),
            },
            opal_health_url: None,
            environment: "local".into(),
        }
    }

    /// The secret a delivery names, when the configuration holds its value
    /// (one held by reference is read by `app::secrets`).
    pub fn secret(&self, name: &str) -> Option<Secret> {
        match name {
            secret_names::OPAL_API_KEY => self.opal.api_key.clone(),
            _ => match self.alert_channels.source(name)? {
                SecretSource::Value(secret) => Some(secret.clone()),
                SecretSource::Arn(_) => None,
            },
        }
    }

    /// Reads `OSA_PUBLIC_URL`, `OSA_WEBHOOK_SECRETS`, `OSA_SIGNATURE_TOLERANCE_PAST_SECS`,
    /// `OSA_SIGNATURE_TOLERANCE_FUTURE_SECS`, `OSA_ALLOW_LEGACY_SIGNATURES`,
    /// `OPAL_TRIGGER_URL`, `OPAL_API_KEY`, `OPAL_TIMEOUT_SECS`, `OSA_DEADLINE_SCALE`.
    ///
    /// Also `OSA_RETRIGGER_TIMED_OUT_AGENTS`, `OSA_CREDENTIALS_BUDGET_MS` and
    /// `OSA_TRUST_GATEWAY_CLAIMS`. The two secrets may instead come from
    /// Secrets Manager (`bootstrap`); without any webhook secret every signature
    /// is refused.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut signature = SignatureConfig::new(webhook_secrets_from_env());
        signature.tolerance_past_ms = parsed("OSA_SIGNATURE_TOLERANCE_PAST_SECS", 300i64)? * 1000;
        signature.tolerance_future_ms =
            parsed("OSA_SIGNATURE_TOLERANCE_FUTURE_SECS", 60i64)? * 1000;
        signature.allow_legacy_unseparated = parsed("OSA_ALLOW_LEGACY_SIGNATURES", false)?;
        let opal = OpalConfig {
            trigger_url: required("OPAL_TRIGGER_URL")?,
            api_key: var("OPAL_API_KEY").map(Secret::new),
            timeout: Duration::from_secs(parsed("OPAL_TIMEOUT_SECS", 45u64)?),
        };
        Config {
            deadline_scale: parsed("OSA_DEADLINE_SCALE", 1.0f64)?,
            pii: pii_from_env()?,
            retrigger_timed_out_agents: parsed("OSA_RETRIGGER_TIMED_OUT_AGENTS", false)?,
            credentials_budget: Duration::from_millis(parsed(
                "OSA_CREDENTIALS_BUDGET_MS",
                CREDENTIALS_BUDGET.as_millis() as u64,
            )?),
            trust_gateway_claims: parsed("OSA_TRUST_GATEWAY_CLAIMS", false)?,
            stream: StreamSettings {
                heartbeat: Duration::from_millis(parsed("OSA_STREAM_HEARTBEAT_MS", 15_000)?),
                poll: Duration::from_millis(parsed("OSA_STREAM_POLL_MS", 1_000)?),
                budget: parsed::<u64>("OSA_STREAM_BUDGET_MS", 0)
                    .map(|ms| (ms > 0).then(|| Duration::from_millis(ms)))?,
            },
            stream_url: stream_url_from_env()?,
            secret_refs: SecretRefs {
                webhook_secrets: var("OSA_WEBHOOK_SECRETS_ARN"),
                opal_api_key: var("OPAL_API_KEY_SECRET_ARN"),
                notify_signing_secret: var("OSA_NOTIFY_SIGNING_SECRET_ARN"),
            },
            notify: NotifyConfig {
                signing_secret: var("OSA_NOTIFY_SIGNING_SECRET")
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| Secret::new(s.trim())),
                targets: if parsed("OSA_NOTIFY_ALLOW_LOCAL", false)? {
                    osa_domain::notification::TargetPolicy::Local
                } else {
                    osa_domain::notification::TargetPolicy::Public
                },
            },
            ..Config::new(&required("OSA_PUBLIC_URL")?, signature, opal)
        }
        .with_shared_settings()
    }

    /// `self` with the settings every process reads from the environment, the
    /// local runtime too (its flags give the rest): the edge (CORS, rate
    /// limit), the alert channels (`OSA_ALERT_*`), the `environment` label,
    /// the OPAL probe's URL and the webhook signature schemes
    /// (`OSA_WEBHOOK_SIGNATURE_SCHEMES`).
    pub fn with_shared_settings(self) -> Result<Config, ConfigError> {
        Ok(Config {
            edge: EdgeSettings::from_env()?,
            alert_channels: AlertChannels::from_env()?,
            opal_health_url: var("OPAL_HEALTH_URL"),
            environment: environment_from_env()?,
            signature: SignatureConfig {
                schemes: parsed("OSA_WEBHOOK_SIGNATURE_SCHEMES", self.signature.schemes)?,
                ..self.signature
            },
            ..self
        })
    }
}

/// Bearer-token settings, read only by the functions that verify tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    pub keys: JwtKeys,
    /// A JWKS file or URL is re-read when older than this.
    pub ttl: Duration,
    /// ...and at most this often (a token naming an unknown `kid` asks early).
    pub min_refresh: Duration,
}

/// Where the token keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwtKeys {
    JwksFile(String),
    /// Fetched when the first token comes, never at start-up.
    JwksUrl(String),
    /// PEM files, read once at start-up.
    Pems(Vec<String>),
}

impl JwtSettings {
    /// `OSA_JWT_ISSUER`, `OSA_JWT_AUDIENCE`, and the keys: `OSA_JWKS_FILE`, else
    /// `OSA_JWKS_URL`, else `OSA_JWT_PUBLIC_KEY_FILES` (comma-separated PEM
    /// paths). A JWKS is re-read when older than `OSA_JWKS_TTL_SECS` (600) or
    /// when a token names an unknown `kid`, at most once per
    /// `OSA_JWKS_MIN_REFRESH_SECS` (60).
    pub fn from_env() -> Result<JwtSettings, ConfigError> {
        let keys = if let Some(path) = var("OSA_JWKS_FILE") {
            JwtKeys::JwksFile(path)
        } else if let Some(url) = var("OSA_JWKS_URL") {
            JwtKeys::JwksUrl(url)
        } else {
            JwtKeys::Pems(
                required("OSA_JWT_PUBLIC_KEY_FILES")?
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )
        };
        Ok(JwtSettings {
            issuer: required("OSA_JWT_ISSUER")?,
            audience: required("OSA_JWT_AUDIENCE")?,
            keys,
            ttl: Duration::from_secs(parsed("OSA_JWKS_TTL_SECS", 600u64)?),
            min_refresh: Duration::from_secs(parsed("OSA_JWKS_MIN_REFRESH_SECS", 60u64)?),
        })
    }
}

/// Base URLs that replace Optimizely's production ones, per service:
/// `OPTIMIZELY_BASE_URL_<SERVICE>` (`..._ODP`, `..._EXPERIMENTATION`,
/// `..._CONTENT_RECS`, `..._CMP`).
pub fn optimizely_base_urls_from_env() -> Vec<(OptimizelyService, String)> {
    OptimizelyService::ALL
        .into_iter()
        .filter_map(|service| {
            let name = format!(
                "OPTIMIZELY_BASE_URL_{}",
                service.as_str().to_ascii_uppercase()
            );
            let url = std::env::var(name).ok()?;
            let url = url.trim();
            (!url.is_empty()).then(|| (service, url.to_owned()))
        })
        .collect()
}

/// Where a deployment on AWS keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsResources {
    pub table: String,
    pub queue_url: String,
    pub event_bus: String,
    /// How long DynamoDB keeps workflow data and the audit trails (its TTL).
    pub retention: Retention,
    /// Running in Lambda: metrics also go to CloudWatch as EMF log lines.
    pub emf: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub workflows: Duration,
    pub audit: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            workflows: Duration::from_secs(90 * 24 * 3600),
            audit: Duration::from_secs(400 * 24 * 3600),
        }
    }
}

impl AwsResources {
    /// `OSA_BACKEND` (must be `aws`: a Lambda links no other backend),
    /// `OSA_TABLE_NAME`, `OSA_QUEUE_URL`, `OSA_EVENT_BUS_NAME`, the retention
    /// (`OSA_RETENTION_DAYS`, default 90; `OSA_AUDIT_RETENTION_DAYS`, default
    /// 400; 1 to 3,650 days) and whether this is Lambda
    /// (`AWS_LAMBDA_FUNCTION_NAME`).
    pub fn from_env() -> Result<AwsResources, ConfigError> {
        AwsResources::from_lookup(var)
    }

    fn from_lookup(
        var: impl Fn(&'static str) -> Option<String>,
    ) -> Result<AwsResources, ConfigError> {
        let required = |name| var(name).ok_or(ConfigError::Missing(name));
        let days = |name: &'static str, default: Duration| match var(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .map(|d| Duration::from_secs(d * 24 * 3600))
                .ok_or(ConfigError::Invalid(name, v)),
        };
        match required("OSA_BACKEND")?.as_str() {
            "aws" => {}
            other => return Err(ConfigError::Invalid("OSA_BACKEND", other.to_owned())),
        }
        let defaults = Retention::default();
        Ok(AwsResources {
            table: required("OSA_TABLE_NAME")?,
            queue_url: required("OSA_QUEUE_URL")?,
            event_bus: required("OSA_EVENT_BUS_NAME")?,
            retention: Retention {
                workflows: days("OSA_RETENTION_DAYS", defaults.workflows)?,
                audit: days("OSA_AUDIT_RETENTION_DAYS", defaults.audit)?,
            },
            emf: var("AWS_LAMBDA_FUNCTION_NAME").is_some(),
        })
    }
}

/// `OSA_WEBHOOK_SECRETS`: the secrets webhooks may be signed with.
pub fn webhook_secrets_from_env() -> Vec<Secret> {
    secrets_from(&var("OSA_WEBHOOK_SECRETS").unwrap_or_default())
}

/// `OSA_PII_MODE` (`partial`, `mask`, `hash`, `none`; default `partial`) and
/// `OSA_PII_HASH_KEY` (the key for `hash`).
fn pii_from_env() -> Result<PiiPolicy, ConfigError> {
    let mode = match var("OSA_PII_MODE").as_deref() {
        None | Some("partial") => RedactionMode::Partial,
        Some("mask") => RedactionMode::Mask,
        Some("hash") => RedactionMode::Hash,
        Some("none") => RedactionMode::None,
        Some(other) => return Err(ConfigError::Invalid("OSA_PII_MODE", other.to_owned())),
    };
    let mut policy = PiiPolicy {
        mode,
        ..PiiPolicy::default()
    };
    if let Some(key) = var("OSA_PII_HASH_KEY") {
        policy.hash_key = Secret::new(key);
    } else if mode == RedactionMode::Hash {
        return Err(ConfigError::Missing("OSA_PII_HASH_KEY"));
    }
    Ok(policy)
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
    fn the_configuration_comes_from_the_environment() {
        assert_eq!(
            RateLimitConfig::from_lookup(lookup(&[])).unwrap(),
            Some(RateLimitConfig::default())
        );
        let set = [
            ("OSA_RATE_LIMIT_PER_MINUTE", "120"),
            ("OSA_RATE_LIMIT_BURST", "7"),
        ];
        assert_eq!(
            RateLimitConfig::from_lookup(lookup(&set))
                .unwrap()
                .map(|c| (c.per_minute, c.burst)),
            Some((120, 7))
        );
        let off = [("OSA_RATE_LIMIT_PER_MINUTE", "0")];
        assert_eq!(RateLimitConfig::from_lookup(lookup(&off)).unwrap(), None);
        for bad in [
            ("OSA_RATE_LIMIT_PER_MINUTE", "lots"),
            ("OSA_RATE_LIMIT_BURST", "0"),
            ("OSA_RATE_LIMIT_BURST", "-1"),
        ] {
            assert!(matches!(
                RateLimitConfig::from_lookup(lookup(&[bad])),
                Err(ConfigError::Invalid(..))
            ));
        }
    }

    #[test]
    fn an_unusable_origin_is_an_error_naming_its_variable() {
        let good = [(
            "OSA_CORS_ALLOWED_ORIGINS",
            "https://a.example, http://localhost:3000/",
        )];
        assert_eq!(
            EdgeSettings::from_lookup(lookup(&good))
                .unwrap()
                .cors_allowed_origins,
            ["https://a.example", "http://localhost:3000"]
        );
        for bad in [
            "*",
            "https://a.example/path",
            "ftp://a.example",
            "https://u@a.example",
        ] {
            let set = [("OSA_CORS_ALLOWED_ORIGINS", bad)];
            assert!(matches!(
                EdgeSettings::from_lookup(lookup(&set)),
                Err(ConfigError::Invalid("OSA_CORS_ALLOWED_ORIGINS", _))
            ));
        }
        let bad_limit = [("OSA_RATE_LIMIT_BURST", "many")];
        assert!(matches!(
            EdgeSettings::from_lookup(lookup(&bad_limit)),
            Err(ConfigError::Invalid("OSA_RATE_LIMIT_BURST", _))
        ));
    }

    #[test]
    fn alert_channels_are_values_or_references() {
        let set = [
            ("OSA_ALERT_SLACK_WEBHOOK_URL", "http://127.0.0.1:9/slack"),
            ("OSA_ALERT_SLACK_WEBHOOK_URL_SECRET_ARN", "arn:ignored"),
            ("OSA_ALERT_PAGERDUTY_ROUTING_KEY_SECRET_ARN", "arn:pd"),
            ("OSA_ALERT_SMS_TO", "+15550100, +15550101"),
            ("OSA_RUNBOOK_BASE_URL", "https://wiki.example/osa/"),
        ];
        let channels = AlertChannels::from_lookup(lookup(&set)).unwrap();
        assert!(matches!(channels.slack_url, Some(SecretSource::Value(_))));
        assert_eq!(
            channels.pagerduty_routing_key,
            Some(SecretSource::Arn("arn:pd".into()))
        );
        assert_eq!(channels.email_url, None);
        assert_eq!(channels.sms_to, ["+15550100", "+15550101"]);
        assert_eq!(
            channels.runbook_base.as_deref(),
            Some("https://wiki.example/osa")
        );
        assert!(matches!(
            AlertChannels::from_lookup(lookup(&[("OSA_RUNBOOK_BASE_URL", "wiki")])),
            Err(ConfigError::Invalid("OSA_RUNBOOK_BASE_URL", _))
        ));
    }

    #[test]
    fn the_generic_alert_webhook_comes_with_its_signing_secret() {
        let url = ("OSA_ALERT_WEBHOOK_URL", "https://hooks.example/osa");
        assert!(matches!(
            AlertChannels::from_lookup(lookup(&[url])),
            Err(ConfigError::Missing("OSA_ALERT_WEBHOOK_SECRET"))
        ));
        let signed = [url, ("OSA_ALERT_WEBHOOK_SECRET_ARN", "arn:whsec")];
        let channels = AlertChannels::from_lookup(lookup(&signed)).unwrap();
        assert_eq!(
            channels.source(secret_names::ALERT_WEBHOOK_SECRET),
            Some(&SecretSource::Arn("arn:whsec".into()))
        );
        assert!(matches!(
            channels.source(secret_names::ALERT_WEBHOOK_URL),
            Some(SecretSource::Value(_))
        ));
    }

    #[test]
    fn aws_resources_come_from_the_environment_and_bad_settings_are_named() {
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
        let found = AwsResources::from_lookup(lookup(&aws)).unwrap();
        assert_eq!(
            (
                found.table.as_str(),
                found.queue_url.as_str(),
                found.event_bus.as_str()
            ),
            ("t", "http://q", "osa")
        );
        assert_eq!(found.retention, Retention::default());
        assert!(!found.emf);
        assert!(matches!(
            AwsResources::from_lookup(lookup(&aws[..2])),
            Err(ConfigError::Missing("OSA_QUEUE_URL"))
        ));
        // A Lambda function links only the AWS adapters.
        for other in ["sqlite", "mongo"] {
            assert!(matches!(
                AwsResources::from_lookup(lookup(&[("OSA_BACKEND", other)])),
                Err(ConfigError::Invalid("OSA_BACKEND", _))
            ));
        }
        for days in ["0", "3651", "ninety"] {
            let mut set = aws.to_vec();
            set.push(("OSA_RETENTION_DAYS", days));
            assert!(matches!(
                AwsResources::from_lookup(lookup(&set)),
                Err(ConfigError::Invalid("OSA_RETENTION_DAYS", _))
            ));
        }
    }
}
