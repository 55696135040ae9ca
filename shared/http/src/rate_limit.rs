//! Per-client rate limits at the edge: GCRA (the generic cell rate algorithm)
//! keyed by client, answering `429` with `Retry-After` and the usual JSON error.
//!
//! The client is the verified token's subject, else the source address: API
//! Gateway's `requestContext.http.sourceIp` in Lambda, the peer address when the
//! server knows it, else the first `X-Forwarded-For` hop. A token that does not
//! verify counts against the address it came from, never against the subject it
//! claims, so nobody can spend another client's allowance.
//!
//! Each instance (Lambda execution environment, `osa serve`) keeps its own GCRA,
//! so a burst stops without a store call; a request it lets through also spends
//! a token of a one-minute window the instances share in the store. Tokens are
//! taken in leases (`RateLimitLeases::take_shared_rate_tokens`): one, then twice as
//! many each time a client spends its lease within the minute, up to a tenth of
//! its allowance, so a busy sender costs one store write per many requests while
//! no instance sits on more than a tenth of anyone's minute. (The embedded store,
//! used by one process, needs no shared count.) The webhook sender gets a larger
//! allowance of its own.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::access::caller_of;
use osa_app::Services;
pub use osa_app::config::RateLimitConfig;
use osa_app::ports::Clock;

/// A keyed GCRA limiter over the clock port. Each client costs one map entry:
/// its theoretical arrival time (TAT) in microseconds.
pub struct RateLimiter {
    /// Microseconds between requests at the sustained rate.
    interval: i64,
    /// How far ahead of now a client's TAT may run (the burst allowance).
    tolerance: i64,
    max_clients: usize,
    clock: Arc<dyn Clock>,
    tats: Mutex<HashMap<String, i64>>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig, clock: Arc<dyn Clock>) -> RateLimiter {
        let interval = (60_000_000 / i64::from(config.per_minute.max(1))).max(1);
        RateLimiter {
            interval,
            tolerance: interval * i64::from(config.burst.max(1) - 1),
            max_clients: config.max_clients.max(1),
            clock,
            tats: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request from `client`: `Ok` to serve it, or how long until it
    /// would be served.
    pub fn check(&self, client: &str) -> Result<(), Duration> {
        let now = micros(self.clock.as_ref());
        let mut tats = self.tats.lock().unwrap_or_else(|e| e.into_inner());
        let tat = tats.get(client).copied().unwrap_or(now).max(now);
        let allowed_at = tat - self.tolerance;
        if now < allowed_at {
            return Err(Duration::from_micros((allowed_at - now) as u64));
        }
        if !tats.contains_key(client) && tats.len() >= self.max_clients {
            // A TAT in the past means a full allowance: same as no entry.
            tats.retain(|_, tat| *tat > now);
            if tats.len() >= self.max_clients
                && let Some(key) = tats
                    .iter()
                    .min_by_key(|(_, tat)| **tat)
                    .map(|(k, _)| k.clone())
            {
                tats.remove(&key);
            }
        }
        tats.insert(client.to_owned(), tat + self.interval);
        Ok(())
    }

    pub fn tracked_clients(&self) -> usize {
        self.tats.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

fn micros(clock: &dyn Clock) -> i64 {
    (clock.now().unix_timestamp_nanos() / 1_000) as i64
}

/// What the edge middleware needs: the services (to name the client by its
/// verified token) and the limiters.
pub(super) struct Limits {
    pub services: Services,
    pub limiter: Option<RateLimiter>,
    /// Where instances share their counts (DynamoDB in AWS); `None` for the
    /// embedded store, whose one process is exact already.
    pub shared: Option<Arc<dyn osa_app::ports::RateLimitLeases>>,
    pub clock: Arc<dyn Clock>,
    /// Requests a client may make per minute across all instances.
    pub shared_per_minute: Option<u32>,
    /// The webhook route's own limiter: OPAL sends every agent's events from a
    /// few addresses, so one sender gets [`WEBHOOK_ALLOWANCE`] times the normal
    /// allowance; unsigned floods still stop (each would cost an audit write).
    pub webhook_limiter: Option<RateLimiter>,
    /// Shared tokens this instance holds, per client: at most `max_clients`.
    pub leases: Mutex<HashMap<String, Lease>>,
    pub max_clients: usize,
}

/// Tokens of one client's shared minute that this instance took and has not
/// spent yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lease {
    window: i64,
    left: u32,
    /// The size of the last lease: the next is twice that.
    size: u32,
}

impl Lease {
    /// Spends one token of the current window's lease, if any is left.
    fn spend(lease: Option<&mut Lease>, window: i64) -> bool {
        match lease {
            Some(lease) if lease.window == window && lease.left > 0 => {
                lease.left -= 1;
                true
            }
            _ => false,
        }
    }

    /// How many to ask for next: 1 in a new minute, else twice the last lease,
    /// at most a tenth of the limit.
    fn next_size(lease: Option<&Lease>, window: i64, limit: u32) -> u32 {
        let most = (limit / 10).max(1);
        match lease {
            Some(lease) if lease.window == window => lease.size.saturating_mul(2).min(most),
            _ => 1,
        }
    }
}

/// How long the shared count may take before the request goes on without it:
/// a store that stalls must not spend the request's own time budget twice.
const SHARED_CHECK_BUDGET: Duration = Duration::from_millis(500);

/// The webhook path, limited on its own, more generously.
pub const WEBHOOK_PATH: &str = super::routes::WEBHOOK_PATH;

/// How many times a client's normal allowance a webhook sender gets.
pub const WEBHOOK_ALLOWANCE: u32 = 10;

/// The webhook route's allowance: `config`, [`WEBHOOK_ALLOWANCE`] times over.
pub fn for_webhooks(config: RateLimitConfig) -> RateLimitConfig {
    RateLimitConfig {
        per_minute: config.per_minute.saturating_mul(WEBHOOK_ALLOWANCE),
        burst: config.burst.saturating_mul(WEBHOOK_ALLOWANCE),
        ..config
    }
}

impl Limits {
    /// The cross-instance check: a fixed one-minute window per client. A store
    /// failure lets the request through (and is logged): the limiter must not
    /// take the API down with it.
    async fn shared_allows(&self, client: &str, webhook: bool) -> Result<(), Duration> {
        let (Some(per_minute), Some(shared)) = (self.shared_per_minute, &self.shared) else {
            return Ok(());
        };
        let per_minute = if webhook {
            per_minute.saturating_mul(WEBHOOK_ALLOWANCE)
        } else {
            per_minute
        };
        let now = self.clock.now().unix_timestamp();
        let window = now - now.rem_euclid(60);
        let size = {
            let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
            if Lease::spend(leases.get_mut(client), window) {
                return Ok(());
            }
            Lease::next_size(leases.get(client), window, per_minute)
        };
        let taken = tokio::time::timeout(
            SHARED_CHECK_BUDGET,
            shared.take_shared_rate_tokens(client, window, per_minute, size),
        )
        .await
        .unwrap_or_else(|_| {
            Err(osa_app::ports::StoreError::Unavailable(
                "the shared rate limit did not answer in time".into(),
            ))
        });
        match taken {
            Ok(0) => Err(Duration::from_secs((window + 60 - now).max(1) as u64)),
            Ok(granted) => {
                let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
                if leases.len() >= self.max_clients && !leases.contains_key(client) {
                    // Last minute's leases are spent or void: forget them first.
                    leases.retain(|_, lease| lease.window == window);
                    if leases.len() >= self.max_clients {
                        leases.clear();
                    }
                }
                leases.insert(
                    client.to_owned(),
                    Lease {
                        window,
                        left: granted - 1,
                        size: granted,
                    },
                );
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "shared rate limit unavailable; request allowed");
                Ok(())
            }
        }
    }
}

/// Names the client, then lets the request through or answers 429.
/// A refused webhook is audited like any other (its body unread: only its
/// declared size is known). Best effort: the `429` stands either way.
async fn audit_refused_webhook(services: &Services, unread: (Option<String>, u64)) {
    let (correlation_id, declared_bytes) = unread;
    let audited =
        osa_app::webhook::audit_rate_limited(services, correlation_id.as_deref(), declared_bytes);
    if let Err(e) = audited.await {
        tracing::error!(error = %e, "a rate-limited webhook was not audited");
    }
}

/// What is known of a request whose body is not read: its correlation id and
/// declared size.
fn unread(request: &Request) -> (Option<String>, u64) {
    let correlation_id = request
        .extensions()
        .get::<super::CorrelationId>()
        .map(|c| c.0.clone());
    let declared_bytes = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (correlation_id, declared_bytes)
}

pub(super) async fn identify_and_limit(
    State(edge): State<Arc<Limits>>,
    mut request: Request,
    next: Next,
) -> Response {
    // A verified token names the client; the access layer reuses the caller.
    let subject = if request.headers().contains_key(header::AUTHORIZATION) {
        caller_of(&edge.services, request.headers(), request.extensions())
            .await
            .ok()
    } else {
        None
    };
    if let Some(caller) = &subject {
        request.extensions_mut().insert(caller.clone());
    }
    let webhook = request.uri().path() == WEBHOOK_PATH;
    let limiter = if webhook {
        &edge.webhook_limiter
    } else {
        &edge.limiter
    };
    if let Some(limiter) = limiter {
        let (client, subject) = match subject {
            Some(caller) => (format!("sub:{}", caller.subject), Some(caller.subject)),
            None => (
                format!("ip:{}", source_address(&request).unwrap_or_default()),
                None,
            ),
        };
        let client = if webhook {
            format!("hook:{client}")
        } else {
            client
        };
        let verdict = match limiter.check(&client) {
            Ok(()) => edge.shared_allows(&client, webhook).await,
            refused => refused,
        };
        if let Err(wait) = verdict {
            // The subject names a client; an address is personal data, so it is not logged.
            tracing::warn!(
                subject = subject.as_deref().unwrap_or("-"),
                retry_after_ms = wait.as_millis() as u64,
                "rate limited"
            );
            if webhook {
                let unread = unread(&request);
                audit_refused_webhook(&edge.services, unread).await;
            }
            return too_many_requests(wait);
        }
    }
    next.run(request).await
}

/// Where the request came from, most trustworthy source first.
pub fn source_address(request: &Request) -> Option<String> {
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) =
        request.extensions().get()
        && let Some(ip) = context.http.source_ip.as_deref()
    {
        return Some(ip.to_owned());
    }
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        return Some(peer.ip().to_string());
    }
    request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|hop| hop.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_string())
}

fn too_many_requests(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests; retry after {secs} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use osa_testkit::ManualClock;

    fn limiter(per_minute: u32, burst: u32) -> (RateLimiter, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(time::OffsetDateTime::UNIX_EPOCH));
        let config = RateLimitConfig {
            per_minute,
            burst,
            max_clients: 3,
        };
        (RateLimiter::new(config, clock.clone()), clock)
    }

    #[test]
    fn a_burst_is_served_then_the_sustained_rate() {
        // 60 a minute: one a second, five at once.
        let (l, clock) = limiter(60, 5);
        for _ in 0..5 {
            assert_eq!(l.check("a"), Ok(()));
        }
        assert_eq!(l.check("a"), Err(Duration::from_secs(1)));
        clock.advance(Duration::from_millis(400));
        assert_eq!(l.check("a"), Err(Duration::from_millis(600)));
        clock.advance(Duration::from_millis(600));
        assert_eq!(l.check("a"), Ok(()));
        assert!(l.check("a").is_err());
        // Idle for long enough, the whole burst is back (and no more).
        clock.advance(Duration::from_secs(60));
        for _ in 0..5 {
            assert_eq!(l.check("a"), Ok(()));
        }
        assert!(l.check("a").is_err());
    }

    #[test]
    fn clients_do_not_share_an_allowance() {
        let (l, _) = limiter(60, 2);
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_err());
        assert!(l.check("b").is_ok());
        assert!(l.check("b").is_ok());
        assert!(l.check("b").is_err());
    }

    #[test]
    fn the_client_table_stays_bounded() {
        let (l, clock) = limiter(60, 2);
        for client in ["a", "b", "c"] {
            assert!(l.check(client).is_ok());
            assert!(l.check(client).is_ok());
        }
        // Full, and every entry is in debt: the least indebted is forgotten.
        clock.advance(Duration::from_millis(10));
        assert!(l.check("d").is_ok());
        assert_eq!(l.tracked_clients(), 3);
        // Later, entries back at a full allowance are dropped first.
        clock.advance(Duration::from_secs(10));
        for client in ["e", "f", "g", "h"] {
            assert!(l.check(client).is_ok());
        }
        assert_eq!(l.tracked_clients(), 3);
    }

    #[test]
    fn the_source_address_prefers_api_gateway_then_the_peer_then_the_first_forwarded_hop() {
        use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
        use lambda_http::request::RequestContext;
        let request = || {
            Request::builder()
                .header("x-forwarded-for", "203.0.113.7, 10.0.0.1")
                .body(axum::body::Body::empty())
                .unwrap()
        };
        assert_eq!(source_address(&request()).as_deref(), Some("203.0.113.7"));
        let mut with_peer = request();
        with_peer
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 4000))));
        assert_eq!(source_address(&with_peer).as_deref(), Some("192.0.2.1"));
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some("198.51.100.9".into());
        with_peer
            .extensions_mut()
            .insert(RequestContext::ApiGatewayV2(context));
        assert_eq!(source_address(&with_peer).as_deref(), Some("198.51.100.9"));
        let junk = Request::builder()
            .header("x-forwarded-for", "not-an-address")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(source_address(&junk), None);
    }
}
