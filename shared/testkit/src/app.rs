//! A complete application over a throw-away SQLite store, a manual clock and
//! recording fakes, and a way to send it requests.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use time::OffsetDateTime;

use crate::clock::ManualClock;
use crate::fakes::{FakeOptimizely, RecordingHttp};
use osa_app::Services;
use osa_app::bootstrap::{Runtime, assemble};
use osa_app::config::{Config, OpalConfig};
use osa_app::ports::Clock;
use osa_domain::Secret;
use osa_domain::access::scopes;
use osa_domain::signature::{SignatureConfig, sign};
use osa_net::jwt::{DevKeys, JwtVerifier};
use osa_sqlite::SqliteStore;
use osa_sqlite::log_bus::LogBus;

pub const ISSUER: &str = "osa-test";
pub const AUDIENCE: &str = "osa-api";
pub const WEBHOOK_SECRET: &str = "test-webhook-secret";

/// RSA key generation is slow-ish; one pair serves every test in a process.
pub fn dev_keys() -> &'static DevKeys {
    static KEYS: OnceLock<DevKeys> = OnceLock::new();
    KEYS.get_or_init(|| DevKeys::generate().unwrap_or_else(|e| panic!("test keys: {e}")))
}

/// What a router answered: status, headers and the whole body.
pub struct Reply {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
}

impl Reply {
    /// The body as JSON, or `Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> String {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }
}

/// A request as a client would send it, built a part at a time:
/// `request("GET", path).bearer(token).empty()`.
pub struct TestRequest(http::request::Builder);

/// A request for `method` (`"GET"` or an `http::Method`) and `path`.
pub fn request<M>(method: M, path: &str) -> TestRequest
where
    M: TryInto<http::Method>,
    M::Error: Into<http::Error>,
{
    TestRequest(http::Request::builder().method(method).uri(path))
}

impl TestRequest {
    pub fn header(self, name: &str, value: &str) -> TestRequest {
        TestRequest(self.0.header(name, value))
    }

    /// `Authorization: Bearer <token>` when there is a token (a `&str` or an
    /// `Option<&str>`), nothing otherwise.
    pub fn bearer<'a>(self, token: impl Into<Option<&'a str>>) -> TestRequest {
        match token.into() {
            Some(token) => self.header("authorization", &format!("Bearer {token}")),
            None => self,
        }
    }

    /// The request with no body.
    pub fn empty(self) -> http::Request<axum::body::Body> {
        self.body(axum::body::Body::empty())
    }

    /// The request with `body` as JSON, and its content type.
    pub fn json(self, body: &serde_json::Value) -> http::Request<axum::body::Body> {
        self.header("content-type", "application/json")
            .body(body.to_string())
    }

    /// The request with `body` as it is (any content type is the caller's).
    pub fn body(self, body: impl Into<axum::body::Body>) -> http::Request<axum::body::Body> {
        self.0
            .body(body.into())
            .unwrap_or_else(|e| panic!("a test request: {e}"))
    }
}

/// Sends one request through a router, as the Lambda adapter or `osa serve` would.
pub async fn call(router: axum::Router, request: http::Request<axum::body::Body>) -> Reply {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let response = router.oneshot(request).await.unwrap_or_else(|e| match e {});
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .unwrap_or_else(|e| panic!("reading the body: {e}"))
        .to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A whole application over a temporary store. The directory goes on drop.
pub struct TestApp {
    pub services: Services,
    pub clock: Arc<ManualClock>,
    pub http: Arc<RecordingHttp>,
    pub bus: Arc<LogBus>,
    pub store: Arc<SqliteStore>,
    pub dir: PathBuf,
    /// The Optimizely services `services.optimizely` talks to.
    pub optimizely: Arc<FakeOptimizely>,
}

/// Where the test app's OPAL probe GETs (`OPAL_HEALTH_URL`).
pub const OPAL_HEALTH_URL: &str = "http://opal.test/status";

impl TestApp {
    pub fn new() -> TestApp {
        let dir = std::env::temp_dir().join(format!(
            "osa-testkit-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("temp dir: {e}"));
        let start = OffsetDateTime::from_unix_timestamp(1_764_064_800)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let clock = Arc::new(ManualClock::new(start));
        let store = Arc::new(
            SqliteStore::open(&dir.join("osa.db"), clock.clone() as Arc<dyn Clock>)
                .unwrap_or_else(|e| panic!("test store: {e}")),
        );
        let http = Arc::new(RecordingHttp::default());
        let bus = Arc::new(LogBus::default());
        let tokens = JwtVerifier::from_pems(&[dev_keys().public_pem.clone()], ISSUER, AUDIENCE)
            .unwrap_or_else(|e| panic!("verifier: {e}"));
        let optimizely = Arc::new(FakeOptimizely::default());
        let opal = OpalConfig {
            trigger_url: "http://opal.test/trigger".into(),
            api_key: Some(Secret::new("opal-test-key")),
            timeout: Duration::from_secs(45),
        };
        let signature = SignatureConfig::new(vec![Secret::new(WEBHOOK_SECRET)]);
        let runtime = Runtime {
            config: Config {
                // Not the trigger's sibling: tests see that nothing guesses it.
                opal_health_url: Some(OPAL_HEALTH_URL.into()),
                ..Config::new("http://osa.test", signature, opal)
            },
            optimizely: Some(Arc::new(optimizely.client(clock.clone()))),
            clock: clock.clone(),
            http: http.clone(),
            tokens: Arc::new(tokens),
        };
        let services = assemble(osa_sqlite::adapters(store.clone(), bus.clone()), runtime);
        TestApp {
            services,
            clock,
            http,
            bus,
            store,
            dir,
            optimizely,
        }
    }

    /// A bearer token valid at the real current time (JWT expiry uses the system clock).
    pub fn token(&self, granted: &[&str]) -> String {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        dev_keys()
            .mint(ISSUER, AUDIENCE, "tester", granted, now, 3600)
            .unwrap_or_else(|e| panic!("mint: {e}"))
    }

    pub fn admin_token(&self) -> String {
        self.token(&scopes::ALL)
    }

    /// Runs every job visible at the manual clock's now (and the jobs those
    /// enqueue without delay) as the worker would, acking the finished ones.
    /// Returns how many ran.
    pub async fn run_due_jobs(&self) -> usize {
        let mut ran = 0;
        loop {
            let jobs = self
                .services
                .queue
                .receive(16, Duration::from_secs(30))
                .await
                .unwrap_or_else(|e| panic!("receive: {e}"));
            if jobs.is_empty() {
                return ran;
            }
            for job in jobs {
                ran += 1;
                osa_app::jobs::process(&self.services, &job).await;
            }
        }
    }

    /// Moves the clock forward in steps of `step` up to `total`, running the
    /// jobs that come due on the way.
    pub async fn advance_running_jobs(&self, total: Duration, step: Duration) {
        let mut passed = Duration::ZERO;
        while passed < total {
            let by = step.min(total - passed);
            self.clock.advance(by);
            passed += by;
            self.run_due_jobs().await;
        }
    }

    /// Submits the sample intake (`events/samples/intake.json`), changed by
    /// `edit`, as the intake function would, and answers the workflow.
    pub async fn start_workflow_with(
        &self,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> osa_domain::workflow::Workflow {
        let mut body = crate::samples::intake();
        edit(&mut body);
        osa_app::intake::submit(&self.services, body.to_string().as_bytes(), "corr-test")
            .await
            .unwrap_or_else(|e| panic!("the sample intake is accepted: {e}"))
            .workflow
    }

    /// Submits the sample intake; answers the new workflow's id.
    pub async fn start_workflow(&self) -> String {
        self.start_workflow_with(|_| {}).await.id().to_owned()
    }

    /// Sends one agent's webhook, signed, as OPAL would: `status` is its
    /// `execution_status`; a `completed` one carries the sample agent output.
    pub async fn send_agent_event(
        &self,
        workflow_id: &str,
        agent: osa_domain::AgentId,
        status: &str,
    ) {
        let event = crate::samples::agent_event(workflow_id, agent, status);
        self.send_webhook(&event).await;
    }

    /// Sends `event` as the webhook body, signed, as OPAL would; panics if it
    /// is refused.
    pub async fn send_webhook(&self, event: &serde_json::Value) -> osa_app::webhook::Ingested {
        let body = event.to_string();
        let signature = self.sign(body.as_bytes());
        let request = osa_app::webhook::WebhookRequest {
            signatures: osa_domain::webhook_signature::Signatures::osa(Some(&signature)),
            correlation_id: None,
            body: body.as_bytes(),
        };
        osa_app::webhook::ingest(&self.services, request)
            .await
            .unwrap_or_else(|e| panic!("the webhook {event} is refused: {e}"))
    }

    /// `X-OSA-Signature` for `body` at the manual clock's now.
    pub fn sign(&self, body: &[u8]) -> String {
        sign(&[Secret::new(WEBHOOK_SECRET)], self.clock.now_ms(), body)
    }
}

impl Default for TestApp {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
