//! Bearer tokens: RS256 JWTs checked against public keys (PEM, or a JWKS file or
//! URL) with issuer, audience and expiry enforced. The `TokenVerifier` port's
//! adapter; [`DevKeys`] mints local development tokens.
//!
//! Keys from a JWKS URL are fetched on first use, never at start-up: a function
//! that never sees a token never asks the identity provider, and an identity
//! provider that does not answer refuses the token-bearing requests of that
//! moment with [`AccessError::Unavailable`] (a 503 at the edge) instead of failing
//! a cold start. Keys are cached and re-read when older than
//! [`RefreshPolicy::ttl`] or when a token names a `kid` the cache does not hold (a
//! key rotated in), at most once per [`RefreshPolicy::min_interval`], so tokens
//! with made-up `kid`s cannot turn the verifier into a JWKS-fetching amplifier.
//! A failed re-read keeps the keys in hand.
//!
//! Claims follow RFC 7519: `aud` may be a string or an array, `iat` is optional.

mod dev_keys;
mod jwks;

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::Deserialize;

pub use dev_keys::DevKeys;
pub use jwks::{KeySource, RefreshPolicy};

use jwks::{Key, fetch, parse_jwks, read_file};
use osa_app::ports::{Clock, SystemClock, TokenVerifier};
use osa_domain::access::{AccessError, Caller};

/// Until the first keys are in, a failed load is tried again after this long
/// (not after `min_interval`: without keys every token is refused).
const FIRST_LOAD_RETRY: Duration = Duration::from_secs(1);

/// "Never", for the load instants.
const NEVER: i64 = i64::MIN;

/// The claims OSA reads; `jsonwebtoken` checks `exp`, `iss`, `aud` itself.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    /// Space-separated scopes, as OAuth 2 puts them.
    #[serde(default)]
    scope: String,
}

/// Verifies RS256 bearer tokens. Only RS256 is accepted, so `alg: none` and
/// HS256-with-the-public-key confusion are rejected by construction.
pub struct JwtVerifier {
    keys: RwLock<Arc<Vec<Key>>>,
    source: KeySource,
    policy: RefreshPolicy,
    clock: Arc<dyn Clock>,
    http: Option<reqwest::Client>,
    /// Unix ms of the last successful load, and of the last attempt ([`NEVER`]).
    loaded_at_ms: AtomicI64,
    attempted_at_ms: AtomicI64,
    /// One re-read at a time; the others wait for it and use its keys.
    refreshing: tokio::sync::Mutex<()>,
    validation: Validation,
}

impl JwtVerifier {
    /// Fixed RS256 public keys in PEM form (the local dev key).
    pub fn from_pems(pems: &[String], issuer: &str, audience: &str) -> Result<Self, AccessError> {
        let keys = pems
            .iter()
            .map(|pem| {
                DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map(|key| Key { kid: None, key })
                    .map_err(|e| AccessError::Config(format!("bad public key PEM: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(AccessError::Config("no public keys configured".into()));
        }
        Ok(Self::new(keys, KeySource::Static, issuer, audience, None))
    }

    /// A fixed JWKS document: never re-read.
    pub fn from_jwks(jwks_json: &str, issuer: &str, audience: &str) -> Result<Self, AccessError> {
        let keys = parse_jwks(jwks_json.as_bytes())?;
        Ok(Self::new(keys, KeySource::Static, issuer, audience, None))
    }

    /// A JWKS file, read now (a local file is configuration, not a dependency:
    /// a bad one fails the start) and re-read as [`RefreshPolicy`] says.
    pub fn from_jwks_file(
        path: impl Into<PathBuf>,
        issuer: &str,
        audience: &str,
    ) -> Result<Self, AccessError> {
        let path = path.into();
        let keys = parse_jwks(&read_file(&path)?)?;
        Ok(Self::new(
            keys,
            KeySource::File(path),
            issuer,
            audience,
            None,
        ))
    }

    /// A JWKS URL, fetched when the first token comes, and re-fetched as
    /// [`RefreshPolicy`] says. Never touches the network here.
    pub fn from_jwks_url(
        url: &str,
        issuer: &str,
        audience: &str,
        policy: RefreshPolicy,
    ) -> Result<Self, AccessError> {
        let http = reqwest::Client::builder()
            .timeout(policy.fetch_timeout)
            .build()
            .map_err(|e| AccessError::Config(format!("HTTP client: {e}")))?;
        let verifier = Self::new(
            Vec::new(),
            KeySource::Url(url.to_owned()),
            issuer,
            audience,
            Some(http),
        )
        .with_refresh_policy(policy);
        verifier.loaded_at_ms.store(NEVER, Ordering::Relaxed);
        verifier.attempted_at_ms.store(NEVER, Ordering::Relaxed);
        Ok(verifier)
    }

    fn new(
        keys: Vec<Key>,
        source: KeySource,
        issuer: &str,
        audience: &str,
        http: Option<reqwest::Client>,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let now = clock.now_ms();
        JwtVerifier {
            keys: RwLock::new(Arc::new(keys)),
            source,
            policy: RefreshPolicy::default(),
            clock,
            http,
            loaded_at_ms: AtomicI64::new(now),
            attempted_at_ms: AtomicI64::new(now),
            refreshing: tokio::sync::Mutex::new(()),
            validation,
        }
    }

    /// Replaces the default [`RefreshPolicy`].
    pub fn with_refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock refresh decisions use (token expiry always uses the system
    /// clock). Keys already in hand count as loaded at this clock's now.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        if self.loaded_at_ms.load(Ordering::Relaxed) != NEVER {
            let now = clock.now_ms();
            self.loaded_at_ms = AtomicI64::new(now);
            self.attempted_at_ms = AtomicI64::new(now);
        }
        self.clock = clock;
        self
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// Verifies a token, first loading or re-reading a JWKS file or URL when
    /// the keys in hand are missing, older than the TTL, or do not include the
    /// token's `kid` (re-reads at most once per `min_interval`).
    pub async fn verify(&self, token: &str) -> Result<Caller, AccessError> {
        // Decided before any key is looked at, let alone fetched.
        let header = rs256_header(token)?;
        if self.stale() {
            self.refresh().await;
        }
        let mut keys = self.current();
        if keys.is_empty() {
            return Err(AccessError::Unavailable(
                "the identity provider's signing keys could not be loaded".into(),
            ));
        }
        if !knows(&keys, header.kid.as_deref()) && self.may_refresh() {
            self.refresh().await;
            keys = self.current();
        }
        decode(&keys, token, &header, &self.validation)
    }

    fn current(&self) -> Arc<Vec<Key>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn loaded(&self) -> bool {
        self.loaded_at_ms.load(Ordering::Relaxed) != NEVER
    }

    fn may_refresh(&self) -> bool {
        let floor = if self.loaded() {
            self.policy.min_interval
        } else {
            FIRST_LOAD_RETRY
        };
        self.source != KeySource::Static
            && elapsed_ms(self.clock.now_ms(), &self.attempted_at_ms) >= floor.as_millis() as i64
    }

    fn stale(&self) -> bool {
        self.may_refresh()
            && (!self.loaded()
                || elapsed_ms(self.clock.now_ms(), &self.loaded_at_ms)
                    >= self.policy.ttl.as_millis() as i64)
    }

    /// Re-reads the source unless another caller just did. Never fails: a failed
    /// re-read is logged and the keys in hand stay.
    async fn refresh(&self) {
        let _guard = self.refreshing.lock().await;
        if !self.may_refresh() {
            return; // someone else re-read while we waited
        }
        let now = self.clock.now_ms();
        self.attempted_at_ms.store(now, Ordering::Relaxed);
        let loaded = match &self.source {
            KeySource::Static => return,
            KeySource::File(path) => read_file(path),
            KeySource::Url(url) => match &self.http {
                Some(http) => fetch(http, url).await,
                None => Err(AccessError::Config(
                    "no HTTP client for the JWKS URL".into(),
                )),
            },
        }
        .and_then(|bytes| parse_jwks(&bytes));
        match loaded {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), source = ?self.source, "JWKS read");
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
                self.loaded_at_ms.store(now, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!(error = %e, source = ?self.source, "JWKS read failed; keeping the keys in hand");
            }
        }
    }
}

#[async_trait]
impl TokenVerifier for JwtVerifier {
    async fn verify(&self, token: &str) -> Result<Caller, AccessError> {
        JwtVerifier::verify(self, token).await
    }
}

/// The token's header, refused unless it says RS256.
fn rs256_header(token: &str) -> Result<Header, AccessError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| AccessError::Invalid(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(AccessError::Invalid(format!(
            "algorithm {:?} is not accepted",
            header.alg
        )));
    }
    Ok(header)
}

fn decode(
    keys: &[Key],
    token: &str,
    header: &Header,
    validation: &Validation,
) -> Result<Caller, AccessError> {
    let candidates: Vec<&Key> = keys
        .iter()
        .filter(|k| match (&header.kid, &k.kid) {
            (Some(wanted), Some(kid)) => wanted == kid,
            _ => true,
        })
        .collect();
    if candidates.is_empty() {
        return Err(AccessError::Invalid("unknown key id".into()));
    }
    let mut last = AccessError::Invalid("no key matched".into());
    for key in candidates {
        match jsonwebtoken::decode::<Claims>(token, &key.key, validation) {
            Ok(data) => return Ok(Caller::new(data.claims.sub, &data.claims.scope)),
            Err(e) => last = AccessError::Invalid(e.to_string()),
        }
    }
    Err(last)
}

fn elapsed_ms(now: i64, since: &AtomicI64) -> i64 {
    now.saturating_sub(since.load(Ordering::Relaxed))
}

/// Whether `keys` can be tried for a token naming `kid` (keys without a kid fit any).
fn knows(keys: &[Key], kid: Option<&str>) -> bool {
    match kid {
        None => !keys.is_empty(),
        Some(kid) => keys
            .iter()
            .any(|k| k.kid.is_none() || k.kid.as_deref() == Some(kid)),
    }
}
