//! The network adapters, built once per process from their settings
//! (`osa_app::config`, which reads and checks the environment).

use std::sync::Arc;

use osa_app::bootstrap::StartupError;
use osa_app::config::{ConfigError, JwtKeys, JwtSettings};
use osa_app::ports::Clock;
use osa_domain::credentials::OptimizelyService;

use crate::http::optimizely::{OptimizelyClient, ReqwestTransport, TokioSleeper};
use crate::jwt::{JwtVerifier, RefreshPolicy};

/// The token verifier `settings` describe. PEM files are read now; a JWKS URL
/// when the first token comes.
pub fn verifier(settings: &JwtSettings) -> Result<JwtVerifier, StartupError> {
    let JwtSettings {
        issuer, audience, ..
    } = settings;
    let policy = RefreshPolicy {
        ttl: settings.ttl,
        min_interval: settings.min_refresh,
        ..RefreshPolicy::default()
    };
    Ok(match &settings.keys {
        JwtKeys::JwksFile(path) => {
            JwtVerifier::from_jwks_file(path, issuer, audience)?.with_refresh_policy(policy)
        }
        JwtKeys::JwksUrl(url) => JwtVerifier::from_jwks_url(url, issuer, audience, policy)?,
        JwtKeys::Pems(files) => {
            let pems = files
                .iter()
                .map(|p| std::fs::read_to_string(p).map_err(|e| ConfigError::Read(p.clone(), e)))
                .collect::<Result<Vec<_>, _>>()?;
            JwtVerifier::from_pems(&pems, issuer, audience)?
        }
    })
}

/// The Optimizely client (built once per instance): production URLs, except
/// where `base_urls` names another (`config::optimizely_base_urls_from_env`).
pub fn optimizely(
    clock: Arc<dyn Clock>,
    base_urls: &[(OptimizelyService, String)],
) -> Result<OptimizelyClient, StartupError> {
    let mut client = OptimizelyClient::new(
        Arc::new(ReqwestTransport::new()?),
        clock,
        Arc::new(TokioSleeper),
    );
    for (service, url) in base_urls {
        client = client.with_base_url(*service, url);
    }
    Ok(client)
}
