//! Signing keys for auth tests: a second key pair for rotation, tokens whose
//! header names a `kid`, JWKs and JWKS files.

use std::path::PathBuf;
use std::sync::OnceLock;

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use osa_net::jwt::DevKeys;
use serde_json::{Value, json};

use crate::app::{AUDIENCE, ISSUER};

/// A second key pair, for rotation.
pub fn other_keys() -> &'static DevKeys {
    static KEYS: OnceLock<DevKeys> = OnceLock::new();
    KEYS.get_or_init(|| DevKeys::generate().unwrap_or_else(|e| panic!("test keys: {e}")))
}

/// A token for the testkit's issuer and audience, signed by `keys`, whose header
/// names `kid`, valid for an hour from the real current time.
pub fn mint_kid(keys: &DevKeys, kid: &str, granted: &[&str]) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "sub": "dev", "iss": ISSUER, "aud": AUDIENCE,
        "exp": now + 3600, "iat": now, "scope": granted.join(" "),
    });
    let key = EncodingKey::from_rsa_pem(keys.private_pem.as_bytes())
        .unwrap_or_else(|e| panic!("test key: {e}"));
    jsonwebtoken::encode(&header, &claims, &key).unwrap_or_else(|e| panic!("mint: {e}"))
}

/// The public half of `keys` as a JWK with `kid`.
pub fn jwk(keys: &DevKeys, kid: &str) -> Value {
    let key = EncodingKey::from_rsa_pem(keys.private_pem.as_bytes())
        .unwrap_or_else(|e| panic!("test key: {e}"));
    let mut jwk =
        Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap_or_else(|e| panic!("jwk: {e}"));
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    serde_json::to_value(jwk).unwrap_or_else(|e| panic!("jwk: {e}"))
}

/// A JWKS document holding `keys`.
pub fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// A JWKS file in a fresh directory, removed on drop.
pub struct JwksFile(pub PathBuf);

impl JwksFile {
    pub fn new(contents: &str) -> JwksFile {
        let dir = std::env::temp_dir().join(format!(
            "osa-jwks-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("temp dir: {e}"));
        let file = JwksFile(dir.join("jwks.json"));
        file.write(contents);
        file
    }

    pub fn write(&self, contents: &str) {
        std::fs::write(&self.0, contents).unwrap_or_else(|e| panic!("jwks file: {e}"));
    }
}

impl Drop for JwksFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
