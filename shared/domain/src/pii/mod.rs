//! PII detection and redaction for free text: e-mail addresses (internationalised
//! too), phone numbers (North American, international and national European
//! forms), payment card numbers (issuer prefix and Luhn), IBANs (mod-97),
//! IPv4/IPv6 addresses and US SSNs. One pass over the text finds them all.

mod checks;
mod scan;

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use super::secret::Secret;

pub use scan::Detection;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiType {
    Email,
    Phone,
    CreditCard,
    Ssn,
    Ipv4,
    Ipv6,
    Iban,
}

impl PiiType {
    pub const ALL: [PiiType; 7] = [
        PiiType::Email,
        PiiType::CreditCard,
        PiiType::Ssn,
        PiiType::Ipv4,
        PiiType::Ipv6,
        PiiType::Phone,
        PiiType::Iban,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            PiiType::Email => "email",
            PiiType::Phone => "phone",
            PiiType::CreditCard => "credit_card",
            PiiType::Ssn => "ssn",
            PiiType::Ipv4 => "ipv4",
            PiiType::Ipv6 => "ipv6",
            PiiType::Iban => "iban",
        }
    }

    /// How grave it is to keep this type unredacted, and the framework that
    /// says so: (severity, framework).
    pub const fn compliance(self) -> (&'static str, &'static str) {
        match self {
            PiiType::CreditCard => ("high", "pci_dss"),
            PiiType::Ssn | PiiType::Iban => ("high", "gdpr"),
            PiiType::Email | PiiType::Phone => ("medium", "gdpr"),
            PiiType::Ipv4 | PiiType::Ipv6 => ("low", "gdpr"),
        }
    }
}

/// How a finding is rewritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedactionMode {
    /// Keep a hint (the domain of an e-mail, the last four digits of a number).
    Partial,
    /// Replace with a type tag: `[REDACTED:EMAIL]`.
    Mask,
    /// Replace with a keyed hash, so equal values stay correlatable.
    Hash,
    /// Detect and count only.
    None,
}

impl RedactionMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            RedactionMode::Partial => "partial",
            RedactionMode::Mask => "mask",
            RedactionMode::Hash => "hash",
            RedactionMode::None => "none",
        }
    }
}

#[derive(Clone)]
pub struct PiiPolicy {
    pub mode: RedactionMode,
    /// Key for `Hash` mode.
    pub hash_key: Secret,
}

impl fmt::Debug for PiiPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PiiPolicy")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Default for PiiPolicy {
    fn default() -> Self {
        PiiPolicy {
            mode: RedactionMode::Partial,
            hash_key: Secret::new("osa-default-pii-key"),
        }
    }
}

/// What a redaction pass found, by type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings(Vec<(PiiType, u32)>);

impl Findings {
    fn add(&mut self, kind: PiiType) {
        match self.0.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.0.push((kind, 1)),
        }
    }

    pub fn merge(&mut self, other: Findings) {
        for (kind, n) in other.0 {
            for _ in 0..n {
                self.add(kind);
            }
        }
    }

    pub fn count(&self, kind: PiiType) -> u32 {
        self.0
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }

    pub fn total(&self) -> u32 {
        self.0.iter().map(|(_, n)| n).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = (PiiType, u32)> + '_ {
        self.0.iter().copied()
    }
}

/// Builds the detector now (a few milliseconds, once per process) rather than
/// in the first webhook that carries text: a process calls it while starting.
pub fn prepare() {
    scan::prepare();
}

/// Every PII value in `text`, left to right, without overlaps.
pub fn detect(text: &str) -> Vec<Detection> {
    let mut found = Vec::new();
    scan::scan(text, |d| {
        if !inside_tag(text, d.range.start) {
            found.push(d);
        }
    });
    found
}

/// Finds and rewrites PII in `text` according to `policy`.
pub fn redact_text(text: &str, policy: &PiiPolicy) -> (String, Findings) {
    redact(text, policy).unwrap_or_else(|| (text.to_owned(), Findings::default()))
}

/// The rewritten text and what was found, or `None` when nothing was.
fn redact(text: &str, policy: &PiiPolicy) -> Option<(String, Findings)> {
    let mut findings = Findings::default();
    let mut out = String::new();
    let mut last = 0;
    scan::scan(text, |d| {
        if inside_tag(text, d.range.start) {
            return;
        }
        findings.add(d.kind);
        if out.is_empty() {
            out.reserve(text.len() + 32);
        }
        out.push_str(&text[last..d.range.start]);
        out.push_str(&rewrite(d.kind, &text[d.range.clone()], policy));
        last = d.range.end;
    });
    if findings.total() == 0 {
        return None;
    }
    out.push_str(&text[last..]);
    Some((out, findings))
}

/// How every replacement starts.
const TAG_START: &[u8] = b"[REDACTED";
/// Replacement tags are shorter than this, so a look back stops here.
const TAG_MAX: usize = 64;

/// A match that starts inside an earlier replacement tag, or inside the
/// domain a partial e-mail redaction kept, is not new PII.
fn inside_tag(text: &str, at: usize) -> bool {
    let bytes = text.as_bytes();
    let window = &bytes[at.saturating_sub(TAG_MAX)..at];
    let in_tag = window
        .iter()
        .rposition(|&b| b == b'[' || b == b']')
        .is_some_and(|i| window[i..].starts_with(TAG_START));
    in_tag || in_kept_domain(bytes, at)
}

fn in_kept_domain(bytes: &[u8], at: usize) -> bool {
    // Domain names are at most 253 bytes long.
    let low = at.saturating_sub(256);
    let domain_start = bytes[low..at]
        .iter()
        .rposition(|&b| b.is_ascii() && !(b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
        .map_or(low, |i| low + i + 1);
    bytes[..domain_start].ends_with(b"[REDACTED:EMAIL]@")
}

/// True when the byte before `at` is the `]` closing a replacement tag.
fn tag_closes_at(text: &str, at: usize) -> bool {
    at > 0 && text.as_bytes()[at - 1] == b']' && inside_tag(text, at - 1)
}

fn rewrite(kind: PiiType, value: &str, policy: &PiiPolicy) -> String {
    let tag = kind.as_str().to_ascii_uppercase();
    match policy.mode {
        RedactionMode::None => value.to_owned(),
        RedactionMode::Mask => format!("[REDACTED:{tag}]"),
        RedactionMode::Hash => {
            let mut mac = Hmac::<Sha256>::new_from_slice(policy.hash_key.expose().as_bytes())
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            mac.update(value.as_bytes());
            let digest = hex::encode(mac.finalize().into_bytes());
            format!("[REDACTED:{tag}:{}]", &digest[..12])
        }
        RedactionMode::Partial => {
            let last4 = |keep: fn(&char) -> bool| -> String {
                let kept: Vec<char> = value.chars().filter(keep).collect();
                kept[kept.len().saturating_sub(4)..].iter().collect()
            };
            match kind {
                PiiType::Email => match value.split_once('@') {
                    Some((_, domain)) => format!("[REDACTED:EMAIL]@{domain}"),
                    None => "[REDACTED:EMAIL]".into(),
                },
                PiiType::Phone | PiiType::CreditCard | PiiType::Ssn => {
                    format!("[REDACTED:{tag}:…{}]", last4(char::is_ascii_digit))
                }
                PiiType::Iban => {
                    let country: String = value.chars().take(2).collect();
                    let country = country.to_ascii_uppercase();
                    format!(
                        "[REDACTED:IBAN:{country}…{}]",
                        last4(char::is_ascii_alphanumeric)
                    )
                }
                PiiType::Ipv4 => {
                    let prefix: Vec<&str> = value.split('.').take(2).collect();
                    format!("[REDACTED:IPV4:{}.x.x]", prefix.join("."))
                }
                PiiType::Ipv6 => "[REDACTED:IPV6]".into(),
            }
        }
    }
}

/// Redacts every string in a JSON document, in place.
pub fn redact_json(value: &mut Value, policy: &PiiPolicy) -> Findings {
    let mut findings = Findings::default();
    walk(value, policy, &mut findings);
    findings
}

fn walk(value: &mut Value, policy: &PiiPolicy, findings: &mut Findings) {
    match value {
        Value::String(s) => {
            if let Some((redacted, found)) = redact(s, policy) {
                *s = redacted;
                findings.merge(found);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| walk(v, policy, findings)),
        Value::Object(map) => map.values_mut().for_each(|v| walk(v, policy, findings)),
        _ => {}
    }
}

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod tests;
