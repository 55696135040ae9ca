//! The audit trails: every webhook attempt, whatever answered it, and every
//! admin action. An entry records that something happened, never the data.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::event::AgentEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Accepted,
    Duplicate,
    Rejected,
}

/// One webhook attempt, whatever became of it. Holds a hash of the body, not the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub received_at: OffsetDateTime,
    /// From the verified event; for a rejected body, whatever id it claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub outcome: AuditOutcome,
    /// A stable code: `accepted`, `duplicate`, `signature_mismatch`, `validation_failed`...
    pub reason: String,
    pub http_status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    pub body_sha256: String,
    pub body_bytes: u64,
}

/// One admin action: who did what to which target, when, and how it ended.
/// Records that something was done, never the data it touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AdminAuditEntry {
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub at: OffsetDateTime,
    /// The token subject.
    pub actor: String,
    /// A stable code: `workflow_erased`, `delivery_redriven`...
    pub action: String,
    pub target: String,
    /// `succeeded`, `not_found`, `failed`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

/// What the audit trail keeps of a request before anything is decided about
/// it: when it came, its correlation id, and the size and hash of its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub received_at: OffsetDateTime,
    pub correlation_id: Option<String>,
    pub body_sha256: String,
    pub body_bytes: u64,
}

impl Attempt {
    /// A request whose body was read.
    pub fn of_body(received_at: OffsetDateTime, correlation_id: Option<&str>, body: &[u8]) -> Self {
        Attempt {
            received_at,
            correlation_id: correlation_id.map(str::to_owned),
            body_sha256: hex::encode(Sha256::digest(body)),
            body_bytes: body.len() as u64,
        }
    }

    /// A request refused before its body was read: only its declared size is known.
    pub fn unread(
        received_at: OffsetDateTime,
        correlation_id: Option<&str>,
        declared_bytes: u64,
    ) -> Self {
        Attempt {
            received_at,
            correlation_id: correlation_id.map(str::to_owned),
            body_sha256: String::new(),
            body_bytes: declared_bytes,
        }
    }

    /// An event OSA records itself (a deadline that passed): no request at all.
    pub fn internal(received_at: OffsetDateTime, correlation_id: Option<&str>) -> Self {
        Self::unread(received_at, correlation_id, 0)
    }

    /// The entry for an attempt refused before it became an event: `workflow_id`
    /// is whatever the body claimed, if anything.
    pub fn rejected(
        &self,
        workflow_id: Option<String>,
        reason: &str,
        http_status: u16,
    ) -> AuditEntry {
        AuditEntry {
            received_at: self.received_at,
            workflow_id,
            agent_id: None,
            event_id: None,
            outcome: AuditOutcome::Rejected,
            reason: reason.to_owned(),
            http_status,
            correlation_id: self.correlation_id.clone(),
            body_sha256: self.body_sha256.clone(),
            body_bytes: self.body_bytes,
        }
    }

    /// The entry for a verified event, with what became of it.
    pub fn of_event(
        &self,
        event: &AgentEvent,
        outcome: AuditOutcome,
        reason: &str,
        http_status: u16,
    ) -> AuditEntry {
        AuditEntry {
            received_at: self.received_at,
            workflow_id: Some(event.workflow_id.clone()),
            agent_id: Some(event.agent.as_str().to_owned()),
            event_id: Some(event.event_id.clone()),
            outcome,
            reason: reason.to_owned(),
            http_status,
            correlation_id: self
                .correlation_id
                .clone()
                .or_else(|| event.correlation_id.clone()),
            body_sha256: self.body_sha256.clone(),
            body_bytes: self.body_bytes,
        }
    }
}

/// Where the next page of an audit listing starts: the position of the last
/// entry served, in the store's own order (a sequence number on SQLite, a sort
/// key on DynamoDB). Callers see it only as an opaque token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PagePosition(String);

/// The longest position a store writes (a 20-digit time, `#`, a 32-digit uuid).
const MAX_POSITION: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the page token is not one this service issued")]
pub struct BadPageToken;

impl PagePosition {
    /// A position as a store writes it: digits, optionally `#` and lowercase hex.
    pub fn new(position: impl Into<String>) -> Result<PagePosition, BadPageToken> {
        let position = position.into();
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let hex = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let well_formed = position.len() <= MAX_POSITION
            && match position.split_once('#') {
                None => digits(&position),
                Some((head, tail)) => digits(head) && hex(tail),
            };
        well_formed
            .then_some(PagePosition(position))
            .ok_or(BadPageToken)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The opaque token a listing answers as `next`.
    pub fn token(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }

    /// The position a `next` token stands for; anything else is refused.
    pub fn from_token(token: &str) -> Result<PagePosition, BadPageToken> {
        if token.len() > MAX_POSITION * 2 {
            return Err(BadPageToken);
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| BadPageToken)?;
        PagePosition::new(String::from_utf8(bytes).map_err(|_| BadPageToken)?)
    }
}

/// One page of a listing and where the next one starts (`None`: this was the last).
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PagePosition>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` items in listing order: the extra one only
    /// says that there is more.
    pub fn of(mut items: Vec<(PagePosition, T)>, limit: usize) -> Page<T> {
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more {
            items.last().map(|(p, _)| p.clone())
        } else {
            None
        };
        Page {
            items: items.into_iter().map(|(_, t)| t).collect(),
            next,
        }
    }
}

#[cfg(test)]
mod page_tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_nothing_else_is_taken() {
        for position in [
            "42",
            "00000001764064800000000000#0123456789abcdef0123456789abcdef",
        ] {
            let p = PagePosition::new(position).expect("valid");
            assert_eq!(PagePosition::from_token(&p.token()), Ok(p));
        }
        let injected = URL_SAFE_NO_PAD.encode("1 OR 1=1");
        for bad in ["", "%%%", "x", &injected, &"A".repeat(500)] {
            assert_eq!(PagePosition::from_token(bad), Err(BadPageToken), "{bad}");
        }
        for bad in ["", "12#", "#ab", "1x", "12#XYZ", "1 OR 1=1", "12#ab#cd"] {
            assert_eq!(PagePosition::new(bad), Err(BadPageToken), "{bad}");
        }
    }

    #[test]
    fn a_page_says_whether_there_is_more() {
        let items = |n: u32| -> Vec<(PagePosition, u32)> {
            (1..=n)
                .map(|i| (PagePosition::new(i.to_string()).expect("valid"), i))
                .collect()
        };
        let page = Page::of(items(3), 2);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next.as_ref().map(PagePosition::as_str), Some("2"));
        let last = Page::of(items(2), 2);
        assert_eq!((last.items.len(), last.next), (2, None));
    }
}
