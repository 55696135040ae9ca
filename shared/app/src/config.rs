//! Runtime configuration, read from the environment in Lambda and built from
//! flags and the data directory by the local runtime.

use std::time::Duration;

use osa_domain::Secret;
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

/// Where alert notifications go; a channel without an endpoint is skipped. The
/// webhook URLs and the PagerDuty routing key are credentials: deliveries name
/// them (`secret_names`) and the worker looks them up when it sends.
#[derive(Clone, Debug, Default)]
pub struct AlertChannels {
    pub slack_url: Option<Secret>,
    pub pagerduty_routing_key: Option<Secret>,
    /// The PagerDuty Events API v2 endpoint (not a secret; its default is public).
    pub pagerduty_url: Option<String>,
    pub email_url: Option<Secret>,
    pub email_to: Vec<String>,
    pub sms_url: Option<Secret>,
    pub sms_to: Vec<String>,
    pub runbook_base: Option<String>,
}

impl AlertChannels {
    /// `OSA_ALERT_SLACK_WEBHOOK_URL`; `OSA_ALERT_PAGERDUTY_ROUTING_KEY` (and
    /// `OSA_ALERT_PAGERDUTY_URL`); `OSA_ALERT_EMAIL_WEBHOOK_URL` with
    /// `OSA_ALERT_EMAIL_TO`; `OSA_ALERT_SMS_WEBHOOK_URL` with `OSA_ALERT_SMS_TO`
    /// (comma-separated lists); `OSA_RUNBOOK_BASE_URL`.
    pub fn from_env() -> AlertChannels {
        let list = |name| {
            var(name)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        AlertChannels {
            slack_url: var("OSA_ALERT_SLACK_WEBHOOK_URL").map(Secret::new),
            pagerduty_routing_key: var("OSA_ALERT_PAGERDUTY_ROUTING_KEY").map(Secret::new),
            pagerduty_url: var("OSA_ALERT_PAGERDUTY_URL"),
            email_url: var("OSA_ALERT_EMAIL_WEBHOOK_URL").map(Secret::new),
            email_to: list("OSA_ALERT_EMAIL_TO"),
            sms_url: var("OSA_ALERT_SMS_WEBHOOK_URL").map(Secret::new),
            sms_to: list("OSA_ALERT_SMS_TO"),
            runbook_base: var("OSA_RUNBOOK_BASE_URL"),
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
        }
    }

    /// The secret a delivery names, looked up when it is sent.
    pub fn secret(&self, name: &str) -> Option<Secret> {
        let channels = &self.alert_channels;
        match name {
            secret_names::OPAL_API_KEY => self.opal.api_key.clone(),
            secret_names::ALERT_SLACK_URL => channels.slack_url.clone(),
            secret_names::ALERT_PAGERDUTY_KEY => channels.pagerduty_routing_key.clone(),
            secret_names::ALERT_EMAIL_URL => channels.email_url.clone(),
            secret_names::ALERT_SMS_URL => channels.sms_url.clone(),
            _ => None,
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
        let mut signature = SignatureConfig::new(secrets_from(
            &var("OSA_WEBHOOK_SECRETS").unwrap_or_default(),
        ));
        signature.tolerance_past_ms = parsed("OSA_SIGNATURE_TOLERANCE_PAST_SECS", 300i64)? * 1000;
        signature.tolerance_future_ms =
            parsed("OSA_SIGNATURE_TOLERANCE_FUTURE_SECS", 60i64)? * 1000;
        signature.allow_legacy_unseparated = parsed("OSA_ALLOW_LEGACY_SIGNATURES", false)?;
        let opal = OpalConfig {
            trigger_url: required("OPAL_TRIGGER_URL")?,
            api_key: var("OPAL_API_KEY").map(Secret::new),
            timeout: Duration::from_secs(parsed("OPAL_TIMEOUT_SECS", 45u64)?),
        };
        Ok(Config {
            deadline_scale: parsed("OSA_DEADLINE_SCALE", 1.0f64)?,
            pii: pii_from_env()?,
            retrigger_timed_out_agents: parsed("OSA_RETRIGGER_TIMED_OUT_AGENTS", false)?,
            credentials_budget: Duration::from_millis(parsed(
                "OSA_CREDENTIALS_BUDGET_MS",
                CREDENTIALS_BUDGET.as_millis() as u64,
            )?),
            trust_gateway_claims: parsed("OSA_TRUST_GATEWAY_CLAIMS", false)?,
            alert_channels: AlertChannels::from_env(),
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
        })
    }
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
