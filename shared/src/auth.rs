//! Bearer tokens: RS256 JWTs checked against configured public keys (PEM or JWKS),
//! with issuer, audience and expiry enforced. Also mints local development tokens.
//!
//! Keys from a JWKS file or URL are cached and re-read without a restart: when the
//! cache is older than [`RefreshPolicy::ttl`], or when a token names a `kid` the
//! cache does not hold (a key rotated in). Re-reads happen at most once per
//! [`RefreshPolicy::min_interval`], so tokens with made-up `kid`s cannot turn the
//! verifier into a JWKS-fetching amplifier. A failed re-read keeps the old keys.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::ports::{Clock, SystemClock};

/// Scopes OSA checks per route.
pub mod scopes {
    pub const INTAKE: &str = "osa:intake";
    pub const READ: &str = "osa:read";
    pub const ADMIN: &str = "osa:admin";
    pub const ALL: [&str; 3] = [INTAKE, READ, ADMIN];
}

/// The largest JWKS document read from a file or URL.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("invalid bearer token: {0}")]
    Invalid(String),
    #[error("token lacks the required scope {0}")]
    InsufficientScope(&'static str),
    #[error("authentication is misconfigured: {0}")]
    Config(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// Space-separated scopes, as OAuth 2 puts them.
    #[serde(default)]
    pub scope: String,
}

/// The verified caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: String,
    pub scopes: HashSet<String>,
}

impl Caller {
    /// Passes when the caller holds `scope`, or holds `osa:admin`: an admin token
    /// may do everything the other scopes allow (the operator's break-glass
    /// token), while `osa:intake` and `osa:read` imply nothing beyond themselves.
    pub fn require(&self, scope: &'static str) -> Result<(), AuthError> {
        if self.scopes.contains(scope) || self.scopes.contains(scopes::ADMIN) {
            Ok(())
        } else {
            Err(AuthError::InsufficientScope(scope))
        }
    }
}

struct Key {
    kid: Option<String>,
    key: DecodingKey,
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

/// Verifies RS256 bearer tokens. Only RS256 is accepted, so `alg: none` and
/// HS256-with-the-public-key confusion are rejected by construction.
pub struct JwtVerifier {
    keys: RwLock<Arc<Vec<Key>>>,
    source: KeySource,
    policy: RefreshPolicy,
    clock: Arc<dyn Clock>,
    http: Option<reqwest::Client>,
    /// Unix ms of the last successful load, and of the last attempt.
    loaded_at_ms: AtomicI64,
    attempted_at_ms: AtomicI64,
    /// One re-read at a time; the others wait for it and use its keys.
    refreshing: tokio::sync::Mutex<()>,
    validation: Validation,
}

impl JwtVerifier {
    /// Fixed RS256 public keys in PEM form (the local dev key).
    pub fn from_pems(pems: &[String], issuer: &str, audience: &str) -> Result<Self, AuthError> {
        let keys = pems
            .iter()
            .map(|pem| {
                DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map(|key| Key { kid: None, key })
                    .map_err(|e| AuthError::Config(format!("bad public key PEM: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys, KeySource::Static, issuer, audience, None)
    }

    /// A fixed JWKS document: never re-read.
    pub fn from_jwks(jwks_json: &str, issuer: &str, audience: &str) -> Result<Self, AuthError> {
        Self::new(
            parse_jwks(jwks_json.as_bytes())?,
            KeySource::Static,
            issuer,
            audience,
            None,
        )
    }

    /// A JWKS file, read now and re-read as [`RefreshPolicy`] says.
    pub fn from_jwks_file(
        path: impl Into<PathBuf>,
        issuer: &str,
        audience: &str,
    ) -> Result<Self, AuthError> {
        let path = path.into();
        let keys = parse_jwks(&read_file(&path)?)?;
        Self::new(keys, KeySource::File(path), issuer, audience, None)
    }

    /// A JWKS URL, fetched now (so a bad URL fails at start-up) and re-fetched as
    /// [`RefreshPolicy`] says.
    pub async fn from_jwks_url(
        url: &str,
        issuer: &str,
        audience: &str,
        policy: RefreshPolicy,
    ) -> Result<Self, AuthError> {
        let http = reqwest::Client::builder()
            .timeout(policy.fetch_timeout)
            .build()
            .map_err(|e| AuthError::Config(format!("HTTP client: {e}")))?;
        let keys = parse_jwks(&fetch(&http, url).await?)?;
        Ok(Self::new(
            keys,
            KeySource::Url(url.to_owned()),
            issuer,
            audience,
            Some(http),
        )?
        .with_refresh_policy(policy))
    }

    fn new(
        keys: Vec<Key>,
        source: KeySource,
        issuer: &str,
        audience: &str,
        http: Option<reqwest::Client>,
    ) -> Result<Self, AuthError> {
        if keys.is_empty() {
            return Err(AuthError::Config("no public keys configured".into()));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let now = clock.now_ms();
        Ok(JwtVerifier {
            keys: RwLock::new(Arc::new(keys)),
            source,
            policy: RefreshPolicy::default(),
            clock,
            http,
            loaded_at_ms: AtomicI64::new(now),
            attempted_at_ms: AtomicI64::new(now),
            refreshing: tokio::sync::Mutex::new(()),
            validation,
        })
    }

    /// Replaces the default [`RefreshPolicy`].
    pub fn with_refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock refresh decisions use (token expiry always uses the system clock).
    /// The current keys count as loaded at this clock's now.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        let now = clock.now_ms();
        self.loaded_at_ms = AtomicI64::new(now);
        self.attempted_at_ms = AtomicI64::new(now);
        self.clock = clock;
        self
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// Verifies a raw `Authorization` header value against the keys in hand.
    pub fn verify_header(&self, header: Option<&str>) -> Result<Caller, AuthError> {
        self.verify(bearer(header)?)
    }

    /// Like [`verify_header`](Self::verify_header), re-reading the JWKS first
    /// when [`verify_fresh`](Self::verify_fresh) would.
    pub async fn verify_header_fresh(&self, header: Option<&str>) -> Result<Caller, AuthError> {
        self.verify_fresh(bearer(header)?).await
    }

    /// Verifies a token against the keys in hand; never re-reads them.
    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let header = rs256_header(token)?;
        decode(&self.current(), token, &header, &self.validation)
    }

    /// Verifies a token, first re-reading a JWKS file or URL when the keys in
    /// hand are older than the TTL or do not include the token's `kid` (at most
    /// once per `min_interval`). The HTTP edge calls this once per request, so
    /// the handlers' [`verify`](Self::verify) sees rotated keys.
    pub async fn verify_fresh(&self, token: &str) -> Result<Caller, AuthError> {
        // Decided before any key is looked at, let alone re-read.
        let header = rs256_header(token)?;
        if self.stale() {
            self.refresh().await;
        }
        let mut keys = self.current();
        if !knows(&keys, header.kid.as_deref()) && self.may_refresh() {
            self.refresh().await;
            keys = self.current();
        }
        decode(&keys, token, &header, &self.validation)
    }

    fn current(&self) -> Arc<Vec<Key>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn may_refresh(&self) -> bool {
        self.source != KeySource::Static
            && elapsed_ms(self.clock.now_ms(), &self.attempted_at_ms)
                >= self.policy.min_interval.as_millis() as i64
    }

    fn stale(&self) -> bool {
        self.may_refresh()
            && elapsed_ms(self.clock.now_ms(), &self.loaded_at_ms)
                >= self.policy.ttl.as_millis() as i64
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
                None => Err(AuthError::Config("no HTTP client for the JWKS URL".into())),
            },
        }
        .and_then(|bytes| parse_jwks(&bytes));
        match loaded {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), source = ?self.source, "JWKS re-read");
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
                self.loaded_at_ms.store(now, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!(error = %e, source = ?self.source, "JWKS re-read failed; keeping the keys in hand");
            }
        }
    }
}

/// The token of a `Bearer` header value.
fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let header = header.ok_or(AuthError::Missing)?;
    Ok(header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or(AuthError::Missing)?
        .trim())
}

/// The token's header, refused unless it says RS256.
fn rs256_header(token: &str) -> Result<Header, AuthError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(AuthError::Invalid(format!(
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
) -> Result<Caller, AuthError> {
    let candidates: Vec<&Key> = keys
        .iter()
        .filter(|k| match (&header.kid, &k.kid) {
            (Some(wanted), Some(kid)) => wanted == kid,
            _ => true,
        })
        .collect();
    if candidates.is_empty() {
        return Err(AuthError::Invalid("unknown key id".into()));
    }
    let mut last = AuthError::Invalid("no key matched".into());
    for key in candidates {
        match jsonwebtoken::decode::<Claims>(token, &key.key, validation) {
            Ok(data) => {
                return Ok(Caller {
                    subject: data.claims.sub,
                    scopes: data
                        .claims
                        .scope
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                });
            }
            Err(e) => last = AuthError::Invalid(e.to_string()),
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

/// The RS256 signing keys of a JWKS document. Keys OSA cannot use (encryption
/// keys, other key types or algorithms) are skipped; a document with none left
/// is an error.
fn parse_jwks(bytes: &[u8]) -> Result<Vec<Key>, AuthError> {
    let set: JwkSet =
        serde_json::from_slice(bytes).map_err(|e| AuthError::Config(format!("bad JWKS: {e}")))?;
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
        return Err(AuthError::Config(
            "the JWKS has no RS256 signing key".into(),
        ));
    }
    Ok(keys)
}

fn read_file(path: &Path) -> Result<Vec<u8>, AuthError> {
    let bytes = std::fs::read(path)
        .map_err(|e| AuthError::Config(format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() > MAX_JWKS_BYTES {
        return Err(AuthError::Config(format!(
            "{} is larger than {MAX_JWKS_BYTES} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, AuthError> {
    let failed = |reason: String| AuthError::Config(format!("JWKS fetch from {url}: {reason}"));
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

/// A local RSA key pair for development: `osa` creates it on first start.
pub struct DevKeys {
    pub private_pem: String,
    pub public_pem: String,
}

impl DevKeys {
    pub fn generate() -> Result<Self, AuthError> {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::{KeyPair, RsaKeyPair};
        let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| AuthError::Config("RSA key generation failed".into()))?;
        let private = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
            .map_err(|_| AuthError::Config("could not encode private key".into()))?;
        let public = pair
            .public_key()
            .as_der()
            .map_err(|_| AuthError::Config("could not encode public key".into()))?;
        Ok(DevKeys {
            private_pem: pem("PRIVATE KEY", private.as_ref()),
            public_pem: pem("PUBLIC KEY", public.as_ref()),
        })
    }

    /// Loads `dev-jwt-private.pem` / `dev-jwt-public.pem` from `dir`, creating them if absent.
    pub fn load_or_create(dir: &Path) -> std::io::Result<Self> {
        let private_path = dir.join("dev-jwt-private.pem");
        let public_path = dir.join("dev-jwt-public.pem");
        if private_path.exists() && public_path.exists() {
            return Ok(DevKeys {
                private_pem: std::fs::read_to_string(private_path)?,
                public_pem: std::fs::read_to_string(public_path)?,
            });
        }
        let keys = DevKeys::generate().map_err(std::io::Error::other)?;
        write_private(&private_path, &keys.private_pem)?;
        std::fs::write(public_path, &keys.public_pem)?;
        Ok(keys)
    }

    /// Mints a token for `subject` with `scopes`, valid for `ttl_secs`.
    pub fn mint(
        &self,
        issuer: &str,
        audience: &str,
        subject: &str,
        scopes: &[&str],
        now_unix: i64,
        ttl_secs: i64,
    ) -> Result<String, AuthError> {
        let key = EncodingKey::from_rsa_pem(self.private_pem.as_bytes())
            .map_err(|e| AuthError::Config(format!("bad private key: {e}")))?;
        let claims = Claims {
            sub: subject.to_owned(),
            iss: issuer.to_owned(),
            aud: audience.to_owned(),
            exp: now_unix + ttl_secs,
            iat: now_unix,
            scope: scopes.join(" "),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key)
            .map_err(|e| AuthError::Config(e.to_string()))
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(contents.as_bytes())
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, contents)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ports::clock::manual::ManualClock;
    use jsonwebtoken::jwk::Jwk;
    use std::sync::OnceLock;
    use std::sync::atomic::AtomicUsize;

    const ISS: &str = "osa-local";
    const AUD: &str = "osa-api";

    pub(crate) fn keys() -> &'static DevKeys {
        static KEYS: OnceLock<DevKeys> = OnceLock::new();
        KEYS.get_or_init(|| DevKeys::generate().unwrap())
    }

    /// A second pair, for rotation.
    pub(crate) fn other_keys() -> &'static DevKeys {
        static KEYS: OnceLock<DevKeys> = OnceLock::new();
        KEYS.get_or_init(|| DevKeys::generate().unwrap())
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn verifier() -> JwtVerifier {
        JwtVerifier::from_pems(&[keys().public_pem.clone()], ISS, AUD).unwrap()
    }

    /// A valid token signed by `keys` whose header names `kid`.
    pub(crate) fn mint_kid(keys: &DevKeys, kid: &str, granted: &[&str]) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let claims = Claims {
            sub: "dev".into(),
            iss: ISS.into(),
            aud: AUD.into(),
            exp: now() + 3600,
            iat: now(),
            scope: granted.join(" "),
        };
        let key = EncodingKey::from_rsa_pem(keys.private_pem.as_bytes()).unwrap();
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }

    /// The public half of `keys` as a JWK with `kid`.
    pub(crate) fn jwk(keys: &DevKeys, kid: &str) -> serde_json::Value {
        let key = EncodingKey::from_rsa_pem(keys.private_pem.as_bytes()).unwrap();
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        serde_json::to_value(jwk).unwrap()
    }

    pub(crate) fn jwks(keys: &[serde_json::Value]) -> String {
        serde_json::json!({ "keys": keys }).to_string()
    }

    pub(crate) fn manual_clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()))
    }

    /// A JWKS file in a fresh directory, removed on drop.
    pub(crate) struct JwksFile(pub(crate) PathBuf);

    impl JwksFile {
        pub(crate) fn new(contents: &str) -> JwksFile {
            let dir = std::env::temp_dir().join(format!(
                "osa-jwks-{}-{:016x}",
                std::process::id(),
                rand::random::<u64>()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let file = JwksFile(dir.join("jwks.json"));
            file.write(contents);
            file
        }

        pub(crate) fn write(&self, contents: &str) {
            std::fs::write(&self.0, contents).unwrap();
        }
    }

    impl Drop for JwksFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    #[test]
    fn a_minted_token_verifies_with_its_scopes() {
        let t = keys()
            .mint(
                ISS,
                AUD,
                "dev",
                &[scopes::INTAKE, scopes::READ],
                now(),
                3600,
            )
            .unwrap();
        let caller = verifier()
            .verify_header(Some(&format!("Bearer {t}")))
            .unwrap();
        assert_eq!(caller.subject, "dev");
        assert!(caller.require(scopes::INTAKE).is_ok());
        assert_eq!(
            caller.require(scopes::ADMIN),
            Err(AuthError::InsufficientScope(scopes::ADMIN))
        );
    }

    #[test]
    fn a_missing_scope_is_refused_and_only_admin_implies_the_others() {
        fn caller(granted: &[&str]) -> Caller {
            let t = keys().mint(ISS, AUD, "dev", granted, now(), 3600).unwrap();
            verifier().verify(&t).unwrap()
        }
        let none = caller(&[]);
        for scope in scopes::ALL {
            assert_eq!(
                none.require(scope),
                Err(AuthError::InsufficientScope(scope))
            );
        }
        let reader = caller(&[scopes::READ]);
        assert!(reader.require(scopes::READ).is_ok());
        assert_eq!(
            reader.require(scopes::INTAKE),
            Err(AuthError::InsufficientScope(scopes::INTAKE))
        );
        let intake = caller(&[scopes::INTAKE]);
        assert_eq!(
            intake.require(scopes::READ),
            Err(AuthError::InsufficientScope(scopes::READ))
        );
        // A look-alike is not the scope.
        let lookalike = caller(&["osa:admin2", "osa:read:all"]);
        assert_eq!(
            lookalike.require(scopes::READ),
            Err(AuthError::InsufficientScope(scopes::READ))
        );
        let admin = caller(&[scopes::ADMIN]);
        for scope in scopes::ALL {
            assert!(admin.require(scope).is_ok(), "admin implies {scope}");
        }
    }

    #[test]
    fn expiry_issuer_and_audience_are_enforced() {
        let v = verifier();
        let expired = keys()
            .mint(ISS, AUD, "dev", &[], now() - 7200, 3600)
            .unwrap();
        assert!(matches!(v.verify(&expired), Err(AuthError::Invalid(_))));
        let wrong_iss = keys()
            .mint("someone-else", AUD, "dev", &[], now(), 3600)
            .unwrap();
        assert!(matches!(v.verify(&wrong_iss), Err(AuthError::Invalid(_))));
        let wrong_aud = keys()
            .mint(ISS, "other-api", "dev", &[], now(), 3600)
            .unwrap();
        assert!(matches!(v.verify(&wrong_aud), Err(AuthError::Invalid(_))));
        // The control: the same key, issuer and audience, in date.
        let good = keys().mint(ISS, AUD, "dev", &[], now(), 3600).unwrap();
        assert!(v.verify(&good).is_ok());
    }

    #[test]
    fn a_token_from_another_key_is_rejected() {
        let t = other_keys()
            .mint(ISS, AUD, "dev", &[], now(), 3600)
            .unwrap();
        assert!(matches!(verifier().verify(&t), Err(AuthError::Invalid(_))));
    }

    #[test]
    fn an_unknown_kid_is_rejected() {
        let v = JwtVerifier::from_jwks(&jwks(&[jwk(keys(), "k1")]), ISS, AUD).unwrap();
        assert!(v.verify(&mint_kid(keys(), "k1", &[])).is_ok());
        // Signed by the right key, but naming a key the set does not hold.
        assert_eq!(
            v.verify(&mint_kid(keys(), "k9", &[])).unwrap_err(),
            AuthError::Invalid("unknown key id".into())
        );
        // A known kid with another key's signature.
        assert!(matches!(
            v.verify(&mint_kid(other_keys(), "k1", &[])),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn alg_none_and_hs256_confusion_are_rejected() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let claims = format!(
            r#"{{"sub":"x","iss":"{ISS}","aud":"{AUD}","exp":{},"iat":0}}"#,
            now() + 3600
        );
        let none = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&claims));
        assert!(verifier().verify(&none).is_err());
        // HS256 signed with the public key's bytes as the HMAC secret, in both the
        // PEM and the JWKS set-ups.
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::from_str::<serde_json::Value>(&claims).unwrap(),
            &EncodingKey::from_secret(keys().public_pem.as_bytes()),
        )
        .unwrap();
        assert!(matches!(verifier().verify(&hs), Err(AuthError::Invalid(_))));
        let set = jwks(&[jwk(keys(), "k1")]);
        let from_jwks = JwtVerifier::from_jwks(&set, ISS, AUD).unwrap();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let hs_kid = jsonwebtoken::encode(
            &header,
            &serde_json::from_str::<serde_json::Value>(&claims).unwrap(),
            &EncodingKey::from_secret(set.as_bytes()),
        )
        .unwrap();
        assert!(matches!(
            from_jwks.verify(&hs_kid),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn missing_or_malformed_headers_are_missing() {
        let v = verifier();
        assert_eq!(v.verify_header(None).unwrap_err(), AuthError::Missing);
        assert_eq!(
            v.verify_header(Some("Basic abc")).unwrap_err(),
            AuthError::Missing
        );
        assert!(matches!(
            v.verify_header(Some("Bearer not.a.jwt")),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn jwks_keys_that_are_not_rs256_signing_keys_are_skipped() {
        let mut enc = jwk(other_keys(), "enc");
        enc["use"] = "enc".into();
        let mut es = jwk(other_keys(), "es");
        es["alg"] = "ES256".into();
        let oct = serde_json::json!({"kty": "oct", "kid": "hs", "k": "c2VjcmV0"});
        let only_unusable = jwks(&[enc.clone(), es.clone(), oct.clone()]);
        assert!(matches!(
            JwtVerifier::from_jwks(&only_unusable, ISS, AUD),
            Err(AuthError::Config(_))
        ));
        let mixed = jwks(&[enc, es, oct, jwk(keys(), "k1")]);
        let keys = parse_jwks(mixed.as_bytes()).unwrap();
        assert_eq!(
            keys.iter().map(|k| k.kid.as_deref()).collect::<Vec<_>>(),
            [Some("k1")]
        );
        assert!(matches!(
            JwtVerifier::from_jwks("{not json", ISS, AUD),
            Err(AuthError::Config(_))
        ));
    }

    #[tokio::test]
    async fn a_rotated_jwks_file_is_picked_up_by_kid_without_a_new_verifier() {
        let file = JwksFile::new(&jwks(&[jwk(keys(), "k1")]));
        let clock = manual_clock();
        let v = JwtVerifier::from_jwks_file(&file.0, ISS, AUD)
            .unwrap()
            .with_clock(clock.clone());
        assert_eq!(v.source(), &KeySource::File(file.0.clone()));
        let old = mint_kid(keys(), "k1", &[scopes::READ]);
        let new = mint_kid(other_keys(), "k2", &[scopes::READ]);
        assert!(v.verify_fresh(&old).await.is_ok());
        assert!(v.verify_fresh(&new).await.is_err());

        // Rotation: k2 replaces k1 in the file.
        file.write(&jwks(&[jwk(other_keys(), "k2")]));
        // Within a minute of the last read, an unknown kid does not re-read.
        clock.advance(Duration::from_secs(30));
        assert_eq!(
            v.verify_fresh(&new).await.unwrap_err(),
            AuthError::Invalid("unknown key id".into())
        );
        clock.advance(Duration::from_secs(31));
        // The plain `verify` never re-reads: the edge's `verify_fresh` does.
        assert!(v.verify(&new).is_err());
        let caller = v.verify_fresh(&new).await.unwrap();
        assert!(caller.require(scopes::READ).is_ok());
        assert!(v.verify(&new).is_ok());
        // The retired key is gone with the re-read.
        assert!(v.verify_fresh(&old).await.is_err());
    }

    #[tokio::test]
    async fn a_stale_cache_is_re_read_after_the_ttl_and_a_failed_read_keeps_the_keys() {
        let file = JwksFile::new(&jwks(&[jwk(keys(), "k1")]));
        let clock = manual_clock();
        let v = JwtVerifier::from_jwks_file(&file.0, ISS, AUD)
            .unwrap()
            .with_clock(clock.clone());
        // The same kid now names another key: the kid is known, so only the TTL
        // brings the new key in.
        file.write(&jwks(&[jwk(other_keys(), "k1")]));
        let reissued = mint_kid(other_keys(), "k1", &[]);
        clock.advance(Duration::from_secs(599));
        assert!(v.verify_fresh(&reissued).await.is_err());
        clock.advance(Duration::from_secs(1));
        assert!(v.verify_fresh(&reissued).await.is_ok());

        // A broken file after another TTL: the keys in hand stay.
        file.write("{\"keys\": [");
        clock.advance(Duration::from_secs(601));
        assert!(v.verify_fresh(&reissued).await.is_ok());
        std::fs::remove_file(&file.0).unwrap();
        clock.advance(Duration::from_secs(601));
        assert!(v.verify_fresh(&reissued).await.is_ok());
    }

    /// Serves a JWKS document on 127.0.0.1 and counts the fetches.
    struct JwksServer {
        url: String,
        document: Arc<RwLock<String>>,
        fetches: Arc<AtomicUsize>,
    }

    async fn jwks_server(initial: String) -> JwksServer {
        let document = Arc::new(RwLock::new(initial));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (doc, count) = (document.clone(), fetches.clone());
        let router = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let (doc, count) = (doc.clone(), count.clone());
                async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    doc.read().unwrap().clone()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        JwksServer {
            url: format!("http://{addr}/jwks.json"),
            document,
            fetches,
        }
    }

    #[tokio::test]
    async fn a_jwks_url_is_refetched_for_a_new_kid_at_most_once_a_minute() {
        let server = jwks_server(jwks(&[jwk(keys(), "k1")])).await;
        let clock = manual_clock();
        let v = JwtVerifier::from_jwks_url(&server.url, ISS, AUD, RefreshPolicy::default())
            .await
            .unwrap()
            .with_clock(clock.clone());
        assert_eq!(server.fetches.load(Ordering::SeqCst), 1);
        assert!(v.verify_fresh(&mint_kid(keys(), "k1", &[])).await.is_ok());

        // A flood of made-up kids costs at most one fetch a minute.
        clock.advance(Duration::from_secs(61));
        for i in 0..20 {
            let t = mint_kid(keys(), &format!("made-up-{i}"), &[]);
            assert!(v.verify_fresh(&t).await.is_err());
        }
        assert_eq!(server.fetches.load(Ordering::SeqCst), 2);

        // The issuer publishes k2 beside k1; a minute on, a k2 token verifies.
        *server.document.write().unwrap() = jwks(&[jwk(keys(), "k1"), jwk(other_keys(), "k2")]);
        let k2 = mint_kid(other_keys(), "k2", &[]);
        assert!(v.verify_fresh(&k2).await.is_err());
        clock.advance(Duration::from_secs(60));
        assert!(v.verify_fresh(&k2).await.is_ok());
        assert!(v.verify_fresh(&mint_kid(keys(), "k1", &[])).await.is_ok());
        assert_eq!(server.fetches.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_unreachable_jwks_url_fails_at_start() {
        // Port 9 (discard) on loopback: nothing listens there.
        let result = JwtVerifier::from_jwks_url(
            "http://127.0.0.1:9/jwks.json",
            ISS,
            AUD,
            RefreshPolicy::default(),
        )
        .await;
        assert!(matches!(result, Err(AuthError::Config(_))));
    }
}
