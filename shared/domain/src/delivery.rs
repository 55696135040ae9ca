//! Outbound deliveries: the job the worker POSTs, its attempt history and the
//! retry policy.
//!
//! Pure: no I/O, no clock reads. The worker sends the request, then hands the
//! outcome to [`Delivery::record`], which answers whether the delivery is done,
//! when to try again, or that it goes to the dead-letter queue. Time and jitter
//! come in as arguments so tests are deterministic.
//!
//! Guarantee: **at least once**. A crash between the POST and the stored record
//! sends the same attempt again; receivers de-duplicate on `X-Webhook-ID`, which
//! is the same for every attempt and every redrive of one delivery.
//!
//! Credentials are never part of a delivery. A delivery that needs one names it
//! ([`DeliveryAuth`]); the worker looks the value up when it sends. So the store,
//! the queue and the dead-letter listing never hold a key, and a redrive after a
//! key rotation uses the new key.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::USER_AGENT;
use super::secret::Secret;

/// Attempts per run (the first send included) before a delivery is dead-lettered.
pub const MAX_ATTEMPTS: u32 = 5;
/// Delay after the first failed attempt; it doubles after each further one.
pub const BASE_DELAY: Duration = Duration::from_secs(1);
/// Upper bound of one delay, jitter and `Retry-After` included (5 minutes).
pub const MAX_DELAY: Duration = Duration::from_secs(300);
/// Random extra delay is drawn from `0..=MAX_JITTER`, so retries of many
/// deliveries that failed together do not all arrive together.
pub const MAX_JITTER: Duration = Duration::from_secs(1);
/// Per-request timeout unless the delivery says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The only statuses that count as delivered.
pub const SUCCESS_CODES: [u16; 3] = [200, 201, 202];
/// Name under which the worker finds the OPAL API key.
pub const OPAL_API_KEY: &str = "opal_api_key";

/// What a delivery is for; the worker and the dead-letter views group by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    /// The `strategy_workflow` trigger sent to OPAL for a new workflow.
    OpalTrigger,
    /// A notification sent by an alert rule.
    AlertNotification,
    /// A finished workflow's result-ready notification to its `notify_url`.
    ResultNotification,
    /// A timed-out agent's second chance: OPAL asked to run it once more, with
    /// a reduced scope (scenario A).
    OpalRetrigger,
    /// A Force Sync: OPAL asked to run the workflow again.
    OpalForceSync,
}

impl DeliveryKind {
    /// Sent to OPAL's trigger URL (the one configured when it is sent) with the
    /// OPAL key.
    pub const fn to_opal(self) -> bool {
        matches!(
            self,
            DeliveryKind::OpalTrigger | DeliveryKind::OpalRetrigger | DeliveryKind::OpalForceSync
        )
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryKind::OpalTrigger => "opal_trigger",
            DeliveryKind::AlertNotification => "alert_notification",
            DeliveryKind::ResultNotification => "result_notification",
            DeliveryKind::OpalRetrigger => "opal_retrigger",
            DeliveryKind::OpalForceSync => "opal_force_sync",
        }
    }
}

/// A credential a delivery needs, by name only; the value is looked up at send time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum DeliveryAuth {
    /// `Authorization: Bearer <value of the named secret>`.
    Bearer { secret: String },
    /// `X-OSA-Signature: t=<ms>,v1=<HMAC-SHA256 of "<t>.<body>">` with the named
    /// secret, computed when each attempt is sent.
    Signature { secret: String },
}

impl DeliveryAuth {
    pub fn secret_name(&self) -> &str {
        match self {
            DeliveryAuth::Bearer { secret } | DeliveryAuth::Signature { secret } => secret,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The receiver answered 200, 201 or 202.
    Delivered {
        #[serde(with = "time::serde::rfc3339")]
        #[schemars(with = "crate::schema::Timestamp")]
        at: OffsetDateTime,
    },
    /// Every attempt of the current run failed; waits for an operator's redrive.
    DeadLettered {
        reason: String,
        #[serde(with = "time::serde::rfc3339")]
        #[schemars(with = "crate::schema::Timestamp")]
        at: OffsetDateTime,
    },
}

/// A delivery id derived from what the delivery is for (`seed`), so that
/// creating it again, from a retried job or a second instance, finds the first.
pub fn derived_id(seed: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The delivery that re-triggers a timed-out agent (one per agent and workflow).
pub fn retrigger_id(workflow_id: &str, agent: &str) -> Uuid {
    derived_id(&format!("osa-retrigger:{workflow_id}:{agent}"))
}

/// The re-trigger that resumes a workflow paused mid-run (one per pause).
pub fn resume_id(workflow_id: &str, paused_at: OffsetDateTime) -> Uuid {
    derived_id(&format!(
        "osa-resume:{workflow_id}:{}",
        paused_at.unix_timestamp_nanos()
    ))
}

/// The delivery of a Force Sync's trigger (one per sync).
pub fn force_sync_id(sync_id: &str) -> Uuid {
    derived_id(&format!("osa-force-sync:{sync_id}"))
}

/// How long a pending delivery's next attempt may be overdue before its queued
/// message counts as lost (a crash between saving the delivery and queueing
/// the attempt): longer than any queue delay, visibility timeout or worker poll.
pub const STALL_GRACE: Duration = Duration::from_secs(15 * 60);

/// One POST, whatever became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1-based within its run; sent as `X-Delivery-Attempt`.
    pub number: u32,
    /// The run it belongs to: 0 for the first, n after the n-th redrive.
    pub run: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    pub response_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the next attempt is due; `None` when this one ended the run.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// How a dead letter's reason starts when its target was refused, not tried.
pub const TARGET_REFUSED: &str = "target_refused";

/// What one attempt came to, as the worker saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered. `retry_after` is its `Retry-After`, if any.
    Response {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No answer: timeout, refused connection, TLS failure, missing credential...
    Failed { error: String },
    /// Not sent: the target is one this deployment may not reach (it resolves
    /// to an internal address). Final: trying again would not change that.
    Refused { reason: String },
}

/// A `Retry-After` value: seconds, or an HTTP date (`Sun, 06 Nov 1994 08:49:37
/// GMT`) counted from `now`; a date already past means at once. `None` when
/// it is neither.
pub fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, format)
        .ok()?
        .assume_utc();
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

impl AttemptOutcome {
    pub fn is_success(&self) -> bool {
        matches!(self, AttemptOutcome::Response { status, .. } if SUCCESS_CODES.contains(status))
    }
}

/// One attempt to record: which one it was, when it started, how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    pub run: u32,
    pub number: u32,
    pub at: OffsetDateTime,
    pub response_ms: u64,
    pub outcome: AttemptOutcome,
}

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Done; ack the job.
    Delivered,
    /// Send attempt `attempt` (of run `run`) at `at`: enqueue it with that delay.
    Retry {
        run: u32,
        attempt: u32,
        at: OffsetDateTime,
    },
    /// Out of attempts: the delivery is now dead-lettered with this reason.
    DeadLetter { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("delivery URL must be http or https")]
    InvalidUrl,
    /// Credentials go in [`DeliveryAuth`], never in a stored header.
    #[error("header {0} may carry a credential; name the secret with DeliveryAuth instead")]
    SensitiveHeader(String),
    #[error("header {0} is set by the delivery itself")]
    ReservedHeader(String),
    #[error("header {0} is not a valid header name or value")]
    InvalidHeader(String),
    #[error("secret {0} is not configured")]
    MissingSecret(String),
    /// The report belongs to a run that a redrive has since replaced, or to a
    /// delivery that is already finished: a late or redelivered message. Ack it.
    #[error("attempt {number} of run {run} is stale")]
    Stale { run: u32, number: u32 },
    /// The report skips ahead of the attempts recorded so far.
    #[error("attempt {got} reported, attempt {expected} expected")]
    OutOfOrder { expected: u32, got: u32 },
    #[error("only a dead-lettered delivery can be redriven")]
    NotDeadLettered,
}

/// The prefix of a URL that names the secret holding it.
pub const SECRET_URL_PREFIX: &str = "secret:";

/// A body field filled with a named secret when a delivery is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodySecret {
    pub field: String,
    pub secret: String,
}

/// An outbound POST with its retry state. Serialisable, to be stored and queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Sent as `X-Webhook-ID`; the receiver's de-duplication key.
    pub id: Uuid,
    pub kind: DeliveryKind,
    /// The workflow it belongs to, if any (an OPAL trigger always has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    /// Where it goes: an `http(s)` URL, or `secret:<name>` for a URL that is
    /// itself a credential (a Slack webhook, say), looked up when it is sent.
    pub url: String,
    pub payload: serde_json::Value,
    /// Body fields filled with a named secret when sent, never stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_secrets: Vec<BodySecret>,
    /// Extra non-sensitive headers; validated by [`Delivery::with_header`].
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<DeliveryAuth>,
    #[serde(with = "duration_ms", rename = "timeout_ms")]
    pub timeout: Duration,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub status: DeliveryStatus,
    /// The current run's attempts, by number (1, 2, ...).
    pub attempts: Vec<Attempt>,
    /// Attempts of earlier runs, oldest first; a redrive moves them here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_attempts: Vec<Attempt>,
    /// How many times an operator redrove it; also the current run number.
    pub redrives: u32,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub last_redrive_at: Option<OffsetDateTime>,
    /// When the repair sweep last queued its overdue attempt again.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub last_repaired_at: Option<OffsetDateTime>,
}

impl Delivery {
    /// A new pending delivery with a fresh id and the default 30 s timeout.
    pub fn new(
        kind: DeliveryKind,
        url: impl Into<String>,
        payload: serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<Delivery, DeliveryError> {
        let url = url.into();
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(DeliveryError::InvalidUrl);
        }
        Ok(Self::to(kind, url, payload, now))
    }

    /// A new pending delivery to the URL the secret `name` holds, looked up when
    /// it is sent: the delivery, its history and every listing show only the name.
    pub fn to_secret_url(
        kind: DeliveryKind,
        name: &str,
        payload: serde_json::Value,
        now: OffsetDateTime,
    ) -> Delivery {
        Self::to(kind, format!("{SECRET_URL_PREFIX}{name}"), payload, now)
    }

    fn to(
        kind: DeliveryKind,
        url: String,
        payload: serde_json::Value,
        now: OffsetDateTime,
    ) -> Delivery {
        Delivery {
            id: Uuid::new_v4(),
            kind,
            workflow_id: None,
            url,
            payload,
            body_secrets: Vec::new(),
            headers: Vec::new(),
            auth: None,
            timeout: DEFAULT_TIMEOUT,
            created_at: now,
            status: DeliveryStatus::Pending,
            attempts: Vec::new(),
            previous_attempts: Vec::new(),
            redrives: 0,
            last_redrive_at: None,
            last_repaired_at: None,
        }
    }

    /// The OPAL `strategy_workflow` trigger: 45 s timeout (what OPAL's own client
    /// waited), bearer auth when a key is configured.
    pub fn opal_trigger(
        url: impl Into<String>,
        workflow_id: impl Into<String>,
        payload: serde_json::Value,
        auth: Option<DeliveryAuth>,
        now: OffsetDateTime,
    ) -> Result<Delivery, DeliveryError> {
        let mut d = Delivery::new(DeliveryKind::OpalTrigger, url, payload, now)?
            .with_timeout(Duration::from_secs(45));
        d.workflow_id = Some(workflow_id.into());
        d.auth = auth;
        Ok(d)
    }

    pub fn with_id(mut self, id: Uuid) -> Self {
        self.id = id;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_auth(mut self, auth: DeliveryAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Fills the body's top-level `field` with the secret `secret` when sent
    /// (a PagerDuty routing key, say); the stored payload never holds it.
    pub fn with_body_secret(mut self, field: &str, secret: &str) -> Self {
        if let Some(map) = self.payload.as_object_mut() {
            map.remove(field);
        }
        self.body_secrets.push(BodySecret {
            field: field.to_owned(),
            secret: secret.to_owned(),
        });
        self
    }

    /// The secret naming this delivery's URL, when its URL is one.
    pub fn secret_url(&self) -> Option<&str> {
        self.url.strip_prefix(SECRET_URL_PREFIX)
    }

    /// Where an attempt goes: the delivery's URL, or the one its secret holds.
    pub fn outbound_url(
        &self,
        lookup: impl Fn(&str) -> Option<Secret>,
    ) -> Result<String, DeliveryError> {
        match self.secret_url() {
            None => Ok(self.url.clone()),
            Some(name) => lookup(name)
                .filter(|s| !s.is_empty())
                .map(|s| s.expose().to_owned())
                .ok_or_else(|| DeliveryError::MissingSecret(name.to_owned())),
        }
    }

    /// The JSON body as sent: the payload with its body secrets filled in. Holds
    /// credentials in clear: hand it to the HTTP client and nothing else.
    pub fn outbound_body(
        &self,
        lookup: impl Fn(&str) -> Option<Secret>,
    ) -> Result<Vec<u8>, DeliveryError> {
        if self.body_secrets.is_empty() {
            return Ok(self.body());
        }
        let mut payload = self.payload.clone();
        for filled in &self.body_secrets {
            let secret = lookup(&filled.secret)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| DeliveryError::MissingSecret(filled.secret.clone()))?;
            if let Some(map) = payload.as_object_mut() {
                map.insert(filled.field.clone(), secret.expose().into());
            }
        }
        Ok(serde_json::to_vec(&payload).unwrap_or_default())
    }

    /// Adds a header of the delivery's own (`X-Correlation-ID`, say). Refuses
    /// names that usually carry credentials, because this list is stored and shown.
    pub fn with_header(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, DeliveryError> {
        let name = name.into();
        let value = value.into();
        check_header(&name, &value)?;
        self.headers.push((name, value));
        Ok(self)
    }

    /// The delivery's own headers (never a credential).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Every attempt ever made, earlier runs first.
    pub fn history(&self) -> impl Iterator<Item = &Attempt> {
        self.previous_attempts.iter().chain(self.attempts.iter())
    }

    /// The attempt to send next, as `(run, number)`, while the delivery is pending.
    pub fn next_attempt(&self) -> Option<(u32, u32)> {
        match self.status {
            DeliveryStatus::Pending => {
                let number = self.attempts.len() as u32 + 1;
                (number <= MAX_ATTEMPTS).then_some((self.redrives, number))
            }
            _ => None,
        }
    }

    /// When its next attempt is due, while it is pending: the last attempt's
    /// schedule, or the creation (or latest redrive) before any attempt.
    pub fn next_attempt_due_at(&self) -> Option<OffsetDateTime> {
        self.next_attempt()?;
        Some(match self.attempts.last() {
            Some(last) => last.next_attempt_at.unwrap_or(last.at),
            None => self.last_redrive_at.unwrap_or(self.created_at),
        })
    }

    /// Claims the repair of a stalled attempt at `now`: false when the sweep
    /// already queued it again within `grace` (its message may just be slow).
    pub fn claim_repair(&mut self, now: OffsetDateTime, grace: Duration) -> bool {
        let grace = time::Duration::try_from(grace).unwrap_or(time::Duration::MINUTE);
        if self.next_attempt().is_none() || self.last_repaired_at.is_some_and(|at| now - at < grace)
        {
            return false;
        }
        self.last_repaired_at = Some(now);
        true
    }

    /// Whether a queued message for `(run, number)` should be sent now. False for
    /// a redelivered message whose attempt is already recorded, for a run a
    /// redrive replaced, and for a finished delivery.
    pub fn is_due(&self, run: u32, number: u32) -> bool {
        self.next_attempt() == Some((run, number))
    }

    /// The JSON body.
    pub fn body(&self) -> Vec<u8> {
        // Serialising a `Value` cannot fail: its map keys are strings.
        serde_json::to_vec(&self.payload).unwrap_or_default()
    }

    /// Every header of attempt `number`: `X-Webhook-ID`, `X-Delivery-Attempt`,
    /// `User-Agent`, `Content-Type`, the delivery's own, then `Authorization`
    /// with the secret `lookup` returns for [`DeliveryAuth`]'s name. The result
    /// holds the credential in clear: hand it to the HTTP client and nothing else.
    pub fn outbound_headers(
        &self,
        number: u32,
        sent_at_ms: i64,
        body: &[u8],
        lookup: impl FnOnce(&str) -> Option<Secret>,
    ) -> Result<Vec<(String, String)>, DeliveryError> {
        let mut headers = vec![
            ("X-Webhook-ID".to_owned(), self.id.to_string()),
            ("X-Delivery-Attempt".to_owned(), number.to_string()),
            ("User-Agent".to_owned(), USER_AGENT.to_owned()),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ];
        headers.extend(self.headers.iter().cloned());
        if let Some(auth) = &self.auth {
            let name = auth.secret_name();
            let secret = lookup(name)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| DeliveryError::MissingSecret(name.to_owned()))?;
            match auth {
                DeliveryAuth::Bearer { .. } => headers.push((
                    "Authorization".to_owned(),
                    format!("Bearer {}", secret.expose()),
                )),
                DeliveryAuth::Signature { .. } => {
                    // Both schemes over the same secret: Standard Webhooks, and
                    // `X-OSA-Signature` for receivers not yet migrated.
                    let id = self.id.to_string();
                    let timestamp = sent_at_ms.div_euclid(1000);
                    let standard = super::standard_webhooks::sign(
                        std::slice::from_ref(&secret),
                        &id,
                        timestamp,
                        body,
                    );
                    headers.extend([
                        (
                            "X-OSA-Signature".to_owned(),
                            super::signature::sign(&[secret], sent_at_ms, body),
                        ),
                        ("webhook-id".to_owned(), id),
                        ("webhook-timestamp".to_owned(), timestamp.to_string()),
                        ("webhook-signature".to_owned(), standard),
                    ]);
                }
            }
        }
        Ok(headers)
    }

    /// Records an attempt and decides what follows. Idempotent: reporting an
    /// attempt that is already recorded changes nothing and returns the decision
    /// made the first time, so a redelivered queue message is harmless. (Check
    /// [`Delivery::is_due`] before sending, so such a message is not sent again.)
    pub fn record(
        &mut self,
        report: AttemptReport,
        jitter: Duration,
    ) -> Result<Decision, DeliveryError> {
        let stale = DeliveryError::Stale {
            run: report.run,
            number: report.number,
        };
        if report.run != self.redrives {
            return Err(stale);
        }
        if let Some(existing) = self.attempts.iter().find(|a| a.number == report.number) {
            return Ok(self.decision_for(existing));
        }
        if self.status != DeliveryStatus::Pending {
            return Err(stale);
        }
        let expected = self.attempts.len() as u32 + 1;
        if report.number != expected {
            return Err(DeliveryError::OutOfOrder {
                expected,
                got: report.number,
            });
        }

        let (status_code, error) = match &report.outcome {
            AttemptOutcome::Response { status, .. } => (Some(*status), None),
            AttemptOutcome::Failed { error } => (None, Some(error.clone())),
            AttemptOutcome::Refused { reason } => (None, Some(format!("refused: {reason}"))),
        };
        let mut attempt = Attempt {
            number: report.number,
            run: report.run,
            at: report.at,
            status_code,
            response_ms: report.response_ms,
            error,
            next_attempt_at: None,
        };
        let finished_at = report.at + Duration::from_millis(report.response_ms);
        if report.outcome.is_success() {
            self.status = DeliveryStatus::Delivered { at: finished_at };
        } else if let AttemptOutcome::Refused { reason } = &report.outcome {
            self.status = DeliveryStatus::DeadLettered {
                reason: format!("{TARGET_REFUSED}: {reason}"),
                at: finished_at,
            };
        } else if report.number >= MAX_ATTEMPTS {
            self.status = DeliveryStatus::DeadLettered {
                reason: dead_letter_reason(report.number, &report.outcome),
                at: finished_at,
            };
        } else {
            let delay = retry_delay(report.number, jitter, &report.outcome);
            attempt.next_attempt_at = Some(finished_at + delay);
        }
        self.attempts.push(attempt);
        let recorded = &self.attempts[self.attempts.len() - 1];
        Ok(self.decision_for(recorded))
    }

    /// Starts a fresh run of attempts for a dead-lettered delivery, keeping the
    /// old ones in `previous_attempts`. Returns the `(run, number)` to send now.
    pub fn redrive(&mut self, now: OffsetDateTime) -> Result<(u32, u32), DeliveryError> {
        if !matches!(self.status, DeliveryStatus::DeadLettered { .. }) {
            return Err(DeliveryError::NotDeadLettered);
        }
        self.previous_attempts.append(&mut self.attempts);
        self.redrives = self.redrives.saturating_add(1);
        self.last_redrive_at = Some(now);
        self.status = DeliveryStatus::Pending;
        Ok((self.redrives, 1))
    }

    /// The decision an already recorded attempt led to.
    fn decision_for(&self, attempt: &Attempt) -> Decision {
        if let Some(at) = attempt.next_attempt_at {
            return Decision::Retry {
                run: attempt.run,
                attempt: attempt.number + 1,
                at,
            };
        }
        match &self.status {
            DeliveryStatus::DeadLettered { reason, .. } => Decision::DeadLetter {
                reason: reason.clone(),
            },
            // An attempt without a next one that did not dead-letter delivered it.
            DeliveryStatus::Delivered { .. } | DeliveryStatus::Pending => Decision::Delivered,
        }
    }
}

/// `min(1 s · 2^(n−1) + jitter, 300 s)`: the delay after failed attempt `n`
/// (1-based). Jitter is clamped to `0..=1 s`. 1, 2, 4, 8 s (+ jitter) in practice:
/// the fifth failure dead-letters instead of waiting 16 s.
pub fn backoff_delay(n: u32, jitter: Duration) -> Duration {
    let base = 2u32
        .checked_pow(n.saturating_sub(1))
        .and_then(|factor| BASE_DELAY.checked_mul(factor))
        .unwrap_or(MAX_DELAY);
    base.saturating_add(jitter.min(MAX_JITTER)).min(MAX_DELAY)
}

/// The delay after failed attempt `n`: the backoff, or a longer `Retry-After` from
/// a 429 or 503, never more than 5 minutes. The receiver asked us to wait at least
/// that long; waiting less than our own backoff would hammer it.
pub fn retry_delay(n: u32, jitter: Duration, outcome: &AttemptOutcome) -> Duration {
    let backoff = backoff_delay(n, jitter);
    match outcome {
        AttemptOutcome::Response {
            status: 429 | 503,
            retry_after: Some(asked),
        } => backoff.max(*asked).min(MAX_DELAY),
        _ => backoff,
    }
}

/// The jitter in `0..=1 s`, whole milliseconds, for a random `sample` the caller
/// draws (any `u64`), so the domain itself stays deterministic.
pub fn jitter(sample: u64) -> Duration {
    Duration::from_millis(sample % (MAX_JITTER.as_millis() as u64 + 1))
}

fn dead_letter_reason(attempts: u32, last: &AttemptOutcome) -> String {
    let last = match last {
        AttemptOutcome::Response { status, .. } => format!("HTTP {status}"),
        AttemptOutcome::Failed { error } => error.clone(),
        AttemptOutcome::Refused { reason } => format!("refused: {reason}"),
    };
    format!("{attempts} attempts failed; last: {last}")
}

/// Names whose values are usually credentials; such values belong in a secret.
fn is_sensitive(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || ["token", "secret", "key", "password", "signature", "auth"]
        .iter()
        .any(|s| n.contains(s))
}

fn check_header(name: &str, value: &str) -> Result<(), DeliveryError> {
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    let valid_value = value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
    if !valid_name || !valid_value {
        return Err(DeliveryError::InvalidHeader(name.to_owned()));
    }
    let lower = name.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "x-webhook-id"
            | "x-delivery-attempt"
            | "user-agent"
            | "content-type"
            | "content-length"
            | "host"
    ) {
        return Err(DeliveryError::ReservedHeader(name.to_owned()));
    }
    if is_sensitive(name) {
        return Err(DeliveryError::SensitiveHeader(name.to_owned()));
    }
    Ok(())
}

/// `Duration` as whole milliseconds, so stored deliveries stay readable.
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = time::macros::datetime!(2026-11-30 10:00:00 UTC);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Mon, 30 Nov 2026 10:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Sun, 29 Nov 2026 10:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date gone by: at once"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const T0: i64 = 1_764_064_800;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(T0).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    fn delivery() -> Delivery {
        Delivery::new(
            DeliveryKind::AlertNotification,
            "https://hooks.example/alert",
            json!({"rule": "x"}),
            t0(),
        )
        .expect("valid delivery")
    }

    fn status(code: u16) -> AttemptOutcome {
        AttemptOutcome::Response {
            status: code,
            retry_after: None,
        }
    }

    fn failed(msg: &str) -> AttemptOutcome {
        AttemptOutcome::Failed {
            error: msg.to_owned(),
        }
    }

    fn report(
        d: &Delivery,
        number: u32,
        at: OffsetDateTime,
        outcome: AttemptOutcome,
    ) -> AttemptReport {
        AttemptReport {
            run: d.redrives,
            number,
            at,
            response_ms: 0,
            outcome,
        }
    }

    /// Sends every attempt at the time the previous one scheduled, failing with `outcome`.
    fn fail_until_done(d: &mut Delivery, outcome: &AttemptOutcome) -> Vec<Decision> {
        let mut decisions = Vec::new();
        let mut at = t0();
        while let Some((_, n)) = d.next_attempt() {
            let decision = d
                .record(report(d, n, at, outcome.clone()), Duration::ZERO)
                .expect("recorded");
            if let Decision::Retry { at: next, .. } = decision {
                at = next;
            }
            decisions.push(decision);
        }
        decisions
    }

    #[test]
    fn success_codes_deliver_on_first_attempt() {
        for code in SUCCESS_CODES {
            let mut d = delivery();
            let decision = d.record(report(&d, 1, t0(), status(code)), Duration::ZERO);
            assert_eq!(decision, Ok(Decision::Delivered), "HTTP {code}");
            assert!(matches!(d.status, DeliveryStatus::Delivered { .. }));
            assert_eq!(d.attempts.len(), 1);
            assert_eq!(d.attempts[0].status_code, Some(code));
            assert_eq!(d.attempts[0].next_attempt_at, None);
        }
    }

    #[test]
    fn a_refused_target_is_dead_lettered_at_once_and_stays_so() {
        let mut d = delivery();
        let refused = AttemptOutcome::Refused {
            reason: "evil.example resolves to an internal address".into(),
        };
        let decisions = fail_until_done(&mut d, &refused);
        assert_eq!(decisions.len(), 1, "never tried again: {decisions:?}");
        let Decision::DeadLetter { reason } = &decisions[0] else {
            panic!("dead-lettered, not {decisions:?}");
        };
        assert!(reason.starts_with(TARGET_REFUSED), "{reason}");
        assert_eq!(
            d.attempts[0].error.as_deref(),
            Some("refused: evil.example resolves to an internal address")
        );
        // A repeat of the same report changes nothing.
        let again = d.record(report(&d, 1, t0(), refused), Duration::ZERO);
        assert_eq!(again, Ok(decisions[0].clone()));
    }

    #[test]
    fn everything_else_is_retried() {
        let outcomes = [
            status(204),
            status(301),
            status(400),
            status(404),
            status(429),
            status(500),
            status(503),
            failed("request timed out"),
            failed("could not connect: refused"),
        ];
        for outcome in outcomes {
            let mut d = delivery();
            let decision = d.record(report(&d, 1, t0(), outcome.clone()), Duration::ZERO);
            assert_eq!(
                decision,
                Ok(Decision::Retry {
                    run: 0,
                    attempt: 2,
                    at: t0() + Duration::from_secs(1)
                }),
                "{outcome:?}"
            );
        }
    }

    #[test]
    fn fails_twice_then_delivers_on_the_third_attempt_with_scheduled_delays() {
        let mut d = delivery();
        let jitter = Duration::from_millis(250);
        let first = d.record(report(&d, 1, t0(), status(500)), jitter);
        let second_at = t0() + Duration::from_millis(1_250);
        assert_eq!(
            first,
            Ok(Decision::Retry {
                run: 0,
                attempt: 2,
                at: second_at
            })
        );
        assert!(d.is_due(0, 2));
        let second = d.record(
            report(&d, 2, second_at, failed("request timed out")),
            jitter,
        );
        let third_at = second_at + Duration::from_millis(2_250);
        assert_eq!(
            second,
            Ok(Decision::Retry {
                run: 0,
                attempt: 3,
                at: third_at
            })
        );
        assert_eq!(
            d.record(report(&d, 3, third_at, status(202)), jitter),
            Ok(Decision::Delivered)
        );
        assert_eq!(d.next_attempt(), None);
        let numbers: Vec<u32> = d.attempts.iter().map(|a| a.number).collect();
        assert_eq!(numbers, [1, 2, 3]);
        assert_eq!(d.attempts[1].error.as_deref(), Some("request timed out"));
    }

    #[test]
    fn always_failing_is_dead_lettered_after_exactly_five_attempts() {
        let mut d = delivery();
        let decisions = fail_until_done(&mut d, &status(503));
        assert_eq!(decisions.len(), 5);
        let delays: Vec<u64> = d
            .attempts
            .iter()
            .filter_map(|a| a.next_attempt_at.map(|n| (n - a.at).whole_seconds() as u64))
            .collect();
        assert_eq!(delays, [1, 2, 4, 8]);
        assert_eq!(
            decisions.last(),
            Some(&Decision::DeadLetter {
                reason: "5 attempts failed; last: HTTP 503".into()
            })
        );
        match &d.status {
            DeliveryStatus::DeadLettered { reason, .. } => {
                assert_eq!(reason, "5 attempts failed; last: HTTP 503")
            }
            other => panic!("expected dead-lettered, got {other:?}"),
        }
        assert_eq!(d.next_attempt(), None);
    }

    #[test]
    fn recording_the_same_attempt_twice_adds_nothing() {
        let mut d = delivery();
        let first = d.record(report(&d, 1, t0(), status(500)), Duration::ZERO);
        // The redelivered message: a later time and another jitter change nothing.
        let again = d.record(
            report(&d, 1, t0() + Duration::from_secs(9), status(500)),
            Duration::from_millis(900),
        );
        assert_eq!(first, again);
        assert_eq!(d.attempts.len(), 1);
        assert!(!d.is_due(0, 1));
        assert!(d.is_due(0, 2));

        let mut done = delivery();
        let _ = fail_until_done(&mut done, &failed("refused"));
        let before = done.clone();
        let repeat = done.record(report(&done, 5, t0(), status(200)), Duration::ZERO);
        assert!(matches!(repeat, Ok(Decision::DeadLetter { .. })));
        assert_eq!(done, before);
    }

    #[test]
    fn out_of_order_and_stale_reports_are_refused() {
        let mut d = delivery();
        assert_eq!(
            d.record(report(&d, 3, t0(), status(500)), Duration::ZERO),
            Err(DeliveryError::OutOfOrder {
                expected: 1,
                got: 3
            })
        );
        let wrong_run = AttemptReport {
            run: 1,
            ..report(&d, 1, t0(), status(500))
        };
        assert_eq!(
            d.record(wrong_run, Duration::ZERO),
            Err(DeliveryError::Stale { run: 1, number: 1 })
        );
        let _ = d.record(report(&d, 1, t0(), status(200)), Duration::ZERO);
        assert_eq!(
            d.record(report(&d, 2, t0(), status(200)), Duration::ZERO),
            Err(DeliveryError::Stale { run: 0, number: 2 })
        );
        assert!(d.attempts.len() == 1);
    }

    #[test]
    fn retry_after_on_429_and_503_is_honoured_within_the_cap() {
        let asked = |status, secs| AttemptOutcome::Response {
            status,
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            retry_delay(1, Duration::ZERO, &asked(429, 30)),
            Duration::from_secs(30)
        );
        assert_eq!(
            retry_delay(2, Duration::ZERO, &asked(503, 90)),
            Duration::from_secs(90)
        );
        assert_eq!(
            retry_delay(1, Duration::ZERO, &asked(503, 3_600)),
            MAX_DELAY
        );
        // A shorter Retry-After does not undercut the backoff.
        assert_eq!(
            retry_delay(4, Duration::ZERO, &asked(429, 1)),
            Duration::from_secs(8)
        );
        // Only 429 and 503 are honoured.
        assert_eq!(
            retry_delay(1, Duration::ZERO, &asked(500, 60)),
            Duration::from_secs(1)
        );

        let mut d = delivery();
        let decision = d.record(report(&d, 1, t0(), asked(429, 42)), Duration::ZERO);
        assert_eq!(
            decision,
            Ok(Decision::Retry {
                run: 0,
                attempt: 2,
                at: t0() + Duration::from_secs(42)
            })
        );
    }

    #[test]
    fn backoff_follows_the_formula_and_the_cap() {
        let secs = |n| backoff_delay(n, Duration::ZERO).as_secs();
        assert_eq!(
            [secs(1), secs(2), secs(3), secs(4), secs(5)],
            [1, 2, 4, 8, 16]
        );
        assert_eq!(secs(9), 256);
        assert_eq!(secs(10), 300);
        assert_eq!(secs(u32::MAX), 300);
        assert_eq!(
            backoff_delay(1, Duration::from_millis(400)),
            Duration::from_millis(1_400)
        );
        // Jitter beyond a second is clamped.
        assert_eq!(
            backoff_delay(1, Duration::from_secs(10)),
            Duration::from_secs(2)
        );
        for sample in [0, 1, 999, 1_000, 1_001, u64::MAX / 2, u64::MAX] {
            assert!(jitter(sample) <= MAX_JITTER);
        }
        // The whole range is reachable.
        assert_eq!(jitter(0), Duration::ZERO);
        assert_eq!(jitter(1_000), MAX_JITTER);
    }

    #[test]
    fn the_next_attempt_is_scheduled_from_when_the_attempt_ended() {
        let mut d = delivery();
        let r = AttemptReport {
            response_ms: 30_000,
            ..report(&d, 1, t0(), failed("request timed out"))
        };
        let decision = d.record(r, Duration::ZERO);
        assert_eq!(
            decision,
            Ok(Decision::Retry {
                run: 0,
                attempt: 2,
                at: t0() + Duration::from_secs(31)
            })
        );
    }

    #[test]
    fn redrive_starts_a_fresh_count_and_keeps_the_history() {
        let mut d = delivery();
        assert_eq!(d.redrive(t0()), Err(DeliveryError::NotDeadLettered));
        let _ = fail_until_done(&mut d, &failed("could not connect: refused"));
        let operator_at = t0() + Duration::from_secs(3_600);
        assert_eq!(d.redrive(operator_at), Ok((1, 1)));
        assert_eq!(d.last_redrive_at, Some(operator_at));
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert!(d.attempts.is_empty());
        assert_eq!(d.previous_attempts.len(), 5);
        assert!(d.is_due(1, 1));
        // A late message from the old run is stale, not a new attempt.
        assert_eq!(
            d.record(
                AttemptReport {
                    run: 0,
                    ..report(&d, 5, t0(), status(200))
                },
                Duration::ZERO
            ),
            Err(DeliveryError::Stale { run: 0, number: 5 })
        );
        assert_eq!(
            d.record(report(&d, 1, t0(), status(201)), Duration::ZERO),
            Ok(Decision::Delivered)
        );
        assert_eq!(d.history().count(), 6);
        assert!(d.history().take(5).all(|a| a.run == 0));
        assert_eq!(d.attempts[0].run, 1);
        assert_eq!(d.redrive(t0()), Err(DeliveryError::NotDeadLettered));
    }

    #[test]
    fn redrive_again_after_a_second_dead_letter() {
        let mut d = delivery();
        let _ = fail_until_done(&mut d, &status(500));
        let _ = d.redrive(t0());
        let decisions = fail_until_done(&mut d, &status(500));
        assert_eq!(decisions.len(), 5);
        assert_eq!(d.redrive(t0()), Ok((2, 1)));
        assert_eq!(d.previous_attempts.len(), 10);
    }

    #[test]
    fn outbound_headers_carry_ids_attempt_agent_type_own_and_auth() {
        let d = delivery()
            .with_header("X-Correlation-ID", "corr-1")
            .expect("allowed header")
            .with_auth(DeliveryAuth::Bearer {
                secret: OPAL_API_KEY.into(),
            });
        let headers = d
            .outbound_headers(3, 0, b"{}", |name| {
                (name == OPAL_API_KEY).then(|| Secret::new("sk_opal_123"))
            })
            .expect("headers");
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        let id = d.id.to_string();
        assert_eq!(get("X-Webhook-ID"), Some(id.as_str()));
        assert_eq!(get("X-Delivery-Attempt"), Some("3"));
        assert_eq!(get("User-Agent"), Some(USER_AGENT));
        assert!(USER_AGENT.starts_with("osa/"));
        assert_eq!(get("Content-Type"), Some("application/json"));
        assert_eq!(get("X-Correlation-ID"), Some("corr-1"));
        assert_eq!(get("Authorization"), Some("Bearer sk_opal_123"));

        assert_eq!(
            d.outbound_headers(1, 0, b"{}", |_| None),
            Err(DeliveryError::MissingSecret(OPAL_API_KEY.into()))
        );
        assert_eq!(
            d.outbound_headers(1, 0, b"{}", |_| Some(Secret::new(""))),
            Err(DeliveryError::MissingSecret(OPAL_API_KEY.into()))
        );
        assert_eq!(d.body(), br#"{"rule":"x"}"#);
    }

    #[test]
    fn credentials_never_reach_stored_or_logged_forms() {
        for name in [
            "Authorization",
            "x-api-key",
            "X-Auth-Token",
            "Cookie",
            "X-OSA-Signature",
        ] {
            assert_eq!(
                delivery().with_header(name, "sk_live"),
                Err(DeliveryError::SensitiveHeader(name.to_owned())),
                "{name}"
            );
        }
        for name in ["X-Webhook-ID", "user-agent", "Content-Type", "Host"] {
            assert_eq!(
                delivery().with_header(name, "v"),
                Err(DeliveryError::ReservedHeader(name.to_owned()))
            );
        }
        assert!(matches!(
            delivery().with_header("X-Bad", "line\r\nInjected: 1"),
            Err(DeliveryError::InvalidHeader(_))
        ));
        assert!(matches!(
            delivery().with_header("Bad Name", "v"),
            Err(DeliveryError::InvalidHeader(_))
        ));

        let d = Delivery::opal_trigger(
            "http://opal.test/trigger",
            "wf-1",
            json!({"workflow_name": "strategy_workflow"}),
            Some(DeliveryAuth::Bearer {
                secret: OPAL_API_KEY.into(),
            }),
            t0(),
        )
        .expect("trigger");
        let _ = d
            .outbound_headers(1, 0, b"{}", |_| Some(Secret::new("sk_opal_123")))
            .expect("headers");
        let stored = serde_json::to_string(&d).expect("serialises");
        assert!(!stored.contains("sk_opal"));
        assert!(!format!("{d:?}").contains("sk_opal"));
        assert!(stored.contains(OPAL_API_KEY));
    }

    #[test]
    fn opal_trigger_defaults_and_url_check() {
        let d = Delivery::opal_trigger("https://opal.test/t", "wf-9", json!({}), None, t0())
            .expect("trigger");
        assert_eq!(d.kind, DeliveryKind::OpalTrigger);
        assert_eq!(d.workflow_id.as_deref(), Some("wf-9"));
        assert_eq!(d.timeout, Duration::from_secs(45));
        assert_eq!(delivery().timeout, DEFAULT_TIMEOUT);
        assert_eq!(
            Delivery::new(
                DeliveryKind::OpalTrigger,
                "file:///etc/passwd",
                json!({}),
                t0()
            ),
            Err(DeliveryError::InvalidUrl)
        );
        assert_eq!(DeliveryKind::OpalTrigger.as_str(), "opal_trigger");
    }

    #[test]
    fn serde_round_trip_keeps_everything() {
        let mut d = delivery()
            .with_header("X-Correlation-ID", "c")
            .expect("header")
            .with_auth(DeliveryAuth::Bearer {
                secret: "alerts_token".into(),
            });
        let _ = fail_until_done(&mut d, &status(500));
        let _ = d.redrive(t0());
        let _ = d.record(
            report(&d, 1, t0(), failed("refused")),
            Duration::from_millis(5),
        );
        let text = serde_json::to_string(&d).expect("serialises");
        let back: Delivery = serde_json::from_str(&text).expect("deserialises");
        assert_eq!(back, d);
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["timeout_ms"], 30_000);
        assert_eq!(v["status"]["state"], "pending");
        assert_eq!(v["kind"], "alert_notification");
        assert_eq!(v["auth"]["scheme"], "bearer");
    }

    fn outcome_strategy() -> impl Strategy<Value = AttemptOutcome> {
        prop_oneof![
            (100u16..600)
                .prop_filter("not a success", |s| !SUCCESS_CODES.contains(s))
                .prop_flat_map(|s| (Just(s), proptest::option::of(0u64..10_000)))
                .prop_map(|(status, ra)| AttemptOutcome::Response {
                    status,
                    retry_after: ra.map(Duration::from_secs),
                }),
            "[a-z ]{0,20}".prop_map(|error| AttemptOutcome::Failed { error }),
        ]
    }

    proptest! {
        #[test]
        fn delays_never_exceed_the_cap(
            n in 0u32..=u32::MAX,
            jitter_ms in 0u64..100_000,
            outcome in outcome_strategy(),
        ) {
            let jitter = Duration::from_millis(jitter_ms);
            prop_assert!(backoff_delay(n, jitter) <= MAX_DELAY);
            prop_assert!(retry_delay(n, jitter, &outcome) <= MAX_DELAY);
            prop_assert!(retry_delay(n, jitter, &outcome) >= backoff_delay(n, jitter));
        }

        #[test]
        fn delays_do_not_decrease_with_n(n in 1u32..200, jitter_ms in 0u64..=1_000) {
            let jitter = Duration::from_millis(jitter_ms);
            prop_assert!(backoff_delay(n, jitter) <= backoff_delay(n + 1, jitter));
            if n <= 8 {
                // Before the cap the delay doubles (plus the same jitter).
                let base = BASE_DELAY * (1 << (n - 1));
                prop_assert_eq!(backoff_delay(n, jitter), base + jitter);
            }
        }

        #[test]
        fn exactly_five_failures_before_the_dead_letter(
            outcomes in proptest::collection::vec(outcome_strategy(), 5),
            jitter_ms in 0u64..=1_000,
            duplicate in proptest::collection::vec(any::<bool>(), 5),
        ) {
            let mut d = delivery();
            let mut at = t0();
            for (i, outcome) in outcomes.iter().enumerate() {
                let n = i as u32 + 1;
                prop_assert!(d.is_due(0, n));
                let r = report(&d, n, at, outcome.clone());
                let decision = d.record(r.clone(), Duration::from_millis(jitter_ms));
                if duplicate[i] {
                    prop_assert_eq!(d.record(r, Duration::ZERO), decision.clone());
                }
                prop_assert_eq!(d.attempts.len(), n as usize);
                match decision {
                    Ok(Decision::Retry { attempt, at: next, .. }) => {
                        prop_assert!(n < MAX_ATTEMPTS);
                        prop_assert_eq!(attempt, n + 1);
                        prop_assert!(next > at && next <= at + MAX_DELAY);
                        at = next;
                    }
                    Ok(Decision::DeadLetter { .. }) => prop_assert_eq!(n, MAX_ATTEMPTS),
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
            prop_assert!(
                matches!(d.status, DeliveryStatus::DeadLettered { .. }),
                "expected dead-lettered"
            );
            prop_assert_eq!(d.next_attempt(), None);
        }
    }
}
