//! A resilient client for the four Optimizely services: odp,
//! experimentation, content_recs and cmp.
//!
//! Every call goes, in order, through the service's circuit breaker (an open
//! circuit spends nothing), its token bucket, then up to `max_attempts` HTTP
//! attempts with exponential backoff. 5xx answers and transport failures are
//! retried; 4xx answers are not. 401 and 403 come back as
//! [`OptimizelyError::CredentialsInvalid`], which pauses a workflow instead of
//! failing it. The breaker counts one outcome per call, after its retries: the
//! retry loop runs inside the breaker.
//!
//! Time is the `Clock` port and waiting is the [`Sleeper`] trait, so tests move a
//! `ManualClock` and never sleep. Breaker and bucket state live in this process:
//! one per Lambda container, one for `osa serve`.
//!
//! The HTTP goes through [`OptimizelyTransport`] rather than the `HttpClient`
//! port: a call carries a key in its own header style and its answer feeds the
//! breaker, neither of which the port models. `CredentialChecker` is the port
//! the application sees.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::client;
use osa_app::ports::{Clock, CredentialChecker, OutboundError, OutboundResponse};
use osa_domain::credentials::CheckOutcome;
use osa_domain::intake::Credentials;
use osa_domain::resilience::{BreakerSettings, BreakerState, CircuitBreaker, TokenBucket};
use osa_domain::{Secret, USER_AGENT};

// ---- services and their settings --------------------------------------------------

pub use osa_domain::credentials::{OptimizelyService, UnknownService};

/// A service's built-in settings (see [`SERVICE_SETTINGS`]).
pub trait BuiltInSettings {
    fn settings(self) -> ServiceSettings;
}

impl BuiltInSettings for OptimizelyService {
    fn settings(self) -> ServiceSettings {
        SERVICE_SETTINGS[self.index()]
    }
}

/// How a service takes its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStyle {
    /// The key as the value of this header.
    Header(&'static str),
    /// `Authorization: Bearer <key>`.
    Bearer,
}

/// Spec `retry_policy`: delay after attempt n is
/// `min(base · multiplier^(n−1), max_delay)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first one included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub multiplier: u32,
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based).
    pub fn delay_after(&self, attempt: u32) -> Duration {
        self.multiplier
            .checked_pow(attempt.saturating_sub(1))
            .and_then(|factor| self.base_delay.checked_mul(factor))
            .map_or(self.max_delay, |d| d.min(self.max_delay))
    }
}

/// Everything that governs calls to one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSettings {
    pub service: OptimizelyService,
    /// Production API root; override per deployment with
    /// [`OptimizelyClient::with_base_url`] (the local simulator does).
    pub base_url: &'static str,
    pub auth: AuthStyle,
    /// A cheap authenticated read (GET) that succeeds only with a valid key.
    pub verify_path: &'static str,
    pub requests_per_minute: u32,
    pub burst_capacity: u32,
    pub breaker: BreakerSettings,
    pub retry: RetryPolicy,
    /// Per attempt. Not in the spec; chosen so that a whole verification, every
    /// retry included, ends well inside API Gateway's 30 s integration limit.
    pub timeout: Duration,
}

const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// The spec gives odp's and experimentation's numbers. It names content_recs and
/// cmp without any: they take odp's, the more conservative of the two.
const CONSERVATIVE_RATE: (u32, u32) = (100, 20);
const CONSERVATIVE_BREAKER: BreakerSettings = BreakerSettings {
    failure_threshold: 5,
    reset_timeout: Duration::from_millis(60_000),
    half_open_max_calls: 3,
};
const CONSERVATIVE_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_delay: Duration::from_millis(1_000),
    max_delay: Duration::from_millis(10_000),
    multiplier: 2,
};

/// Per-service settings, in [`OptimizelyService::ALL`] order. The numbers are the source design's.
///
/// Base URLs and verification paths are ours where the spec has none. The spec's
/// odp `base_url` (`https://function.zaius.com/twilio_segment`) is an ingest
/// function that cannot check a key; the ODP REST API (`x-api-key`) can.
pub const SERVICE_SETTINGS: [ServiceSettings; 4] = [
    ServiceSettings {
        service: OptimizelyService::Odp,
        base_url: "https://api.zaius.com/v3",
        auth: AuthStyle::Header("x-api-key"),
        verify_path: "/schema/objects",
        requests_per_minute: CONSERVATIVE_RATE.0,
        burst_capacity: CONSERVATIVE_RATE.1,
        breaker: CONSERVATIVE_BREAKER,
        retry: CONSERVATIVE_RETRY,
        timeout: ATTEMPT_TIMEOUT,
    },
    ServiceSettings {
        service: OptimizelyService::Experimentation,
        base_url: "https://api.optimizely.com/v2",
        auth: AuthStyle::Bearer,
        verify_path: "/projects?per_page=1",
        requests_per_minute: 200,
        burst_capacity: 50,
        breaker: BreakerSettings {
            failure_threshold: 3,
            reset_timeout: Duration::from_millis(30_000),
            half_open_max_calls: 2,
        },
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_millis(8_000),
            multiplier: 2,
        },
        timeout: ATTEMPT_TIMEOUT,
    },
    ServiceSettings {
        service: OptimizelyService::ContentRecs,
        base_url: "https://api.idio.co/1.0",
        auth: AuthStyle::Header("x-api-key"),
        verify_path: "/content?rpp=1",
        requests_per_minute: CONSERVATIVE_RATE.0,
        burst_capacity: CONSERVATIVE_RATE.1,
        breaker: CONSERVATIVE_BREAKER,
        retry: CONSERVATIVE_RETRY,
        timeout: ATTEMPT_TIMEOUT,
    },
    ServiceSettings {
        service: OptimizelyService::Cmp,
        base_url: "https://api.cmp.optimizely.com/v3",
        auth: AuthStyle::Bearer,
        verify_path: "/users/me",
        requests_per_minute: CONSERVATIVE_RATE.0,
        burst_capacity: CONSERVATIVE_RATE.1,
        breaker: CONSERVATIVE_BREAKER,
        retry: CONSERVATIVE_RETRY,
        timeout: ATTEMPT_TIMEOUT,
    },
];

// ---- errors ------------------------------------------------------------------------

/// Why a call did not succeed. Never carries a key: messages come from statuses
/// and from transport errors whose URLs are stripped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptimizelyError {
    #[error("no {service} key was given")]
    MissingCredentials { service: OptimizelyService },
    /// 401 or 403: the workflow pauses as `credentials_invalid` until new keys come.
    #[error("{service} rejected the credentials (HTTP {status})")]
    CredentialsInvalid {
        service: OptimizelyService,
        status: u16,
    },
    /// Another 4xx (or an unexpected 1xx/3xx): our request is wrong; retrying won't help.
    #[error("{service} refused the request (HTTP {status})")]
    Rejected {
        service: OptimizelyService,
        status: u16,
    },
    /// The service answered 429. Not retried here: the caller decides when.
    #[error("{service} is throttling requests")]
    Throttled {
        service: OptimizelyService,
        retry_after: Option<Duration>,
    },
    /// Our own token bucket for the service is empty; nothing was sent.
    #[error("rate limit for {service} reached; next call possible in {retry_after:?}")]
    RateLimited {
        service: OptimizelyService,
        retry_after: Duration,
    },
    /// The service's circuit is open; nothing was sent.
    #[error("{service} circuit is open; next call possible in {retry_after:?}")]
    CircuitOpen {
        service: OptimizelyService,
        retry_after: Duration,
    },
    /// 5xx or no answer, on every attempt.
    #[error("{service} unavailable after {attempts} attempt(s): {last_error}")]
    Unavailable {
        service: OptimizelyService,
        attempts: u32,
        last_error: String,
    },
}

impl OptimizelyError {
    pub fn service(&self) -> OptimizelyService {
        match self {
            OptimizelyError::MissingCredentials { service }
            | OptimizelyError::CredentialsInvalid { service, .. }
            | OptimizelyError::Rejected { service, .. }
            | OptimizelyError::Throttled { service, .. }
            | OptimizelyError::RateLimited { service, .. }
            | OptimizelyError::CircuitOpen { service, .. }
            | OptimizelyError::Unavailable { service, .. } => *service,
        }
    }

    /// Whether the keys are at fault (pause and ask for new ones) rather than the service.
    pub fn is_credentials_invalid(&self) -> bool {
        matches!(self, OptimizelyError::CredentialsInvalid { .. })
    }
}

impl OptimizelyError {
    /// What the error says about the key.
    pub fn outcome(&self) -> CheckOutcome {
        match self {
            OptimizelyError::CredentialsInvalid { status, .. } => {
                CheckOutcome::Refused { status: *status }
            }
            other => CheckOutcome::Inconclusive(other.to_string()),
        }
    }
}

#[async_trait]
impl CredentialChecker for OptimizelyClient {
    async fn check(&self, credentials: &Credentials) -> Vec<(OptimizelyService, CheckOutcome)> {
        self.verify_given(credentials)
            .await
            .into_iter()
            .map(|(service, result)| {
                let outcome = match result {
                    Ok(()) => CheckOutcome::Accepted,
                    Err(e) => e.outcome(),
                };
                (service, outcome)
            })
            .collect()
    }
}

// ---- transport and sleeping ---------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One HTTP request to a service.
#[derive(Clone)]
pub struct ServiceRequest {
    pub method: Method,
    pub url: String,
    /// Includes the credential header: never log the values.
    pub headers: Vec<(String, String)>,
    pub body: Option<Bytes>,
    pub timeout: Duration,
}

impl fmt::Debug for ServiceRequest {
    // Header values carry the key: names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("body_bytes", &self.body.as_ref().map_or(0, Bytes::len))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Sends one request to an Optimizely service: reqwest in production, the
/// simulator locally, a script in tests.
#[async_trait]
pub trait OptimizelyTransport: Send + Sync {
    async fn send(&self, request: ServiceRequest) -> Result<OutboundResponse, OutboundError>;
}

/// Waits between retries. Tests advance a `ManualClock` instead of sleeping.
#[async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep(&self, duration: Duration);
}

#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// The production transport over reqwest (rustls, no redirects).
#[derive(Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    pub fn new() -> Result<Self, OutboundError> {
        Ok(ReqwestTransport {
            client: client::build_client(USER_AGENT, Duration::from_secs(5))?,
        })
    }
}

#[async_trait]
impl OptimizelyTransport for ReqwestTransport {
    async fn send(&self, request: ServiceRequest) -> Result<OutboundResponse, OutboundError> {
        let mut builder = match request.method {
            Method::Get => self.client.get(&request.url),
            Method::Post => self.client.post(&request.url),
        }
        .timeout(request.timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        client::send(builder).await
    }
}

// ---- the client ----------------------------------------------------------------------

struct Guards {
    bucket: TokenBucket,
    breaker: CircuitBreaker,
}

struct ServiceState {
    settings: ServiceSettings,
    base_url: String,
    guards: Mutex<Guards>,
}

impl ServiceState {
    fn new(settings: ServiceSettings, base_url: String) -> ServiceState {
        ServiceState {
            settings,
            base_url,
            guards: Mutex::new(Guards {
                bucket: TokenBucket::new(settings.requests_per_minute, settings.burst_capacity),
                breaker: CircuitBreaker::new(settings.breaker),
            }),
        }
    }

    /// Never held across an await.
    fn guards(&self) -> std::sync::MutexGuard<'_, Guards> {
        self.guards.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How an answer is handled.
enum Answer {
    Ok(OutboundResponse),
    Credentials(u16),
    Throttled(Option<Duration>),
    Rejected(u16),
    Transient {
        error: String,
        retry_after: Option<Duration>,
    },
}

fn answer_of(result: Result<OutboundResponse, OutboundError>) -> Answer {
    match result {
        Ok(r) if (200..300).contains(&r.status) => Answer::Ok(r),
        Ok(r) if r.status == 401 || r.status == 403 => Answer::Credentials(r.status),
        Ok(r) if r.status == 429 => Answer::Throttled(r.retry_after),
        Ok(r) if r.status >= 500 => Answer::Transient {
            error: format!("HTTP {}", r.status),
            retry_after: r.retry_after,
        },
        Ok(r) => Answer::Rejected(r.status),
        Err(e) => Answer::Transient {
            error: e.to_string(),
            retry_after: None,
        },
    }
}

pub struct OptimizelyClient {
    transport: Arc<dyn OptimizelyTransport>,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    slots: [ServiceState; 4],
}

impl OptimizelyClient {
    /// A client with the spec's settings and production URLs.
    pub fn new(
        transport: Arc<dyn OptimizelyTransport>,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Self {
        let slot = |s: ServiceSettings| ServiceState::new(s, s.base_url.to_owned());
        OptimizelyClient {
            transport,
            clock,
            sleeper,
            slots: SERVICE_SETTINGS.map(slot),
        }
    }

    /// Points one service somewhere else (the local simulator, a test server).
    pub fn with_base_url(
        mut self,
        service: OptimizelyService,
        base_url: impl Into<String>,
    ) -> Self {
        let i = service.index();
        self.slots[i] = ServiceState::new(self.slots[i].settings, base_url.into());
        self
    }

    /// Replaces one service's settings (fresh breaker and bucket).
    pub fn with_settings(mut self, settings: ServiceSettings) -> Self {
        let i = settings.service.index();
        let base_url = std::mem::take(&mut self.slots[i].base_url);
        self.slots[i] = ServiceState::new(settings, base_url);
        self
    }

    pub fn settings(&self, service: OptimizelyService) -> &ServiceSettings {
        &self.slots[service.index()].settings
    }

    /// The breaker of a service, for health checks and status views.
    pub fn breaker_state(&self, service: OptimizelyService) -> BreakerState {
        let now = self.clock.now();
        self.slots[service.index()].guards().breaker.state(now)
    }

    /// Checks a key with the service's cheap authenticated read. `Ok` means the
    /// service accepted it; [`OptimizelyError::CredentialsInvalid`] means it did not.
    pub async fn verify_credentials(
        &self,
        service: OptimizelyService,
        key: &Secret,
    ) -> Result<(), OptimizelyError> {
        if key.expose().trim().is_empty() {
            return Err(OptimizelyError::MissingCredentials { service });
        }
        let path = self.settings(service).verify_path;
        self.call(service, key, Method::Get, path, None)
            .await
            .map(|_| ())
    }

    /// Verifies every key an intake gave, all at once; services without a key
    /// are left out. (The `CredentialChecker` port's answer, before mapping.)
    pub async fn verify_given(
        &self,
        credentials: &Credentials,
    ) -> Vec<(OptimizelyService, Result<(), OptimizelyError>)> {
        let one = |service: OptimizelyService, key: &Option<Secret>| {
            let key = key.clone().filter(|k| !k.expose().trim().is_empty());
            async move {
                match key {
                    Some(key) => Some((service, self.verify_credentials(service, &key).await)),
                    None => None,
                }
            }
        };
        let (odp, exp, recs, cmp) = tokio::join!(
            one(OptimizelyService::Odp, &credentials.odp_key),
            one(
                OptimizelyService::Experimentation,
                &credentials.experimentation_key
            ),
            one(
                OptimizelyService::ContentRecs,
                &credentials.content_recs_key
            ),
            one(OptimizelyService::Cmp, &credentials.cmp_key),
        );
        [odp, exp, recs, cmp].into_iter().flatten().collect()
    }

    /// One call through breaker, bucket and retries. `path` is appended to the
    /// service's base URL.
    pub async fn call(
        &self,
        service: OptimizelyService,
        key: &Secret,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<OutboundResponse, OptimizelyError> {
        let slot = &self.slots[service.index()];
        let settings = slot.settings;
        let permit = {
            let now = self.clock.now();
            let mut g = slot.guards();
            let permit =
                g.breaker
                    .try_acquire(now)
                    .map_err(|retry_after| OptimizelyError::CircuitOpen {
                        service,
                        retry_after,
                    })?;
            if let Err(retry_after) = g.bucket.try_acquire(now) {
                g.breaker.release(permit);
                return Err(OptimizelyError::RateLimited {
                    service,
                    retry_after,
                });
            }
            permit
        };

        let request = ServiceRequest {
            method,
            url: format!("{}{}", slot.base_url.trim_end_matches('/'), path),
            headers: request_headers(settings.auth, key, body.is_some()),
            body,
            timeout: settings.timeout,
        };
        let retry = settings.retry;
        let mut attempt = 1;
        loop {
            let class = answer_of(self.transport.send(request.clone()).await);
            let now = self.clock.now();
            let (error, retry_after) = match class {
                Answer::Ok(response) => {
                    slot.guards().breaker.on_success(permit, now);
                    return Ok(response);
                }
                // The service answered sensibly: it is up, whatever it thinks of us.
                Answer::Credentials(status) => {
                    slot.guards().breaker.on_success(permit, now);
                    tracing::warn!(%service, status, "Optimizely rejected the credentials");
                    return Err(OptimizelyError::CredentialsInvalid { service, status });
                }
                Answer::Rejected(status) => {
                    slot.guards().breaker.on_success(permit, now);
                    return Err(OptimizelyError::Rejected { service, status });
                }
                Answer::Throttled(retry_after) => {
                    slot.guards().breaker.release(permit);
                    return Err(OptimizelyError::Throttled {
                        service,
                        retry_after,
                    });
                }
                Answer::Transient { error, retry_after } => (error, retry_after),
            };
            if attempt >= retry.max_attempts.max(1) {
                slot.guards().breaker.on_failure(permit, now);
                tracing::warn!(%service, attempts = attempt, error = %error, "Optimizely call failed");
                return Err(OptimizelyError::Unavailable {
                    service,
                    attempts: attempt,
                    last_error: error,
                });
            }
            let mut delay = retry.delay_after(attempt);
            if let Some(asked) = retry_after {
                delay = delay.max(asked).min(retry.max_delay);
            }
            tracing::info!(%service, attempt, error = %error, delay_ms = delay.as_millis() as u64, "retrying Optimizely call");
            self.sleeper.sleep(delay).await;
            // A retry is a request too: it takes a token, waiting once for one.
            let refused = slot.guards().bucket.try_acquire(self.clock.now()).err();
            if let Some(wait) = refused {
                self.sleeper.sleep(wait).await;
                if let Err(retry_after) = slot.guards().bucket.try_acquire(self.clock.now()) {
                    slot.guards().breaker.release(permit);
                    return Err(OptimizelyError::RateLimited {
                        service,
                        retry_after,
                    });
                }
            }
            attempt += 1;
        }
    }
}

fn request_headers(auth: AuthStyle, key: &Secret, has_body: bool) -> Vec<(String, String)> {
    let mut headers = vec![
        ("Accept".to_owned(), "application/json".to_owned()),
        ("User-Agent".to_owned(), USER_AGENT.to_owned()),
    ];
    if has_body {
        headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
    }
    headers.push(match auth {
        AuthStyle::Header(name) => (name.to_owned(), key.expose().to_owned()),
        AuthStyle::Bearer => (
            "Authorization".to_owned(),
            format!("Bearer {}", key.expose()),
        ),
    });
    headers
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use time::OffsetDateTime;

    use super::*;
    use osa_testkit::ManualClock;

    const KEY: &str = "sk_optly_live_123";

    /// Answers from a script (then `fallback`), remembering every request.
    struct Scripted {
        script: Mutex<VecDeque<Result<u16, OutboundError>>>,
        fallback: Result<u16, OutboundError>,
        retry_after: Option<Duration>,
        sent: Mutex<Vec<ServiceRequest>>,
    }

    impl Scripted {
        fn new(
            script: Vec<Result<u16, OutboundError>>,
            fallback: Result<u16, OutboundError>,
        ) -> Arc<Self> {
            Arc::new(Scripted {
                script: Mutex::new(script.into()),
                fallback,
                retry_after: None,
                sent: Mutex::new(Vec::new()),
            })
        }

        fn always(status: u16) -> Arc<Self> {
            Scripted::new(Vec::new(), Ok(status))
        }

        fn sent(&self) -> Vec<ServiceRequest> {
            self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
        }
    }

    #[async_trait]
    impl OptimizelyTransport for Scripted {
        async fn send(&self, request: ServiceRequest) -> Result<OutboundResponse, OutboundError> {
            self.sent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(request);
            let next = self
                .script
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front()
                .unwrap_or_else(|| self.fallback.clone());
            next.map(|status| OutboundResponse {
                status,
                retry_after: self.retry_after,
            })
        }
    }

    /// "Sleeps" by moving the manual clock, and remembers how long.
    struct ClockSleeper {
        clock: Arc<ManualClock>,
        slept: Mutex<Vec<Duration>>,
    }

    impl ClockSleeper {
        fn slept(&self) -> Vec<Duration> {
            self.slept.lock().unwrap_or_else(|e| e.into_inner()).clone()
        }
    }

    #[async_trait]
    impl Sleeper for ClockSleeper {
        async fn sleep(&self, duration: Duration) {
            self.slept
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(duration);
            self.clock.advance(duration);
        }
    }

    struct Rig {
        client: OptimizelyClient,
        http: Arc<Scripted>,
        clock: Arc<ManualClock>,
        sleeper: Arc<ClockSleeper>,
    }

    fn rig(http: Arc<Scripted>) -> Rig {
        let start = OffsetDateTime::from_unix_timestamp(1_764_064_800)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let clock = Arc::new(ManualClock::new(start));
        let sleeper = Arc::new(ClockSleeper {
            clock: clock.clone(),
            slept: Mutex::new(Vec::new()),
        });
        let client = OptimizelyClient::new(http.clone(), clock.clone(), sleeper.clone());
        Rig {
            client,
            http,
            clock,
            sleeper,
        }
    }

    fn key() -> Secret {
        Secret::new(KEY)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    use OptimizelyService::{Cmp, ContentRecs, Experimentation, Odp};

    #[test]
    fn settings_are_the_specs() {
        let odp = Odp.settings();
        assert_eq!((odp.requests_per_minute, odp.burst_capacity), (100, 20));
        assert_eq!(
            odp.breaker,
            BreakerSettings {
                failure_threshold: 5,
                reset_timeout: ms(60_000),
                half_open_max_calls: 3
            }
        );
        assert_eq!(
            odp.retry,
            RetryPolicy {
                max_attempts: 3,
                base_delay: ms(1_000),
                max_delay: ms(10_000),
                multiplier: 2
            }
        );
        assert_eq!(odp.auth, AuthStyle::Header("x-api-key"));

        let exp = Experimentation.settings();
        assert_eq!((exp.requests_per_minute, exp.burst_capacity), (200, 50));
        assert_eq!(
            exp.breaker,
            BreakerSettings {
                failure_threshold: 3,
                reset_timeout: ms(30_000),
                half_open_max_calls: 2
            }
        );
        assert_eq!(
            exp.retry,
            RetryPolicy {
                max_attempts: 4,
                base_delay: ms(500),
                max_delay: ms(8_000),
                multiplier: 2
            }
        );
        assert_eq!(exp.auth, AuthStyle::Bearer);

        for s in OptimizelyService::ALL {
            assert_eq!(s.settings().service, s);
            assert_eq!(s.as_str().parse::<OptimizelyService>(), Ok(s));
        }
        assert!("nope".parse::<OptimizelyService>().is_err());
        assert_eq!(ContentRecs.settings().breaker, odp.breaker);
        assert_eq!(Cmp.settings().retry, odp.retry);
    }

    #[test]
    fn a_whole_verification_fits_in_api_gateways_30_seconds() {
        for s in OptimizelyService::ALL {
            let st = s.settings();
            let waits: Duration = (1..st.retry.max_attempts)
                .map(|n| st.retry.delay_after(n))
                .sum();
            let worst = st.timeout * st.retry.max_attempts + waits;
            assert!(worst < Duration::from_secs(29), "{s}: {worst:?}");
        }
    }

    #[test]
    fn retry_delays_follow_the_policy() {
        let exp = Experimentation.settings().retry;
        let delays: Vec<u64> = (1..=6)
            .map(|n| exp.delay_after(n).as_millis() as u64)
            .collect();
        assert_eq!(delays, [500, 1_000, 2_000, 4_000, 8_000, 8_000]);
        assert_eq!(exp.delay_after(u32::MAX), ms(8_000));
    }

    #[tokio::test]
    async fn verification_sends_the_services_auth_and_succeeds() {
        let r = rig(Scripted::always(200));
        assert_eq!(r.client.verify_credentials(Odp, &key()).await, Ok(()));
        assert_eq!(
            r.client.verify_credentials(Experimentation, &key()).await,
            Ok(())
        );
        let sent = r.http.sent();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].method, Method::Get);
        assert_eq!(sent[0].url, "https://api.zaius.com/v3/schema/objects");
        assert!(sent[0].headers.contains(&("x-api-key".into(), KEY.into())));
        assert_eq!(
            sent[1].url,
            "https://api.optimizely.com/v2/projects?per_page=1"
        );
        assert!(
            sent[1]
                .headers
                .contains(&("Authorization".into(), format!("Bearer {KEY}")))
        );
        assert_eq!(sent[0].timeout, ATTEMPT_TIMEOUT);
        // The key never shows in a request's Debug.
        assert!(!format!("{:?}", sent[1]).contains(KEY));
    }

    #[tokio::test]
    async fn a_base_url_override_is_used() {
        let r = rig(Scripted::always(200));
        let client = r
            .client
            .with_base_url(Cmp, "http://127.0.0.1:3000/sim/optimizely/cmp/");
        assert_eq!(client.verify_credentials(Cmp, &key()).await, Ok(()));
        assert_eq!(
            r.http.sent()[0].url,
            "http://127.0.0.1:3000/sim/optimizely/cmp/users/me"
        );
    }

    #[tokio::test]
    async fn unauthorized_and_forbidden_are_credentials_invalid_without_retry() {
        for status in [401, 403] {
            let r = rig(Scripted::always(status));
            let err = r.client.verify_credentials(Experimentation, &key()).await;
            assert_eq!(
                err,
                Err(OptimizelyError::CredentialsInvalid {
                    service: Experimentation,
                    status
                })
            );
            assert!(
                err.as_ref()
                    .is_err_and(OptimizelyError::is_credentials_invalid)
            );
            assert_eq!(r.http.sent().len(), 1, "HTTP {status} must not be retried");
            assert!(r.sleeper.slept().is_empty());
            let shown = err.map_err(|e| e.to_string()).err().unwrap_or_default();
            assert!(!shown.contains(KEY));
        }
    }

    #[tokio::test]
    async fn other_4xx_is_not_retried() {
        for status in [400, 404, 422] {
            let r = rig(Scripted::always(status));
            assert_eq!(
                r.client.verify_credentials(Odp, &key()).await,
                Err(OptimizelyError::Rejected {
                    service: Odp,
                    status
                })
            );
            assert_eq!(r.http.sent().len(), 1);
            assert!(matches!(
                r.client.breaker_state(Odp),
                BreakerState::Closed {
                    consecutive_failures: 0
                }
            ));
        }
    }

    #[tokio::test]
    async fn throttling_429_is_surfaced_not_retried() {
        let http = Arc::new(Scripted {
            script: Mutex::new(VecDeque::new()),
            fallback: Ok(429),
            retry_after: Some(Duration::from_secs(7)),
            sent: Mutex::new(Vec::new()),
        });
        let r = rig(http);
        assert_eq!(
            r.client.verify_credentials(Odp, &key()).await,
            Err(OptimizelyError::Throttled {
                service: Odp,
                retry_after: Some(Duration::from_secs(7))
            })
        );
        assert_eq!(r.http.sent().len(), 1);
    }

    #[tokio::test]
    async fn five_xx_is_retried_with_backoff_then_succeeds() {
        let r = rig(Scripted::new(
            vec![Ok(503), Err(OutboundError::Timeout), Ok(500)],
            Ok(200),
        ));
        assert_eq!(
            r.client.verify_credentials(Experimentation, &key()).await,
            Ok(())
        );
        assert_eq!(r.http.sent().len(), 4);
        assert_eq!(r.sleeper.slept(), [ms(500), ms(1_000), ms(2_000)]);
    }

    #[tokio::test]
    async fn failures_on_every_attempt_make_it_unavailable() {
        let r = rig(Scripted::new(
            Vec::new(),
            Err(OutboundError::Connect("refused".into())),
        ));
        assert_eq!(
            r.client.verify_credentials(Odp, &key()).await,
            Err(OptimizelyError::Unavailable {
                service: Odp,
                attempts: 3,
                last_error: "could not connect: refused".into()
            })
        );
        assert_eq!(r.http.sent().len(), 3);
        assert_eq!(r.sleeper.slept(), [ms(1_000), ms(2_000)]);
        assert_eq!(
            r.client.breaker_state(Odp),
            BreakerState::Closed {
                consecutive_failures: 1
            }
        );
    }

    #[tokio::test]
    async fn retry_after_on_5xx_is_honoured_within_max_delay() {
        let http = Arc::new(Scripted {
            script: Mutex::new(vec![Ok(503), Ok(503)].into()),
            fallback: Ok(200),
            retry_after: Some(Duration::from_secs(60)),
            sent: Mutex::new(Vec::new()),
        });
        let r = rig(http);
        assert_eq!(r.client.verify_credentials(Odp, &key()).await, Ok(()));
        assert_eq!(r.sleeper.slept(), [ms(10_000), ms(10_000)]);
    }

    #[tokio::test]
    async fn the_breaker_opens_at_its_threshold_and_half_opens_after_its_reset_timeout() {
        let r = rig(Scripted::always(503));
        // Experimentation: threshold 3 calls (of 4 attempts each).
        for _ in 0..3 {
            assert!(matches!(
                r.client.verify_credentials(Experimentation, &key()).await,
                Err(OptimizelyError::Unavailable { attempts: 4, .. })
            ));
        }
        assert_eq!(r.http.sent().len(), 12);
        assert_eq!(
            r.client.breaker_state(Experimentation),
            BreakerState::Open {
                retry_after_ms: 30_000
            }
        );
        // Open: refused without a request.
        assert_eq!(
            r.client.verify_credentials(Experimentation, &key()).await,
            Err(OptimizelyError::CircuitOpen {
                service: Experimentation,
                retry_after: ms(30_000)
            })
        );
        assert_eq!(r.http.sent().len(), 12);
        r.clock.advance(ms(29_999));
        assert!(matches!(
            r.client.verify_credentials(Experimentation, &key()).await,
            Err(OptimizelyError::CircuitOpen { .. })
        ));
        // Other services are unaffected.
        let other = rig(Scripted::always(200));
        assert_eq!(other.client.verify_credentials(Odp, &key()).await, Ok(()));

        // After the reset timeout, a probe goes through; the service is back.
        r.clock.advance(ms(1));
        r.http
            .script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(Ok(200));
        assert_eq!(
            r.client.breaker_state(Experimentation),
            BreakerState::HalfOpen {
                probes_in_flight: 0
            }
        );
        assert_eq!(
            r.client.verify_credentials(Experimentation, &key()).await,
            Ok(())
        );
        assert_eq!(r.http.sent().len(), 13);
        assert_eq!(
            r.client.breaker_state(Experimentation),
            BreakerState::Closed {
                consecutive_failures: 0
            }
        );
    }

    #[tokio::test]
    async fn a_failed_probe_opens_the_circuit_again() {
        let r = rig(Scripted::always(500));
        let settings = ServiceSettings {
            retry: RetryPolicy {
                max_attempts: 1,
                ..Experimentation.settings().retry
            },
            ..Experimentation.settings()
        };
        let client = r.client.with_settings(settings);
        for _ in 0..3 {
            let _ = client.verify_credentials(Experimentation, &key()).await;
        }
        r.clock.advance(ms(30_000));
        assert!(matches!(
            client.verify_credentials(Experimentation, &key()).await,
            Err(OptimizelyError::Unavailable { attempts: 1, .. })
        ));
        assert_eq!(r.http.sent().len(), 4);
        assert_eq!(
            client.breaker_state(Experimentation),
            BreakerState::Open {
                retry_after_ms: 30_000
            }
        );
    }

    #[tokio::test]
    async fn the_rate_limiter_refuses_beyond_the_bucket_and_refills() {
        let r = rig(Scripted::always(200));
        // odp: burst 20, then one token per 600 ms.
        for i in 0..20 {
            assert_eq!(
                r.client.verify_credentials(Odp, &key()).await,
                Ok(()),
                "call {i}"
            );
        }
        assert_eq!(
            r.client.verify_credentials(Odp, &key()).await,
            Err(OptimizelyError::RateLimited {
                service: Odp,
                retry_after: ms(600)
            })
        );
        assert_eq!(r.http.sent().len(), 20, "a refused call sends nothing");
        r.clock.advance(ms(600));
        assert_eq!(r.client.verify_credentials(Odp, &key()).await, Ok(()));
        assert!(r.client.verify_credentials(Odp, &key()).await.is_err());
        // The bucket is per service.
        assert_eq!(
            r.client.verify_credentials(Experimentation, &key()).await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn an_open_circuit_spends_no_tokens() {
        let r = rig(Scripted::always(503));
        let settings = ServiceSettings {
            burst_capacity: 1,
            requests_per_minute: 1,
            retry: RetryPolicy {
                max_attempts: 1,
                ..Odp.settings().retry
            },
            breaker: BreakerSettings {
                failure_threshold: 1,
                ..Odp.settings().breaker
            },
            ..Odp.settings()
        };
        let client = r.client.with_settings(settings);
        assert!(matches!(
            client.verify_credentials(Odp, &key()).await,
            Err(OptimizelyError::Unavailable { .. })
        ));
        assert!(matches!(
            client.verify_credentials(Odp, &key()).await,
            Err(OptimizelyError::CircuitOpen { .. })
        ));
    }

    #[tokio::test]
    async fn empty_keys_are_missing_and_nothing_is_sent() {
        let r = rig(Scripted::always(200));
        assert_eq!(
            r.client.verify_credentials(Cmp, &Secret::new("  ")).await,
            Err(OptimizelyError::MissingCredentials { service: Cmp })
        );
        assert!(r.http.sent().is_empty());
    }

    #[tokio::test]
    async fn verify_given_checks_only_the_keys_supplied() {
        let r = rig(Scripted::always(401));
        let credentials = Credentials {
            odp_key: Some(key()),
            experimentation_key: None,
            content_recs_key: Some(Secret::new("")),
            cmp_key: Some(key()),
        };
        let results = r.client.verify_given(&credentials).await;
        let services: Vec<OptimizelyService> = results.iter().map(|(s, _)| *s).collect();
        assert_eq!(services, [Odp, Cmp]);
        assert!(results.iter().all(|(_, res)| {
            res.as_ref()
                .is_err_and(OptimizelyError::is_credentials_invalid)
        }));
        assert_eq!(r.http.sent().len(), 2);
    }

    #[tokio::test]
    async fn reqwest_transport_talks_http() {
        use axum::http::{HeaderMap, StatusCode};
        use axum::routing::get;

        let app = axum::Router::new().route(
            "/v2/projects",
            get(|headers: HeaderMap| async move {
                let ok = headers
                    .get("authorization")
                    .is_some_and(|v| v.as_bytes() == format!("Bearer {KEY}").as_bytes());
                if ok {
                    (StatusCode::OK, [("retry-after", "3")])
                } else {
                    (StatusCode::UNAUTHORIZED, [("retry-after", "0")])
                }
            }),
        );
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("bind: {e}"),
        };
        let addr = listener.local_addr().map_err(|e| e.to_string());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let base = format!("http://{}/v2", addr.unwrap_or_else(|e| panic!("addr: {e}")));

        let transport = match ReqwestTransport::new() {
            Ok(t) => Arc::new(t),
            Err(e) => panic!("client: {e}"),
        };
        let clock = Arc::new(ManualClock::new(OffsetDateTime::UNIX_EPOCH));
        let client = OptimizelyClient::new(transport.clone(), clock, Arc::new(TokioSleeper))
            .with_base_url(Experimentation, base.clone());
        assert_eq!(
            client.verify_credentials(Experimentation, &key()).await,
            Ok(())
        );
        assert_eq!(
            client
                .verify_credentials(Experimentation, &Secret::new("wrong"))
                .await,
            Err(OptimizelyError::CredentialsInvalid {
                service: Experimentation,
                status: 401
            })
        );
        let raw = transport
            .send(ServiceRequest {
                method: Method::Get,
                url: format!("{base}/projects"),
                headers: request_headers(AuthStyle::Bearer, &key(), false),
                body: None,
                timeout: ms(2_000),
            })
            .await;
        assert_eq!(
            raw,
            Ok(OutboundResponse {
                status: 200,
                retry_after: Some(Duration::from_secs(3))
            })
        );
        server.abort();
    }
}
