//! Webhook signatures: `X-OSA-Signature: t=<unix-ms>,v1=<hex>[,v1=<hex>...]`.
//!
//! `v1` is the lowercase hex HMAC-SHA256 of `<t>.<raw body>` under a shared secret.
//! Verification accepts any configured secret against any `v1` (for rotation), in
//! constant time, and only inside a tolerance window around `now`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// The header a sender signs with.
pub const SIGNATURE_HEADER: &str = "x-osa-signature";

/// More `v1` entries than any sane rotation needs; bounds the work per request.
const MAX_SIGNATURES: usize = 8;
const MAX_HEADER_LEN: usize = 1024;

#[derive(Clone, Debug)]
pub struct SignatureConfig {
    pub secrets: Vec<Secret>,
    /// How old a signature may be, in milliseconds (default 5 minutes).
    pub tolerance_past_ms: i64,
    /// How far in the future a signature may claim to be (default 1 minute).
    pub tolerance_future_ms: i64,
    /// Also accept the original senders' form without the `.` separator.
    pub allow_legacy_unseparated: bool,
    /// Which signature schemes a webhook may use.
    pub schemes: Schemes,
}

/// The signature schemes accepted (`OSA_WEBHOOK_SIGNATURE_SCHEMES=osa,standard`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schemes {
    /// `X-OSA-Signature`.
    pub osa: bool,
    /// Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
    pub standard: bool,
}

impl Default for Schemes {
    fn default() -> Self {
        Schemes {
            osa: true,
            standard: false,
        }
    }
}

impl std::str::FromStr for Schemes {
    type Err = String;

    /// A comma-separated list of `osa` and `standard`, at least one.
    fn from_str(list: &str) -> Result<Self, String> {
        let mut schemes = Schemes {
            osa: false,
            standard: false,
        };
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "osa" => schemes.osa = true,
                "standard" => schemes.standard = true,
                other => return Err(format!("unknown signature scheme {other:?}")),
            }
        }
        if schemes.osa || schemes.standard {
            Ok(schemes)
        } else {
            Err("name at least one scheme".into())
        }
    }
}

impl SignatureConfig {
    pub fn new(secrets: Vec<Secret>) -> Self {
        SignatureConfig {
            secrets,
            tolerance_past_ms: 5 * 60 * 1000,
            tolerance_future_ms: 60 * 1000,
            allow_legacy_unseparated: false,
            schemes: Schemes::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing signature: X-OSA-Signature, or webhook-signature where accepted")]
    Missing,
    #[error("malformed X-OSA-Signature header")]
    Malformed,
    #[error("signature timestamp outside the tolerance window")]
    OutsideTolerance,
    #[error("signature does not match")]
    Mismatch,
    #[error("no webhook secret is configured")]
    NoSecretConfigured,
}

impl SignatureError {
    /// A stable machine-readable reason for the audit trail and error bodies.
    pub const fn code(self) -> &'static str {
        match self {
            SignatureError::Missing => "signature_missing",
            SignatureError::Malformed => "signature_malformed",
            SignatureError::OutsideTolerance => "signature_expired",
            SignatureError::Mismatch => "signature_mismatch",
            SignatureError::NoSecretConfigured => "signature_unconfigured",
        }
    }
}

struct ParsedHeader {
    timestamp: i64,
    timestamp_text: String,
    signatures: Vec<[u8; 32]>,
}

fn parse_header(header: &str) -> Result<ParsedHeader, SignatureError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(SignatureError::Malformed);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key.trim() {
            "t" => {
                let value = value.trim();
                if timestamp.is_some()
                    || value.is_empty()
                    || value.len() > 16
                    || !value.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(SignatureError::Malformed);
                }
                let t: i64 = value.parse().map_err(|_| SignatureError::Malformed)?;
                timestamp = Some((t, value.to_owned()));
            }
            "v1" => {
                let mut sig = [0u8; 32];
                hex::decode_to_slice(value.trim(), &mut sig)
                    .map_err(|_| SignatureError::Malformed)?;
                if signatures.len() == MAX_SIGNATURES {
                    return Err(SignatureError::Malformed);
                }
                signatures.push(sig);
            }
            // Unknown schemes are ignored so senders can add newer versions.
            _ => {}
        }
    }
    let (timestamp, timestamp_text) = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    Ok(ParsedHeader {
        timestamp,
        timestamp_text,
        signatures,
    })
}

fn mac(secret: &Secret, timestamp: &str, separator: &[u8], body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.as_bytes());
    mac.update(separator);
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Verifies `header` for `body` at `now_ms` (unix milliseconds).
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    now_ms: i64,
    config: &SignatureConfig,
) -> Result<(), SignatureError> {
    if config.secrets.is_empty() {
        return Err(SignatureError::NoSecretConfigured);
    }
    let header = header.ok_or(SignatureError::Missing)?;
    let parsed = parse_header(header)?;
    let age = now_ms.saturating_sub(parsed.timestamp);
    if age > config.tolerance_past_ms || -age > config.tolerance_future_ms {
        return Err(SignatureError::OutsideTolerance);
    }
    let separators: &[&[u8]] = if config.allow_legacy_unseparated {
        &[b".", b""]
    } else {
        &[b"."]
    };
    // Check every combination without stopping early, so timing reveals nothing
    // about which secret or which entry matched.
    let mut matched = subtle::Choice::from(0u8);
    for secret in &config.secrets {
        for separator in separators {
            let expected = mac(secret, &parsed.timestamp_text, separator, body);
            for candidate in &parsed.signatures {
                matched |= expected.ct_eq(candidate);
            }
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header value a sender puts on `body` at `timestamp_ms`, one `v1` per secret.
pub fn sign(secrets: &[Secret], timestamp_ms: i64, body: &[u8]) -> String {
    let t = timestamp_ms.to_string();
    let mut header = format!("t={t}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac(secret, &t, b".", body)));
    }
    header
}

/// The original senders' form: timestamp and body with no separator.
pub fn sign_legacy(secret: &Secret, timestamp_ms: i64, body: &[u8]) -> String {
    let t = timestamp_ms.to_string();
    format!("t={t},v1={}", hex::encode(mac(secret, &t, b"", body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_764_000_000_000;

    fn cfg(secrets: &[&str]) -> SignatureConfig {
        SignatureConfig::new(secrets.iter().map(|s| Secret::new(*s)).collect())
    }

    #[test]
    fn a_fresh_signature_verifies() {
        let c = cfg(&["s1"]);
        let h = sign(&c.secrets, NOW, b"{\"a\":1}");
        assert_eq!(verify(Some(&h), b"{\"a\":1}", NOW, &c), Ok(()));
    }

    #[test]
    fn known_vector() {
        // HMAC-SHA256(key "secret", "1700000000000.hello"), computed with Python's hmac.
        let h = sign(&[Secret::new("secret")], 1_700_000_000_000, b"hello");
        assert_eq!(
            h,
            "t=1700000000000,v1=34e93906d48eb7d7b2bf2fee809e41149b8a3030b5459f29c5ca880f4cc626a6"
        );
    }

    #[test]
    fn a_tampered_body_or_wrong_secret_fails() {
        let c = cfg(&["s1"]);
        let h = sign(&c.secrets, NOW, b"body");
        assert_eq!(
            verify(Some(&h), b"bodY", NOW, &c),
            Err(SignatureError::Mismatch)
        );
        let other = cfg(&["s2"]);
        assert_eq!(
            verify(Some(&h), b"body", NOW, &other),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_configured_secret_and_any_v1_is_accepted() {
        let rotated = cfg(&["old", "new"]);
        // The sender signs with only the new secret, listed after a junk entry.
        let h = sign(&[Secret::new("new")], NOW, b"x");
        let with_junk = h.replacen("v1=", &format!("v1={},v1=", "0".repeat(64)), 1);
        assert_eq!(verify(Some(&with_junk), b"x", NOW, &rotated), Ok(()));
        // The sender signs with both; the receiver knows only the old one.
        let both = sign(&[Secret::new("old"), Secret::new("new")], NOW, b"x");
        assert_eq!(verify(Some(&both), b"x", NOW, &cfg(&["old"])), Ok(()));
    }

    #[test]
    fn the_tolerance_window_is_enforced_at_its_edges() {
        let c = cfg(&["s"]);
        let at = |t: i64| sign(&c.secrets, t, b"b");
        assert_eq!(verify(Some(&at(NOW - 300_000)), b"b", NOW, &c), Ok(()));
        assert_eq!(
            verify(Some(&at(NOW - 300_001)), b"b", NOW, &c),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(verify(Some(&at(NOW + 60_000)), b"b", NOW, &c), Ok(()));
        assert_eq!(
            verify(Some(&at(NOW + 60_001)), b"b", NOW, &c),
            Err(SignatureError::OutsideTolerance)
        );
    }

    #[test]
    fn the_legacy_form_needs_the_switch() {
        let mut c = cfg(&["s"]);
        let h = sign_legacy(&c.secrets[0], NOW, b"b");
        assert_eq!(
            verify(Some(&h), b"b", NOW, &c),
            Err(SignatureError::Mismatch)
        );
        c.allow_legacy_unseparated = true;
        assert_eq!(verify(Some(&h), b"b", NOW, &c), Ok(()));
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let c = cfg(&["s"]);
        let good = sign(&c.secrets, NOW, b"b");
        let sig = good.split_once(",v1=").unwrap().1.to_owned();
        for h in [
            String::new(),
            "garbage".into(),
            format!("v1={sig}"),
            format!("t={NOW}"),
            format!("t=abc,v1={sig}"),
            format!("t=-5,v1={sig}"),
            format!("t={NOW},t={NOW},v1={sig}"),
            format!("t={NOW},v1=zz"),
            format!("t={NOW},v1={}", &sig[..10]),
            format!("t={NOW},{}", vec![format!("v1={sig}"); 9].join(",")),
        ] {
            assert_eq!(
                verify(Some(&h), b"b", NOW, &c),
                Err(SignatureError::Malformed),
                "{h}"
            );
        }
        assert_eq!(verify(None, b"b", NOW, &c), Err(SignatureError::Missing));
        assert_eq!(
            verify(Some(&good), b"b", NOW, &cfg(&[])),
            Err(SignatureError::NoSecretConfigured)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_headers_never_panic(header in ".{0,300}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = verify(Some(&header), &body, NOW, &cfg(&["s"]));
        }

        #[test]
        fn sign_then_verify_round_trips(body in proptest::collection::vec(any::<u8>(), 0..512), skew in -60_000i64..300_000) {
            let c = cfg(&["k"]);
            let h = sign(&c.secrets, NOW - skew, &body);
            prop_assert_eq!(verify(Some(&h), &body, NOW, &c), Ok(()));
        }
    }
}
