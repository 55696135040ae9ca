//! The HTTP rate limit's count shared by every instance. A store that only one
//! process uses (the embedded one) has none: the in-process limiter is exact
//! there.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait RateLimitLeases: Send + Sync {
    /// Takes up to `wanted` requests of `client`'s allowance in the minute
    /// starting at `window_start` (unix seconds), `limit` in all, across every
    /// instance that shares this store, and answers how many it got: `wanted`,
    /// fewer near the limit (at least one while any is left), 0 when the client
    /// used its `limit`. An instance takes several at once (a lease) and spends
    /// them without asking again.
    async fn take_shared_rate_tokens(
        &self,
        client: &str,
        window_start: i64,
        limit: u32,
        wanted: u32,
    ) -> Result<u32, StoreError>;
}
