//! Every route OSA serves, in one table: method, path, who may call it, and the
//! function that serves it. The routers take their paths from here, the access
//! layer enforces the access named here, CORS allows the methods named here,
//! and a test holds `template.yaml` (events, authorizer scopes, CORS) to it.

use axum::http::Method;

use osa_domain::access::scopes;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health probes for load balancers, the dashboard's static files.
    Public,
    /// Signed with the webhook secret (`X-OSA-Signature`), checked by the handler.
    Signature,
    /// A bearer token holding this scope (`osa:admin` holds every scope).
    Scope(&'static str),
}

/// The Lambda function that serves a route on AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Intake,
    OpalWebhook,
    StatusApi,
    /// Behind its own Function URL (response streaming), not the HTTP API.
    Stream,
}

impl Function {
    /// The function's resource name in `template.yaml`.
    pub const fn template_name(self) -> &'static str {
        match self {
            Function::Intake => "IntakeFunction",
            Function::OpalWebhook => "OpalWebhookFunction",
            Function::StatusApi => "StatusApiFunction",
            Function::Stream => "StreamFunction",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub function: Function,
}

const fn route(method: Method, path: &'static str, access: Access, function: Function) -> Route {
    Route {
        method,
        path,
        access,
        function,
    }
}

use Access::{Public, Scope, Signature};
use Function::{Intake, OpalWebhook, StatusApi, Stream};

pub const INTAKE: Route = route(
    Method::POST,
    "/api/strategy/intake",
    Scope(scopes::INTAKE),
    Intake,
);
pub const FORCE_SYNC: Route = route(
    Method::POST,
    "/api/opal/sync",
    Scope(scopes::INTAKE),
    Intake,
);
pub const CREDENTIALS: Route = route(
    Method::POST,
    "/api/strategy/workflows/{id}/credentials",
    Scope(scopes::INTAKE),
    Intake,
);
/// The webhook's path, which the rate limiter treats apart.
pub const WEBHOOK_PATH: &str = "/api/webhooks/opal-workflow";
pub const WEBHOOK: Route = route(Method::POST, WEBHOOK_PATH, Signature, OpalWebhook);
pub const WORKFLOWS: Route = route(
    Method::GET,
    "/api/strategy/workflows",
    Scope(scopes::READ),
    StatusApi,
);
pub const WORKFLOW: Route = route(
    Method::GET,
    "/api/strategy/workflows/{id}",
    Scope(scopes::READ),
    StatusApi,
);
pub const REPORT: Route = route(
    Method::GET,
    "/api/strategy/workflows/{id}/report",
    Scope(scopes::READ),
    StatusApi,
);
pub const STREAM: Route = route(
    Method::GET,
    "/api/strategy/workflows/{id}/stream",
    Scope(scopes::READ),
    Stream,
);
/// The original system's stream path (`?workflow_id=`).
pub const STREAM_BY_QUERY: Route = route(
    Method::GET,
    "/api/webhook-events/stream",
    Scope(scopes::READ),
    Stream,
);
/// The operators' stream of the whole system's activity.
pub const ADMIN_STREAM: Route = route(
    Method::GET,
    "/api/admin/stream",
    Scope(scopes::ADMIN),
    Stream,
);
pub const ERASE: Route = route(
    Method::DELETE,
    "/api/admin/workflows/{id}",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const ADMIN_AUDIT: Route = route(
    Method::GET,
    "/api/admin/audit",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const RECENT_STATUS: Route = route(
    Method::GET,
    "/api/admin/osa/recent-status",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const WEBHOOK_EVENTS: Route = route(
    Method::GET,
    "/api/admin/webhook-events",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const PROMETHEUS: Route = route(
    Method::GET,
    "/api/admin/prometheus",
    Scope(scopes::METRICS),
    StatusApi,
);
pub const HEALTH: Route = route(Method::GET, "/api/health/{service}", Public, StatusApi);
pub const GUARDRAILS_HEALTH: Route = route(
    Method::GET,
    "/api/admin/guardrails-health",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const ALERTS: Route = route(
    Method::GET,
    "/api/admin/alerts",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const MAINTENANCE: Route = route(
    Method::GET,
    "/api/admin/alerts/maintenance",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const SET_MAINTENANCE: Route = route(
    Method::PUT,
    "/api/admin/alerts/maintenance",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const ACK_ALERT: Route = route(
    Method::POST,
    "/api/admin/alerts/{alert_id}/ack",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const SILENCE_ALERT: Route = route(
    Method::POST,
    "/api/admin/alerts/{alert_id}/silence",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const CONFIDENCE_METRICS: Route = route(
    Method::GET,
    "/api/admin/monitoring/confidence-metrics",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const FALLBACK_STATS: Route = route(
    Method::GET,
    "/api/admin/monitoring/fallback-stats",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const DEAD_LETTERS: Route = route(
    Method::GET,
    "/api/admin/deliveries/dead-letter",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const REDRIVE_ALL: Route = route(
    Method::POST,
    "/api/admin/deliveries/dead-letter/redrive",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const DELIVERY: Route = route(
    Method::GET,
    "/api/admin/deliveries/{id}",
    Scope(scopes::ADMIN),
    StatusApi,
);
pub const REDRIVE: Route = route(
    Method::POST,
    "/api/admin/deliveries/{id}/redrive",
    Scope(scopes::ADMIN),
    StatusApi,
);
/// Redrives the dead letters of a time window (`app::recovery`).
pub const RECOVER_DELIVERIES: Route = route(
    Method::POST,
    "/api/admin/deliveries/recover",
    Scope(scopes::ADMIN),
    StatusApi,
);
/// Relays a workflow's or a window's outbox items again (`app::recovery`).
pub const REPLAY_EVENTS: Route = route(
    Method::POST,
    "/api/admin/events/replay",
    Scope(scopes::ADMIN),
    StatusApi,
);
/// The API described as OpenAPI 3.1 (`http::openapi`).
pub const OPENAPI: Route = route(Method::GET, "/api/openapi.json", Public, StatusApi);
pub const DASHBOARD: Route = route(Method::GET, "/", Public, StatusApi);
pub const DASHBOARD_FILE: Route = route(Method::GET, "/dashboard/{file}", Public, StatusApi);
/// The runbooks alert notices link (`http::runbooks`).
pub const RUNBOOKS: Route = route(Method::GET, "/docs/runbooks", Public, StatusApi);
pub const RUNBOOK: Route = route(Method::GET, "/docs/runbooks/{page}", Public, StatusApi);

/// Every route, in the order the API table of docs/api.md lists them.
pub const ROUTES: &[Route] = &[
    INTAKE,
    WEBHOOK,
    WORKFLOW,
    REPORT,
    WORKFLOWS,
    STREAM,
    STREAM_BY_QUERY,
    ADMIN_STREAM,
    FORCE_SYNC,
    CREDENTIALS,
    RECENT_STATUS,
    WEBHOOK_EVENTS,
    ERASE,
    ADMIN_AUDIT,
    DEAD_LETTERS,
    DELIVERY,
    REDRIVE,
    REDRIVE_ALL,
    RECOVER_DELIVERIES,
    REPLAY_EVENTS,
    HEALTH,
    GUARDRAILS_HEALTH,
    ALERTS,
    MAINTENANCE,
    SET_MAINTENANCE,
    ACK_ALERT,
    SILENCE_ALERT,
    CONFIDENCE_METRICS,
    FALLBACK_STATS,
    PROMETHEUS,
    OPENAPI,
    DASHBOARD,
    DASHBOARD_FILE,
    RUNBOOKS,
    RUNBOOK,
];

/// The route a request matched (by its route template), if OSA serves it.
pub fn find(method: &Method, path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| {
        r.path == path
            && (r.method == method || (*method == Method::HEAD && r.method == Method::GET))
    })
}

/// Every method some route takes, for CORS.
pub fn methods() -> Vec<Method> {
    let mut methods: Vec<Method> = Vec::new();
    for route in ROUTES {
        if !methods.contains(&route.method) {
            methods.push(route.method.clone());
        }
    }
    methods
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {} listed twice",
                    a.method,
                    a.path
                );
            }
        }
        assert_eq!(find(&Method::PUT, MAINTENANCE.path), Some(&SET_MAINTENANCE));
        assert_eq!(find(&Method::HEAD, HEALTH.path), Some(&HEALTH));
        assert_eq!(find(&Method::PATCH, HEALTH.path), None);
        assert!(methods().contains(&Method::PUT));
    }
}
