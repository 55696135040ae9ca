//! `osal_api_requests_total`: one count per request, labelled with bounded values
//! only: the method (or `OTHER`), the route template (never the raw path;
//! `unmatched` for a 404), the status code and the user agent's family; and
//! `osal_api_request_duration_seconds` by method and route: the time until the
//! response head is ready (a live stream's body goes on after that).
//!
//! Recorded off the request path (a spawned task), so it adds no latency; in
//! Lambda a count may land at the next invocation, or be lost if the instance is
//! retired first. Webhook, agent and workflow metrics are recorded in-line.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::app::Services;
use crate::domain::metrics::{Family, Observation, user_agent_family};

pub(crate) async fn record(
    State(services): State<Services>,
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
    match observations {
        Ok(observations) => {
            tokio::spawn(async move {
                crate::app::metrics::record(&services, observations).await;
            });
        }
        Err(e) => tracing::debug!(error = %e, "API request not counted"),
    }
    response
}
