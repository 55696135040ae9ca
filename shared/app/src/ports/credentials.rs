//! Checking the Optimizely keys an intake gives, before anything runs with them.

use async_trait::async_trait;

use osa_domain::credentials::{CheckOutcome, OptimizelyService};
use osa_domain::intake::Credentials;

#[async_trait]
pub trait CredentialChecker: Send + Sync {
    /// Checks every key given, concurrently; services without a key are left
    /// out. Keys are never stored, logged or echoed.
    async fn check(&self, credentials: &Credentials) -> Vec<(OptimizelyService, CheckOutcome)>;
}
