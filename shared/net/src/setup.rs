//! The network adapters built from the environment, once per process.

use std::sync::Arc;
use std::time::Duration;

use osa_app::bootstrap::StartupError;
use osa_app::config::{ConfigError, parsed, required, var};
use osa_app::ports::Clock;

use crate::http::optimizely::{
    OptimizelyClient, OptimizelyService, ReqwestTransport, TokioSleeper,
};
use crate::jwt::{JwtVerifier, RefreshPolicy};

/// Bearer-token settings: `OSA_JWT_ISSUER`, `OSA_JWT_AUDIENCE`, and the keys:
/// `OSA_JWKS_FILE`, else `OSA_JWKS_URL` (fetched when the first token comes),
/// else `OSA_JWT_PUBLIC_KEY_FILES` (comma-separated PEM paths, never re-read).
/// A JWKS file or URL is re-read when older than `OSA_JWKS_TTL_SECS` (600) or
/// when a token names an unknown `kid`, at most once per
/// `OSA_JWKS_MIN_REFRESH_SECS` (60).
pub fn verifier_from_env() -> Result<JwtVerifier, StartupError> {
    let issuer = required("OSA_JWT_ISSUER")?;
    let audience = required("OSA_JWT_AUDIENCE")?;
    let policy = RefreshPolicy {
        ttl: Duration::from_secs(parsed("OSA_JWKS_TTL_SECS", 600u64)?),
        min_interval: Duration::from_secs(parsed("OSA_JWKS_MIN_REFRESH_SECS", 60u64)?),
        ..RefreshPolicy::default()
    };
    if let Some(path) = var("OSA_JWKS_FILE") {
        return Ok(
            JwtVerifier::from_jwks_file(path, &issuer, &audience)?.with_refresh_policy(policy)
        );
    }
    if let Some(url) = var("OSA_JWKS_URL") {
        return Ok(JwtVerifier::from_jwks_url(
            &url, &issuer, &audience, policy,
        )?);
    }
    let files = required("OSA_JWT_PUBLIC_KEY_FILES")?;
    let pems = files
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| std::fs::read_to_string(p).map_err(|e| ConfigError::Read(p.to_owned(), e)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(JwtVerifier::from_pems(&pems, &issuer, &audience)?)
}

/// The Optimizely client (built once per instance): production URLs, each
/// overridable with `OPTIMIZELY_BASE_URL_<SERVICE>` (`..._ODP`,
/// `..._EXPERIMENTATION`, `..._CONTENT_RECS`, `..._CMP`).
pub fn optimizely_from_env(clock: Arc<dyn Clock>) -> Result<OptimizelyClient, StartupError> {
    optimizely_client(clock, |name| std::env::var(name).ok())
}

/// The Optimizely client with base URLs from `lookup` (`OPTIMIZELY_BASE_URL_<SERVICE>`).
pub fn optimizely_client(
    clock: Arc<dyn Clock>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<OptimizelyClient, StartupError> {
    let mut client = OptimizelyClient::new(
        Arc::new(ReqwestTransport::new()?),
        clock,
        Arc::new(TokioSleeper),
    );
    for service in OptimizelyService::ALL {
        let name = format!(
            "OPTIMIZELY_BASE_URL_{}",
            service.as_str().to_ascii_uppercase()
        );
        if let Some(url) = lookup(&name).filter(|u| !u.trim().is_empty()) {
            client = client.with_base_url(service, url.trim());
        }
    }
    Ok(client)
}
