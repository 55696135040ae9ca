//! The outbound HTTP port over reqwest (rustls). One client per process, so
//! connections are pooled across requests.
//!
//! A caller-chosen target (an intake's `notify_url`) goes through a second
//! client under the public policy: its resolver refuses names that resolve to
//! an internal address ([`osa_domain::notification::is_internal`]), so the
//! address checked is the address connected to, and a literal address is
//! checked before the request is made (a resolver never sees those).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use osa_app::ports::{HttpClient, OutboundError, OutboundRequest, OutboundResponse};
use osa_domain::USER_AGENT;
use osa_domain::delivery::parse_retry_after;
use osa_domain::notification::{TargetPolicy, check_url, is_internal};

#[derive(Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
    /// For caller-chosen targets; `None` when the policy lets them be anywhere.
    guarded: Option<reqwest::Client>,
}

impl ReqwestClient {
    /// A client for a deployment whose caller-chosen targets follow `targets`.
    pub fn new(targets: TargetPolicy) -> Result<Self, OutboundError> {
        Self::with_resolver(targets, Arc::new(SystemResolver))
    }

    /// As [`ReqwestClient::new`], resolving caller-chosen names with `names`
    /// (whose answers are still checked): for tests that need a name to
    /// resolve to a given address.
    pub fn with_resolver(
        targets: TargetPolicy,
        names: Arc<dyn Resolve>,
    ) -> Result<Self, OutboundError> {
        let guarded = match targets {
            TargetPolicy::Local => None,
            TargetPolicy::Public => Some(
                client_builder(USER_AGENT, Duration::from_secs(10))
                    // A proxy would connect for us, past the resolver's check.
                    .no_proxy()
                    .dns_resolver(Arc::new(PublicOnly { names }))
                    .build()
                    .map_err(|e| OutboundError::Other(e.to_string()))?,
            ),
        };
        Ok(ReqwestClient {
            client: build_client(USER_AGENT, Duration::from_secs(10))?,
            guarded,
        })
    }
}

/// The operating system's resolver (`getaddrinfo`, through tokio).
struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Resolves with `names`, then refuses the lot if any address is internal (a
/// name that answers with a public and an internal address is refused too:
/// the connection could go to either).
struct PublicOnly {
    names: Arc<dyn Resolve>,
}

/// A caller-chosen target that would reach an internal address.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves to an internal address")]
struct InternalTarget(String);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let names = self.names.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = names.resolve(name).await?.collect();
            if addrs.is_empty() || addrs.iter().any(|a| is_internal(a.ip())) {
                return Err(Box::new(InternalTarget(host)) as _);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A pooled client that never follows redirects (a redirect could carry a
/// bearer token to another host).
pub(crate) fn build_client(
    user_agent: &str,
    connect_timeout: Duration,
) -> Result<reqwest::Client, OutboundError> {
    client_builder(user_agent, connect_timeout)
        .build()
        .map_err(|e| OutboundError::Other(e.to_string()))
}

fn client_builder(user_agent: &str, connect_timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
}

/// Sends a prepared request: transport failures as `OutboundError` (without the
/// URL), the answer as its status and `Retry-After` (seconds or an HTTP date).
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
) -> Result<OutboundResponse, OutboundError> {
    let response = request.send().await.map_err(|e| {
        if let Some(refused) = internal_target(&e) {
            OutboundError::Refused(refused.to_string())
        } else if e.is_timeout() {
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
        let client = match (&self.guarded, request.caller_target) {
            (Some(guarded), true) => {
                // A literal address never reaches the resolver: check it here.
                check_url(&request.url, TargetPolicy::Public)
                    .map_err(|why| OutboundError::Refused(format!("target {why}")))?;
                guarded
            }
            _ => &self.client,
        };
        let mut builder = client
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

/// The resolver's refusal, if that is why the request failed.
fn internal_target(e: &reqwest::Error) -> Option<&InternalTarget> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<InternalTarget>() {
            return Some(refused);
        }
        source = err.source();
    }
    None
}

/// reqwest puts the URL in its messages; URLs can carry tokens, so drop it.
fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url() {
        msg = msg.replace(url.as_str(), "<url>");
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// Answers every name with `addrs`.
    struct Fixed(Vec<SocketAddr>);

    impl Resolve for Fixed {
        fn resolve(&self, _: Name) -> Resolving {
            let addrs = self.0.clone();
            Box::pin(async move { Ok(Box::new(addrs.into_iter()) as Addrs) })
        }
    }

    async fn resolve(answers: &[&str]) -> Result<Vec<SocketAddr>, String> {
        let addrs = answers
            .iter()
            .map(|a| SocketAddr::new(a.parse().expect("ip"), 0))
            .collect();
        let guard = PublicOnly {
            names: Arc::new(Fixed(addrs)),
        };
        let name = Name::from_str("hooks.example.com").expect("name");
        match guard.resolve(name).await {
            Ok(addrs) => Ok(addrs.collect()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[tokio::test]
    async fn public_answers_pass_and_any_internal_one_refuses_the_name() {
        assert_eq!(resolve(&["8.8.8.8"]).await.map(|a| a.len()), Ok(1));
        for answers in [
            &["127.0.0.1"][..],
            &["8.8.8.8", "169.254.169.254"],
            &["::ffff:10.0.0.1"],
            &["100.64.0.1"],
            &[],
        ] {
            let refused = resolve(answers).await;
            assert!(
                matches!(&refused, Err(e) if e.contains("internal address")),
                "{answers:?}: {refused:?}"
            );
        }
    }
}
