//! Fakes for the outside world: a recording outbound HTTP client, the four
//! Optimizely services, a sleeper that does not wait, a queue that is down.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use osa_app::ports::{
    Clock, HttpClient, Job, JobQueue, OutboundError, OutboundRequest, OutboundResponse, QueueError,
    ReceivedJob,
};
use osa_net::http::optimizely::{
    OptimizelyClient, OptimizelyService, OptimizelyTransport, ServiceRequest, Sleeper,
};

/// Answers every outbound request with a fixed status and remembers it.
#[derive(Default)]
pub struct RecordingHttp {
    pub requests: Mutex<Vec<OutboundRequest>>,
    status: Mutex<Option<Result<u16, OutboundError>>>,
    /// Answers for the next requests, first first; then `status` again.
    script: Mutex<std::collections::VecDeque<Result<u16, OutboundError>>>,
}

impl RecordingHttp {
    /// What later requests get: a status, or a transport error.
    pub fn respond_with(&self, outcome: Result<u16, OutboundError>) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
    }

    /// The next requests get these answers, in order; later ones `respond_with`'s.
    pub fn respond_in_order(&self, outcomes: impl IntoIterator<Item = Result<u16, OutboundError>>) {
        self.script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(outcomes);
    }

    pub fn sent(&self) -> Vec<OutboundRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[async_trait]
impl HttpClient for RecordingHttp {
    async fn post(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request);
        let scripted = self
            .script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        let outcome = scripted.unwrap_or_else(|| {
            self.status
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or(Ok(202))
        });
        outcome.map(|status| OutboundResponse {
            status,
            retry_after: None,
        })
    }

    /// Health probes: answered like `post`, recorded with an empty body.
    async fn get(&self, url: &str, timeout: Duration) -> Result<OutboundResponse, OutboundError> {
        self.post(OutboundRequest {
            url: url.to_owned(),
            headers: vec![("X-Method".into(), "GET".into())],
            body: bytes::Bytes::new(),
            timeout,
            caller_target: false,
        })
        .await
    }
}

/// The four Optimizely services, faked: every request is recorded (URL and
/// header names, never values) and answered per service, `200` by default.
/// Under [`TestApp`] each service's base URL is `http://optimizely.test/<service>`.
#[derive(Default)]
pub struct FakeOptimizely {
    answers: Mutex<std::collections::HashMap<String, Result<u16, OutboundError>>>,
    requests: Mutex<Vec<String>>,
    /// Services whose requests never get an answer.
    hanging: Mutex<Vec<String>>,
}

impl FakeOptimizely {
    /// What later requests to `service` get.
    pub fn answer(&self, service: OptimizelyService, outcome: Result<u16, OutboundError>) {
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(service.as_str().to_owned(), outcome);
    }

    /// Later requests to `service` never get an answer (nor a connection error).
    pub fn hang(&self, service: OptimizelyService) {
        self.hanging
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(service.as_str().to_owned());
    }

    /// The URLs requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A client over this fake, for `Services::optimizely`.
    pub fn client(self: &Arc<Self>, clock: Arc<dyn Clock>) -> OptimizelyClient {
        let mut client = OptimizelyClient::new(self.clone(), clock, Arc::new(NoSleep));
        for service in OptimizelyService::ALL {
            client = client.with_base_url(service, format!("http://optimizely.test/{service}"));
        }
        client
    }
}

#[async_trait]
impl OptimizelyTransport for FakeOptimizely {
    async fn send(&self, request: ServiceRequest) -> Result<OutboundResponse, OutboundError> {
        let service = request
            .url
            .strip_prefix("http://optimizely.test/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default()
            .to_owned();
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request.url);
        let hangs = self
            .hanging
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&service);
        if hangs {
            std::future::pending::<()>().await;
        }
        let outcome = self
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&service)
            .cloned()
            .unwrap_or(Ok(200));
        outcome.map(|status| OutboundResponse {
            status,
            retry_after: None,
        })
    }
}

/// Retries without waiting.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSleep;

#[async_trait]
impl Sleeper for NoSleep {
    async fn sleep(&self, _duration: Duration) {}
}

/// A job queue that does not answer (its error names an internal queue, which
/// must never reach a public answer).
pub struct DownQueue;

pub const DOWN_QUEUE_ERROR: &str = "sqs SendMessage: internal-queue-name";

fn down() -> QueueError {
    QueueError::Unavailable(DOWN_QUEUE_ERROR.into())
}

#[async_trait]
impl JobQueue for DownQueue {
    async fn enqueue(&self, _: &Job, _: Duration) -> Result<(), QueueError> {
        Err(down())
    }
    async fn receive(&self, _: usize, _: Duration) -> Result<Vec<ReceivedJob>, QueueError> {
        Err(down())
    }
    async fn ack(&self, _: &str) -> Result<(), QueueError> {
        Err(down())
    }
    async fn depth(&self) -> Result<u64, QueueError> {
        Err(down())
    }
}
