//! Secrets from AWS Secrets Manager, read by ARN.

use super::describe;
use crate::domain::Secret;

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
