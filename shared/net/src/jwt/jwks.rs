//! Where keys come from: a fixed set, a JWKS file, or a JWKS URL, and when a
//! file or URL is read again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};

use osa_domain::access::AccessError;

/// The largest JWKS document read from a file or URL.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

pub(super) struct Key {
    pub kid: Option<String>,
    pub key: DecodingKey,
}

/// Where a verifier's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Keys given once (PEMs, or a JWKS document): never re-read.
    Static,
    /// A JWKS file, re-read on refresh.
    File(PathBuf),
    /// A JWKS URL, re-fetched on refresh.
    Url(String),
}

/// When a JWKS file or URL is re-read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Keys older than this are re-read before the next verification (10 min).
    pub ttl: Duration,
    /// At most one re-read per this interval, whatever asks for it (60 s).
    pub min_interval: Duration,
    /// How long one fetch of a JWKS URL may take (5 s).
    pub fetch_timeout: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            ttl: Duration::from_secs(600),
            min_interval: Duration::from_secs(60),
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

/// The RS256 signing keys of a JWKS document. Keys OSA cannot use (encryption
/// keys, other key types or algorithms) are skipped; a document with none left
/// is an error.
pub(super) fn parse_jwks(bytes: &[u8]) -> Result<Vec<Key>, AccessError> {
    let set: JwkSet =
        serde_json::from_slice(bytes).map_err(|e| AccessError::Config(format!("bad JWKS: {e}")))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let kid = jwk.common.key_id.clone();
        let usable = jwk.common.public_key_use != Some(PublicKeyUse::Encryption)
            && matches!(jwk.algorithm, AlgorithmParameters::RSA(_))
            && matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256));
        if !usable {
            tracing::debug!(kid = ?kid, "JWKS key skipped: not an RS256 signing key");
            continue;
        }
        match DecodingKey::from_jwk(jwk) {
            Ok(key) => keys.push(Key { kid, key }),
            Err(e) => tracing::warn!(kid = ?kid, error = %e, "JWKS key skipped: unreadable"),
        }
    }
    if keys.is_empty() {
        return Err(AccessError::Config(
            "the JWKS has no RS256 signing key".into(),
        ));
    }
    Ok(keys)
}

pub(super) fn read_file(path: &Path) -> Result<Vec<u8>, AccessError> {
    let bytes = std::fs::read(path)
        .map_err(|e| AccessError::Config(format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() > MAX_JWKS_BYTES {
        return Err(AccessError::Config(format!(
            "{} is larger than {MAX_JWKS_BYTES} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

pub(super) async fn fetch(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, AccessError> {
    let failed =
        |reason: String| AccessError::Unavailable(format!("JWKS fetch from {url}: {reason}"));
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {}", response.status())));
    }
    if response
        .content_length()
        .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
    {
        return Err(failed("document too large".into()));
    }
    let bytes = response.bytes().await.map_err(|e| failed(e.to_string()))?;
    if bytes.len() > MAX_JWKS_BYTES {
        return Err(failed("document too large".into()));
    }
    Ok(bytes.to_vec())
}
