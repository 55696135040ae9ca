//! Credentials held by reference (a Secrets Manager ARN), read when first
//! needed, never at start-up: a function starts while the secret store is down.

use async_trait::async_trait;

use osa_domain::Secret;

#[derive(Debug, Clone, thiserror::Error)]
#[error("the secret store did not answer: {0}")]
pub struct SecretUnavailable(pub String);

#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The secret stored under `id`. Never logged.
    async fn read(&self, id: &str) -> Result<Secret, SecretUnavailable>;
}
