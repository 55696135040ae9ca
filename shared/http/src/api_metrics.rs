//! `osal_api_requests_total`: one count per request, labelled with bounded values
//! only: the method (or `OTHER`), the route template (never the raw path;
//! `unmatched` for a 404), the status code and the user agent's family; and
//! `osal_api_request_duration_seconds` by method and route: the time until the
//! response head is ready (a live stream's body goes on after that).
//!
//! Recorded off the request path (a spawned task), so it adds no latency, and
//! gathered for the metrics store's batch window (`MetricsStore::batch_window`:
//! 10 s on DynamoDB, none on the embedded store), so a busy instance writes each
//! series once a window, not once a request. In Lambda a count may land at the
//! next invocation, or be lost if the instance is retired first: these are
//! statistics. Webhook, agent and workflow metrics are recorded in-line.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;

use osa_app::Services;
use osa_domain::metrics::{Family, Observation, user_agent_family};

/// The edge's API statistics, written a window at a time.
pub(crate) struct ApiMetrics {
    services: Services,
    batch: Batch,
}

impl ApiMetrics {
    pub(crate) fn new(services: Services) -> Arc<ApiMetrics> {
        let batch = Batch::new(services.metrics.batch_window());
        Arc::new(ApiMetrics { services, batch })
    }
}

/// Observations gathered for a window, handed out together when it is over.
struct Batch {
    window: Duration,
    pending: Mutex<(Vec<Observation>, Option<Instant>)>,
}

/// More than this many waiting observations are written without waiting for
/// the window's end.
const MOST_PENDING: usize = 4096;

impl Batch {
    fn new(window: Duration) -> Batch {
        Batch {
            window,
            pending: Mutex::new((Vec::new(), None)),
        }
    }

    /// Adds a request's observations; answers the whole window's when it is over.
    fn add(&self, observations: Vec<Observation>) -> Option<Vec<Observation>> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let (waiting, since) = &mut *pending;
        let started = *since.get_or_insert_with(Instant::now);
        waiting.extend(observations);
        let due = started.elapsed() >= self.window || waiting.len() >= MOST_PENDING;
        due.then(|| {
            *since = None;
            std::mem::take(waiting)
        })
    }
}

pub(crate) async fn record(
    State(metrics): State<Arc<ApiMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    };
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let agent = user_agent_family(
        request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    );
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    let observations: Result<Vec<Observation>, _> = [
        Observation::inc(
            Family::ApiRequestsTotal,
            &[method, &endpoint, &status, agent],
        ),
        Observation::observe(
            Family::ApiRequestDurationSeconds,
            &[method, &endpoint],
            seconds,
        ),
    ]
    .into_iter()
    .collect();
    match observations.map(|o| metrics.batch.add(o)) {
        Ok(Some(due)) => {
            let services = metrics.services.clone();
            tokio::spawn(async move {
                osa_app::metrics::record(&services, due).await;
            });
        }
        Ok(None) => {}
        Err(e) => tracing::debug!(error = %e, "API request not counted"),
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_gathers_observations_and_a_zero_window_writes_each() {
        let inc = || {
            vec![
                Observation::inc(Family::ApiRequestsTotal, &["GET", "/x", "200", "curl"])
                    .expect("labels"),
            ]
        };
        let at_once = Batch::new(Duration::ZERO);
        assert_eq!(at_once.add(inc()).map(|o| o.len()), Some(1));
        assert_eq!(at_once.add(inc()).map(|o| o.len()), Some(1));

        let hourly = Batch::new(Duration::from_secs(3600));
        assert_eq!(hourly.add(inc()), None);
        assert_eq!(hourly.add(inc()), None);
        for sent in 3..=MOST_PENDING {
            if let Some(due) = hourly.add(inc()) {
                assert_eq!((sent, due.len()), (MOST_PENDING, MOST_PENDING));
                assert_eq!(hourly.add(inc()), None, "a new window begins");
                return;
            }
        }
        panic!("a full batch waits for nothing");
    }
}
