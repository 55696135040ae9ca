//! The outbound HTTP port over reqwest (rustls). One client per process, so
//! connections are pooled across requests.

use std::time::Duration;

use async_trait::async_trait;

use crate::ports::{HttpClient, OutboundError, OutboundRequest, OutboundResponse};

pub const USER_AGENT: &str = concat!("OSA-Webhook-Delivery/", env!("CARGO_PKG_VERSION"));

#[derive(Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

impl ReqwestClient {
    pub fn new() -> Result<Self, OutboundError> {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OutboundError::Other(e.to_string()))?;
        Ok(ReqwestClient { client })
    }
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
        let response = builder.send().await.map_err(|e| {
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
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Ok(OutboundResponse {
            status: response.status().as_u16(),
            retry_after,
        })
    }

    async fn get(&self, url: &str, timeout: Duration) -> Result<OutboundResponse, OutboundError> {
        let response = self
            .client
            .get(url)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    OutboundError::Timeout
                } else if e.is_connect() {
                    OutboundError::Connect(without_url(&e))
                } else {
                    OutboundError::Other(without_url(&e))
                }
            })?;
        Ok(OutboundResponse {
            status: response.status().as_u16(),
            retry_after: None,
        })
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
