//! The credentials a process holds by reference: each read from the secret
//! store the first time it is needed and kept for the life of the process (a
//! Lambda instance). A read that fails is tried again by the next request, so a
//! secret store that is down costs those requests, never the function's start.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::Services;
use crate::config::{SecretSource, secret_names, secrets_from};
use crate::ports::{SecretStore, SecretUnavailable};
use osa_domain::Secret;
use osa_domain::signature::SignatureConfig;

/// The secrets read so far, and where to read the others.
pub struct HeldSecrets {
    store: Option<Arc<dyn SecretStore>>,
    /// The configured signature settings with the referenced secrets added.
    webhook: OnceCell<SignatureConfig>,
    opal_api_key: OnceCell<Secret>,
    notify_signing_secret: OnceCell<Secret>,
    /// The alert channels' targets held by reference, by the name deliveries
    /// give them.
    alert_targets: BTreeMap<&'static str, OnceCell<Secret>>,
}

impl HeldSecrets {
    /// `store`: where references are read (`None`: nothing is held by reference).
    pub fn new(store: Option<Arc<dyn SecretStore>>) -> HeldSecrets {
        HeldSecrets {
            store,
            webhook: OnceCell::new(),
            opal_api_key: OnceCell::new(),
            notify_signing_secret: OnceCell::new(),
            alert_targets: [
                secret_names::ALERT_SLACK_URL,
                secret_names::ALERT_PAGERDUTY_KEY,
                secret_names::ALERT_EMAIL_URL,
                secret_names::ALERT_SMS_URL,
                secret_names::ALERT_WEBHOOK_URL,
                secret_names::ALERT_WEBHOOK_SECRET,
            ]
            .into_iter()
            .map(|name| (name, OnceCell::new()))
            .collect(),
        }
    }

    async fn read(&self, id: &str) -> Result<Secret, SecretUnavailable> {
        match &self.store {
            Some(store) => store.read(id).await,
            None => Err(SecretUnavailable(
                "a secret is named by reference but no secret store is configured".into(),
            )),
        }
    }
}

impl std::fmt::Debug for HeldSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldSecrets")
            .field("webhook_read", &self.webhook.initialized())
            .field("opal_api_key_read", &self.opal_api_key.initialized())
            .finish_non_exhaustive()
    }
}

/// How webhook signatures are checked: the configured secrets, or those the
/// reference names, read on first use.
pub async fn signature_config(services: &Services) -> Result<&SignatureConfig, SecretUnavailable> {
    let config = &services.config;
    let Some(arn) = config.secret_refs.webhook_secrets.as_deref() else {
        return Ok(&config.signature);
    };
    let held = &services.secrets;
    let signature = held
        .webhook
        .get_or_try_init(|| async {
            let mut signature = config.signature.clone();
            signature
                .secrets
                .extend(secrets_from(held.read(arn).await?.expose()));
            Ok::<_, SecretUnavailable>(signature)
        })
        .await?;
    Ok(signature)
}

/// The OPAL API key: the configured one, or the one the reference names.
pub async fn opal_api_key(services: &Services) -> Result<Option<Secret>, SecretUnavailable> {
    let config = &services.config;
    if let Some(key) = &config.opal.api_key {
        return Ok(Some(key.clone()));
    }
    let Some(arn) = config.secret_refs.opal_api_key.as_deref() else {
        return Ok(None);
    };
    let held = &services.secrets;
    let key = held
        .opal_api_key
        .get_or_try_init(|| async { Ok(Secret::new(held.read(arn).await?.expose().trim())) })
        .await?;
    Ok(Some(key.clone()))
}

/// The secret result-ready notifications are signed with: the configured one,
/// or the one the reference names.
pub async fn notify_signing_secret(
    services: &Services,
) -> Result<Option<Secret>, SecretUnavailable> {
    let config = &services.config;
    if let Some(secret) = &config.notify.signing_secret {
        return Ok(Some(secret.clone()));
    }
    let Some(arn) = config.secret_refs.notify_signing_secret.as_deref() else {
        return Ok(None);
    };
    let held = &services.secrets;
    let secret = held
        .notify_signing_secret
        .get_or_try_init(|| async { Ok(Secret::new(held.read(arn).await?.expose().trim())) })
        .await?;
    Ok(Some(secret.clone()))
}

/// An alert channel's credential a delivery names (`secret_names::ALERT_*`):
/// the configured value, or the Secrets Manager secret its reference names,
/// read once per process. `None`: this process has no such channel.
pub async fn alert_target(
    services: &Services,
    name: &str,
) -> Result<Option<Secret>, SecretUnavailable> {
    let arn = match services.config.alert_channels.source(name) {
        None => return Ok(None),
        Some(SecretSource::Value(secret)) => return Ok(Some(secret.clone())),
        Some(SecretSource::Arn(arn)) => arn,
    };
    let held = &services.secrets;
    let Some(cell) = held.alert_targets.get(name) else {
        return Ok(None);
    };
    let secret = cell
        .get_or_try_init(|| async { Ok(Secret::new(held.read(arn).await?.expose().trim())) })
        .await?;
    Ok(Some(secret.clone()))
}
