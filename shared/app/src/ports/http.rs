//! Outbound HTTP: POSTs to OPAL and notification targets, GETs for health probes.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

#[derive(Clone)]
pub struct OutboundRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub timeout: Duration,
    /// The URL came from a caller (an intake's `notify_url`), not from the
    /// operator: under the public policy the client refuses it when it is or
    /// resolves to an internal address.
    pub caller_target: bool,
}

impl std::fmt::Debug for OutboundRequest {
    // Header values may carry credentials: show names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundRequest")
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("body_bytes", &self.body.len())
            .field("timeout", &self.timeout)
            .field("caller_target", &self.caller_target)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    /// Parsed from `Retry-After` (seconds or an HTTP date) when present.
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("request timed out")]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Other(String),
    /// Not sent: the target is not one this deployment may reach.
    #[error("refused: {0}")]
    Refused(String),
}

#[async_trait]
pub trait HttpClient: Send + Sync {
    async fn post(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError>;

    /// A plain GET, for health probes. Clients that cannot GET say so.
    async fn get(&self, url: &str, timeout: Duration) -> Result<OutboundResponse, OutboundError> {
        let _ = (url, timeout);
        Err(OutboundError::Other("this client cannot GET".into()))
    }
}
