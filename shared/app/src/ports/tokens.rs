//! Bearer tokens: who is calling, as the identity provider vouches.

use async_trait::async_trait;

use osa_domain::access::{AccessError, Caller};

#[async_trait]
pub trait TokenVerifier: Send + Sync {
    /// Verifies a bearer token (without the `Bearer ` prefix). May fetch the
    /// identity provider's keys, cached, on first use or when a token names a
    /// key the cache does not hold; when they cannot be had the answer is
    /// [`AccessError::Unavailable`], never a panic or a hang past its timeout.
    async fn verify(&self, token: &str) -> Result<Caller, AccessError>;
}
