//! Bearer tokens: RS256 JWTs checked against configured public keys (PEM or JWKS),
//! with issuer, audience and expiry enforced. Also mints local development tokens.

use std::collections::HashSet;
use std::path::Path;

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, jwk::JwkSet};
use serde::{Deserialize, Serialize};

/// Scopes OSA checks per route.
pub mod scopes {
    pub const INTAKE: &str = "osa:intake";
    pub const READ: &str = "osa:read";
    pub const ADMIN: &str = "osa:admin";
    pub const ALL: [&str; 3] = [INTAKE, READ, ADMIN];
}

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

/// Verifies RS256 bearer tokens. Only RS256 is accepted, so `alg: none` and
/// HS256-with-the-public-key confusion are rejected by construction.
pub struct JwtVerifier {
    keys: Vec<Key>,
    validation: Validation,
}

impl JwtVerifier {
    pub fn from_pems(pems: &[String], issuer: &str, audience: &str) -> Result<Self, AuthError> {
        let keys = pems
            .iter()
            .map(|pem| {
                DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map(|key| Key { kid: None, key })
                    .map_err(|e| AuthError::Config(format!("bad public key PEM: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys, issuer, audience)
    }

    pub fn from_jwks(jwks_json: &str, issuer: &str, audience: &str) -> Result<Self, AuthError> {
        let set: JwkSet = serde_json::from_str(jwks_json)
            .map_err(|e| AuthError::Config(format!("bad JWKS: {e}")))?;
        let keys = set
            .keys
            .iter()
            .map(|jwk| {
                DecodingKey::from_jwk(jwk)
                    .map(|key| Key {
                        kid: jwk.common.key_id.clone(),
                        key,
                    })
                    .map_err(|e| AuthError::Config(format!("bad JWK: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys, issuer, audience)
    }

    fn new(keys: Vec<Key>, issuer: &str, audience: &str) -> Result<Self, AuthError> {
        if keys.is_empty() {
            return Err(AuthError::Config("no public keys configured".into()));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        Ok(JwtVerifier { keys, validation })
    }

    /// Verifies a raw `Authorization` header value.
    pub fn verify_header(&self, header: Option<&str>) -> Result<Caller, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(AuthError::Missing)?
            .trim();
        self.verify(token)
    }

    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        let candidates: Vec<&Key> = match &header.kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid) || k.kid.is_none())
                .collect(),
            None => self.keys.iter().collect(),
        };
        if candidates.is_empty() {
            return Err(AuthError::Invalid("unknown key id".into()));
        }
        let mut last = AuthError::Invalid("no key matched".into());
        for key in candidates {
            match jsonwebtoken::decode::<Claims>(token, &key.key, &self.validation) {
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
mod tests {
    use super::*;
    use std::sync::OnceLock;

    const ISS: &str = "osa-local";
    const AUD: &str = "osa-api";

    fn keys() -> &'static DevKeys {
        static KEYS: OnceLock<DevKeys> = OnceLock::new();
        KEYS.get_or_init(|| DevKeys::generate().unwrap())
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn verifier() -> JwtVerifier {
        JwtVerifier::from_pems(&[keys().public_pem.clone()], ISS, AUD).unwrap()
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
    }

    #[test]
    fn a_token_from_another_key_is_rejected() {
        let other = DevKeys::generate().unwrap();
        let t = other.mint(ISS, AUD, "dev", &[], now(), 3600).unwrap();
        assert!(matches!(verifier().verify(&t), Err(AuthError::Invalid(_))));
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
        // HS256 signed with the public key's bytes as the HMAC secret.
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::from_str::<serde_json::Value>(&claims).unwrap(),
            &EncodingKey::from_secret(keys().public_pem.as_bytes()),
        )
        .unwrap();
        assert!(verifier().verify(&hs).is_err());
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
}
