//! Secrets from AWS Secrets Manager, read by ARN.

use async_trait::async_trait;

use super::describe;
use osa_app::ports::{SecretStore, SecretUnavailable};
use osa_domain::Secret;

#[derive(Debug, thiserror::Error)]
#[error("could not read secret {arn}: {reason}")]
pub struct SecretError {
    pub arn: String,
    pub reason: String,
}

/// The `SecretString` of a Secrets Manager secret. Never logged.
pub async fn secret_value(arn: &str) -> Result<Secret, SecretError> {
    let failed = |reason: String| SecretError {
        arn: arn.to_owned(),
        reason,
    };
    let config = super::load_config(None).await;
    let mut builder = aws_sdk_secretsmanager::config::Builder::from(&config);
    if let Some(log) = super::CallLog::from_env() {
        builder = builder.interceptor(log);
    }
    let client = aws_sdk_secretsmanager::Client::from_conf(builder.build());
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| failed(describe("GetSecretValue", &e)))?;
    out.secret_string()
        .map(Secret::new)
        .ok_or_else(|| failed("the secret has no SecretString".into()))
}

/// The secret store on AWS: each read is one `GetSecretValue`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecretsManager;

#[async_trait]
impl SecretStore for SecretsManager {
    async fn read(&self, id: &str) -> Result<Secret, SecretUnavailable> {
        secret_value(id)
            .await
            .map_err(|e| SecretUnavailable(e.reason))
    }
}
