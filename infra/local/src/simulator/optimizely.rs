//! The four Optimizely services, simulated under `/sim/optimizely/{service}/...`:
//! they answer the authenticated reads OSA verifies keys with.
//!
//! A request without its key (`x-api-key` for odp and content_recs, a bearer
//! token for experimentation and cmp) gets 401. With `--sim-reject-credentials`
//! the first key each listed service sees has "expired": it is refused with 401,
//! then and every time after, while any other key is accepted, as refreshed keys
//! would be. That walks through a credentials pause: the intake's keys pause
//! the workflow, new keys posted to it resume it. Keys are kept as hashes only.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use osa_net::http::optimizely::{AuthStyle, BuiltInSettings, OptimizelyService};
use serde_json::json;

/// Where OSA's Optimizely client points each service under the simulator.
pub fn base_url(osa_base: &str, service: OptimizelyService) -> String {
    format!("{osa_base}/sim/optimizely/{service}")
}

/// Parses `odp,cmp` (or `all`, or empty for all four) for `--sim-reject-credentials`.
pub fn parse_service_list(s: &str) -> Result<ServiceList, String> {
    let mut services = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "all" {
            return Ok(ServiceList(OptimizelyService::ALL.to_vec()));
        }
        let service = part.parse::<OptimizelyService>().map_err(|_| {
            format!("unknown Optimizely service '{part}'; expected odp, experimentation, content_recs, cmp or all")
        })?;
        if !services.contains(&service) {
            services.push(service);
        }
    }
    if services.is_empty() {
        services = OptimizelyService::ALL.to_vec();
    }
    Ok(ServiceList(services))
}

/// A list of services (a newtype, so clap takes it as one value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceList(pub Vec<OptimizelyService>);

/// The simulated services.
#[derive(Default)]
pub struct OptimizelySim {
    /// Services whose first key is refused.
    reject: Vec<OptimizelyService>,
    /// Per service: the hash of the key that expired.
    expired: Mutex<HashMap<OptimizelyService, u64>>,
}

impl OptimizelySim {
    pub fn new(reject: Vec<OptimizelyService>) -> Self {
        OptimizelySim {
            reject,
            expired: Mutex::new(HashMap::new()),
        }
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/sim/optimizely/{service}/{*rest}", get(answer))
            .with_state(self)
    }

    /// Whether `key` is refused for `service`, remembering the first one seen.
    fn refuses(&self, service: OptimizelyService, key: &str) -> bool {
        if !self.reject.contains(&service) {
            return false;
        }
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        let hash = hasher.finish();
        let mut expired = self.expired.lock().unwrap_or_else(|e| e.into_inner());
        *expired.entry(service).or_insert(hash) == hash
    }
}

fn key_of(service: OptimizelyService, headers: &HeaderMap) -> Option<String> {
    let value = match service.settings().auth {
        AuthStyle::Header(name) => headers.get(name)?.to_str().ok()?.trim(),
        AuthStyle::Bearer => headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .trim(),
    };
    (!value.is_empty()).then(|| value.to_owned())
}

async fn answer(
    State(sim): State<Arc<OptimizelySim>>,
    Path((service, _rest)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Ok(service) = service.parse::<OptimizelyService>() else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "unknown service"})),
        )
            .into_response();
    };
    let refused = match key_of(service, &headers) {
        None => true,
        Some(key) => sim.refuses(service, &key),
    };
    if refused {
        tracing::info!(%service, "simulated Optimizely refused the credentials");
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_credentials", "service": service})),
        )
            .into_response();
    }
    (
        StatusCode::OK,
        Json(json!({"service": service, "items": []})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_key_expires_and_a_new_one_is_accepted() {
        let sim = OptimizelySim::new(vec![OptimizelyService::Odp]);
        assert!(sim.refuses(OptimizelyService::Odp, "old"));
        assert!(sim.refuses(OptimizelyService::Odp, "old"));
        assert!(!sim.refuses(OptimizelyService::Odp, "new"));
        assert!(!sim.refuses(OptimizelyService::Cmp, "old"));
    }

    #[test]
    fn service_lists_parse() {
        assert_eq!(
            parse_service_list("").map(|l| l.0.len()),
            Ok(OptimizelyService::ALL.len())
        );
        assert_eq!(
            parse_service_list("odp, cmp,odp"),
            Ok(ServiceList(vec![
                OptimizelyService::Odp,
                OptimizelyService::Cmp
            ]))
        );
        assert!(parse_service_list("ftp").is_err());
    }
}
