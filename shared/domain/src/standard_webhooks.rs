//! The Standard Webhooks signature scheme (standardwebhooks.com), beside OSA's
//! own `X-OSA-Signature`: `webhook-id`, `webhook-timestamp` (unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`,
//! several space-separated entries during a key rotation.
//!
//! A secret in the `whsec_<base64>` form signs with the bytes it encodes (the
//! standard's form); any other secret signs with its own UTF-8 bytes, so one
//! configured secret works for both schemes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::secret::Secret;
use super::signature::{SignatureConfig, SignatureError};

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// Bounds the work per request, as for `X-OSA-Signature`.
const MAX_SIGNATURES: usize = 8;
const MAX_HEADER_LEN: usize = 1024;
/// `webhook-id` is a de-duplication key; the standard suggests ids like
/// `msg_<ksuid>`. Longer ones are refused rather than stored.
pub const MAX_ID_LEN: usize = 128;

/// The three headers of a message signed the Standard Webhooks way, as sent.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

/// The key a secret signs with: `whsec_` + base64 decodes, else the text itself.
fn key(secret: &Secret) -> Vec<u8> {
    let text = secret.expose();
    match text.strip_prefix("whsec_") {
        Some(encoded) => BASE64
            .decode(encoded)
            .unwrap_or_else(|_| text.as_bytes().to_vec()),
        None => text.as_bytes().to_vec(),
    }
}

fn mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// `webhook-signature`'s value for `body` sent as message `id` at
/// `timestamp_s`: one `v1,` entry per secret.
pub fn sign(secrets: &[Secret], id: &str, timestamp_s: i64, body: &[u8]) -> String {
    let timestamp = timestamp_s.to_string();
    secrets
        .iter()
        .map(|secret| {
            format!(
                "v1,{}",
                BASE64.encode(mac(&key(secret), id, &timestamp, body))
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Verifies a Standard Webhooks message at `now_ms` with the same secrets and
/// tolerance window as `X-OSA-Signature`; any secret against any `v1` entry
/// (rotation), in constant time.
pub fn verify(
    signed: &Signed<'_>,
    body: &[u8],
    now_ms: i64,
    config: &SignatureConfig,
) -> Result<(), SignatureError> {
    if config.secrets.is_empty() {
        return Err(SignatureError::NoSecretConfigured);
    }
    if signed.id.is_empty()
        || signed.id.len() > MAX_ID_LEN
        || signed.id.bytes().any(|b| b.is_ascii_control())
        || signed.signature.len() > MAX_HEADER_LEN
    {
        return Err(SignatureError::Malformed);
    }
    let seconds: i64 = signed
        .timestamp
        .parse()
        .map_err(|_| SignatureError::Malformed)?;
    let age = now_ms.saturating_sub(seconds.saturating_mul(1000));
    if age > config.tolerance_past_ms || -age > config.tolerance_future_ms {
        return Err(SignatureError::OutsideTolerance);
    }
    let candidates: Vec<Vec<u8>> = signed
        .signature
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .take(MAX_SIGNATURES)
        .filter_map(|b64| BASE64.decode(b64).ok())
        .collect();
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut matched = subtle::Choice::from(0u8);
    for secret in &config.secrets {
        let expected = mac(&key(secret), signed.id, signed.timestamp, body);
        for candidate in &candidates {
            matched |= expected.as_slice().ct_eq(candidate.as_slice());
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_764_000_000_000;
    // From the standard's reference tests: this secret, id, timestamp and body
    // give this signature (the libraries' shared fixture).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: &str = "1614265330";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn config(secrets: &[&str]) -> SignatureConfig {
        SignatureConfig::new(secrets.iter().map(|s| Secret::new(*s)).collect())
    }

    fn at(timestamp: &str) -> i64 {
        timestamp.parse::<i64>().unwrap_or_default() * 1000
    }

    #[test]
    fn signs_like_the_reference_libraries() {
        let ts: i64 = TIMESTAMP.parse().unwrap_or_default();
        assert_eq!(sign(&[Secret::new(SECRET)], ID, ts, BODY), EXPECTED);
    }

    #[test]
    fn verifies_with_any_secret_against_any_entry() {
        let signed = Signed {
            id: ID,
            timestamp: TIMESTAMP,
            signature: &format!("v1,bm90LXRoaXM= {EXPECTED}"),
        };
        let now = at(TIMESTAMP);
        assert_eq!(
            verify(&signed, BODY, now, &config(&["old", SECRET])),
            Ok(())
        );
        assert_eq!(
            verify(&signed, b"{}", now, &config(&[SECRET])),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&signed, BODY, now, &config(&["other"])),
            Err(SignatureError::Mismatch)
        );
        let other_id = Signed {
            id: "msg_2",
            ..signed
        };
        assert_eq!(
            verify(&other_id, BODY, now, &config(&[SECRET])),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_tolerance_window_and_the_header_forms_are_enforced() {
        let ok = Signed {
            id: ID,
            timestamp: TIMESTAMP,
            signature: EXPECTED,
        };
        let c = config(&[SECRET]);
        let sent = at(TIMESTAMP);
        assert_eq!(verify(&ok, BODY, sent + 5 * 60 * 1000, &c), Ok(()));
        assert_eq!(
            verify(&ok, BODY, sent + 5 * 60 * 1000 + 1000, &c),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(
            verify(&ok, BODY, sent - 61 * 1000, &c),
            Err(SignatureError::OutsideTolerance)
        );
        for bad in [
            Signed {
                timestamp: "soon",
                ..ok
            },
            Signed {
                signature: "v2,abc",
                ..ok
            },
            Signed { id: "", ..ok },
        ] {
            assert_eq!(verify(&bad, BODY, sent, &c), Err(SignatureError::Malformed));
        }
        assert_eq!(
            verify(&ok, BODY, NOW_MS, &config(&[])),
            Err(SignatureError::NoSecretConfigured)
        );
    }

    #[test]
    fn a_plain_secret_signs_with_its_own_bytes() {
        let plain = sign(&[Secret::new("notify-secret")], "id", 1, b"{}");
        let c = config(&["notify-secret"]);
        let signed = Signed {
            id: "id",
            timestamp: "1",
            signature: &plain,
        };
        assert_eq!(verify(&signed, b"{}", 1000, &c), Ok(()));
    }
}
