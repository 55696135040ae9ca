//! A fault-injecting loopback proxy in front of the local AWS-compatible
//! endpoint (moto), for the fault tests: point the SDK at [`FaultProxy::url`]
//! and switch it at run time between
//!
//! - [`FaultProxy::pass`]: every request goes through to the endpoint;
//! - [`FaultProxy::down`]: as if the endpoint were stopped: open connections are
//!   closed and every new one is reset as soon as it is accepted;
//! - [`FaultProxy::stall`]: as if the endpoint hung (a black-holed network):
//!   connections are accepted and never answered;
//! - [`FaultProxy::throttle_dynamodb`]: the next N DynamoDB requests (those whose
//!   `X-Amz-Target` starts with `DynamoDB_`, optionally only one operation) are
//!   answered `400` with DynamoDB's throttling error, the rest pass.
//!
//! Restarting moto itself would lose its in-memory tables; the proxy keeps the
//! endpoint's state while the application sees it come and go.
//!
//! Two layers: a TCP relay on the public port (it can refuse, drop or hold
//! connections) in front of an HTTP layer on a second loopback port (it reads
//! `X-Amz-Target`, throttles, and forwards the rest with reqwest).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Down,
    Stall,
}

/// DynamoDB's two throttling errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// `ProvisionedThroughputExceededException`: a table or index over its capacity.
    ProvisionedThroughputExceeded,
    /// `ThrottlingException`: control-plane or account-level request rates.
    Throttling,
}

impl Throttle {
    pub fn code(self) -> &'static str {
        match self {
            Throttle::ProvisionedThroughputExceeded => "ProvisionedThroughputExceededException",
            Throttle::Throttling => "ThrottlingException",
        }
    }

    fn body(self) -> String {
        serde_json::json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{}", self.code()),
            "message": "throttled by the OSA fault proxy",
        })
        .to_string()
    }
}

/// Throttling still to answer.
#[derive(Debug, Clone)]
struct Throttling {
    remaining: u64,
    kind: Throttle,
    /// Only this operation (`TransactWriteItems`...), or every DynamoDB request.
    operation: Option<String>,
}

#[derive(Default)]
struct Shared {
    mode: Mutex<Option<Mode>>,
    throttling: Mutex<Option<Throttling>>,
    /// The relays of open connections, closed when the endpoint goes down.
    relays: Mutex<Vec<AbortHandle>>,
    /// Connections accepted while stalled, held open unanswered.
    held: Mutex<Vec<TcpStream>>,
    /// Requests that reached the HTTP layer, per `X-Amz-Target` operation
    /// (throttled ones included).
    requests: Mutex<BTreeMap<String, u64>>,
    throttled: AtomicU64,
    /// Connections reset (down) or held (stalled) instead of relayed.
    refused: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn mode(&self) -> Mode {
        lock(&self.mode).unwrap_or(Mode::Pass)
    }
}

/// The proxy; its tasks stop when it is dropped.
pub struct FaultProxy {
    url: String,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for relay in lock(&self.shared.relays).drain(..) {
            relay.abort();
        }
    }
}

impl FaultProxy {
    /// A proxy on a free loopback port forwarding to `upstream`
    /// (`http://127.0.0.1:<port>`), passing everything until told otherwise.
    pub async fn start(upstream: &str) -> std::io::Result<FaultProxy> {
        let shared = Arc::new(Shared::default());
        let http = TcpListener::bind("127.0.0.1:0").await?;
        let http_addr = http.local_addr()?;
        let state = Forward {
            shared: shared.clone(),
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .map_err(std::io::Error::other)?,
        };
        let app = Router::new().fallback(forward).with_state(state);
        let serving = tokio::spawn(async move {
            let _ = axum::serve(http, app).await;
        });
        let public = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", public.local_addr()?);
        let relaying = tokio::spawn(accept(public, http_addr, shared.clone()));
        Ok(FaultProxy {
            url,
            shared,
            tasks: vec![serving, relaying],
        })
    }

    /// Where to point the SDK.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn mode(&self) -> Mode {
        self.shared.mode()
    }

    /// Everything passes again; connections held while stalled are closed.
    pub fn pass(&self) {
        *lock(&self.shared.mode) = Some(Mode::Pass);
        lock(&self.shared.held).clear();
    }

    /// As if the endpoint were stopped: open connections close, new ones are reset.
    pub fn down(&self) {
        *lock(&self.shared.mode) = Some(Mode::Down);
        self.close_relays();
    }

    /// As if the endpoint hung: open connections close, new ones are never answered.
    pub fn stall(&self) {
        *lock(&self.shared.mode) = Some(Mode::Stall);
        self.close_relays();
    }

    fn close_relays(&self) {
        for relay in lock(&self.shared.relays).drain(..) {
            relay.abort();
        }
    }

    /// The next `n` DynamoDB requests (of `operation` only, when given, such as
    /// `"TransactWriteItems"`) are answered with `kind`; `u64::MAX` for ever.
    pub fn throttle_dynamodb(&self, n: u64, kind: Throttle, operation: Option<&str>) {
        *lock(&self.shared.throttling) = (n > 0).then(|| Throttling {
            remaining: n,
            kind,
            operation: operation.map(str::to_owned),
        });
    }

    /// Stops throttling.
    pub fn stop_throttling(&self) {
        *lock(&self.shared.throttling) = None;
    }

    /// Requests that reached the HTTP layer, per operation (`GetItem`,
    /// `SendMessage`, `PutEvents`...), throttled ones included.
    pub fn requests(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.requests).clone()
    }

    /// Requests of one operation so far.
    pub fn requests_of(&self, operation: &str) -> u64 {
        lock(&self.shared.requests)
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Requests answered with a throttling error so far.
    pub fn throttled(&self) -> u64 {
        self.shared.throttled.load(Ordering::SeqCst)
    }

    /// Connections reset or held unanswered so far.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }
}

/// The TCP relay: per connection, what the mode says.
async fn accept(listener: TcpListener, http: SocketAddr, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        match shared.mode() {
            Mode::Down => {
                shared.refused.fetch_add(1, Ordering::SeqCst);
                // A reset, as from a port nobody listens on any more.
                let _ = client.set_zero_linger();
                drop(client);
            }
            Mode::Stall => {
                shared.refused.fetch_add(1, Ordering::SeqCst);
                lock(&shared.held).push(client);
            }
            Mode::Pass => {
                let relay = tokio::spawn(async move {
                    let mut client = client;
                    if let Ok(mut inner) = TcpStream::connect(http).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut inner).await;
                    }
                });
                let mut relays = lock(&shared.relays);
                relays.retain(|r| !r.is_finished());
                relays.push(relay.abort_handle());
            }
        }
    }
}

#[derive(Clone)]
struct Forward {
    shared: Arc<Shared>,
    upstream: String,
    client: reqwest::Client,
}

/// `DynamoDB_20120810.GetItem` → (`true`, `GetItem`).
fn operation_of(request: &Request) -> (bool, String) {
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown");
    let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
    (target.starts_with("DynamoDB_"), operation)
}

/// Whether this request is to be throttled, and with what.
fn take_throttle(shared: &Shared, dynamodb: bool, operation: &str) -> Option<Throttle> {
    if !dynamodb {
        return None;
    }
    let mut throttling = lock(&shared.throttling);
    let t = throttling.as_mut()?;
    if t.operation.as_deref().is_some_and(|only| only != operation) {
        return None;
    }
    let kind = t.kind;
    t.remaining = t.remaining.saturating_sub(1);
    if t.remaining == 0 {
        *throttling = None;
    }
    Some(kind)
}

async fn forward(State(state): State<Forward>, request: Request) -> Response {
    let (dynamodb, operation) = operation_of(&request);
    *lock(&state.shared.requests)
        .entry(operation.clone())
        .or_default() += 1;
    if let Some(kind) = take_throttle(&state.shared, dynamodb, &operation) {
        state.shared.throttled.fetch_add(1, Ordering::SeqCst);
        let mut response = (StatusCode::BAD_REQUEST, kind.body()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        return response;
    }
    match relay(&state, request).await {
        Ok(response) => response,
        Err(e) => (StatusCode::BAD_GATEWAY, format!("fault proxy: {e}")).into_response(),
    }
}

async fn relay(state: &Forward, request: Request) -> Result<Response, String> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| e.to_string())?;
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers;
    for hop in [header::HOST, header::CONNECTION, header::CONTENT_LENGTH] {
        headers.remove(hop);
    }
    let upstream = state
        .client
        .request(parts.method, format!("{}{path}", state.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = upstream.status();
    let mut headers = upstream.headers().clone();
    headers.remove(header::TRANSFER_ENCODING);
    headers.remove(header::CONNECTION);
    let bytes = upstream.bytes().await.map_err(|e| e.to_string())?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}
