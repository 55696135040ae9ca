//! The outbound HTTP port over reqwest (rustls). One client per process, so
//! connections are pooled across requests.

use std::time::Duration;

use async_trait::async_trait;

use osa_app::ports::{HttpClient, OutboundError, OutboundRequest, OutboundResponse};
use osa_domain::USER_AGENT;
use osa_domain::delivery::parse_retry_after;

#[derive(Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

impl ReqwestClient {
    pub fn new() -> Result<Self, OutboundError> {
        Ok(ReqwestClient {
            client: build_client(USER_AGENT, Duration::from_secs(10))?,
        })
    }
}

/// A pooled client that never follows redirects (a redirect could carry a
/// bearer token to another host).
pub(crate) fn build_client(
    user_agent: &str,
    connect_timeout: Duration,
) -> Result<reqwest::Client, OutboundError> {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| OutboundError::Other(e.to_string()))
}

/// Sends a prepared request: transport failures as `OutboundError` (without the
/// URL), the answer as its status and `Retry-After` (seconds or an HTTP date).
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
) -> Result<OutboundResponse, OutboundError> {
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            OutboundError::Timeout
        } else if e.is_connect() {
            OutboundError::Connect(without_url(&e))
        } else {
            OutboundError::Other(without_url(&e))
        }
    })?;
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, time::OffsetDateTime::now_utc()));
    Ok(OutboundResponse {
        status: response.status().as_u16(),
        retry_after,
    })
}

#[async_trait]
impl HttpClient for ReqwestClient {
    async fn post(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let mut builder = self
            .client
            .post(&request.url)
            .timeout(request.timeout)
            .body(request.body);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        send(builder).await
    }

    async fn get(&self, url: &str, timeout: Duration) -> Result<OutboundResponse, OutboundError> {
        send(self.client.get(url).timeout(timeout)).await
    }
}

/// reqwest puts the URL in its messages; URLs can carry tokens, so drop it.
fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url() {
        msg = msg.replace(url.as_str(), "<url>");
    }
    msg
}
