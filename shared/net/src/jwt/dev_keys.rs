//! A local RSA key pair for development, and the tokens it mints.

use std::path::Path;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use osa_domain::access::AccessError;

/// A local RSA key pair for development: `osa` creates it on first start.
#[derive(Clone)]
pub struct DevKeys {
    pub private_pem: String,
    pub public_pem: String,
}

impl DevKeys {
    pub fn generate() -> Result<Self, AccessError> {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::{KeyPair, RsaKeyPair};
        let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| AccessError::Config("RSA key generation failed".into()))?;
        let private = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
            .map_err(|_| AccessError::Config("could not encode private key".into()))?;
        let public = pair
            .public_key()
            .as_der()
            .map_err(|_| AccessError::Config("could not encode public key".into()))?;
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
    ) -> Result<String, AccessError> {
        let key = EncodingKey::from_rsa_pem(self.private_pem.as_bytes())
            .map_err(|e| AccessError::Config(format!("bad private key: {e}")))?;
        let claims = serde_json::json!({
            "sub": subject,
            "iss": issuer,
            "aud": audience,
            "exp": now_unix + ttl_secs,
            "iat": now_unix,
            "scope": scopes.join(" "),
        });
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key)
            .map_err(|e| AccessError::Config(e.to_string()))
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
