//! The result-ready notification (the spec's step 5, "User Notification"): an
//! intake may name a `notify_url`; when its workflow finishes, OSA POSTs a short
//! summary there, signed like the webhooks OSA receives (`X-OSA-Signature:
//! t=<ms>,v1=<hex HMAC-SHA256 of "<t>.<body>">`) with a secret of its own, as a
//! delivery (retries, backoff, dead letter, redrive).

use std::net::IpAddr;

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::delivery::{Delivery, DeliveryAuth, DeliveryError, DeliveryKind, derived_id};
use super::rfc3339;

/// The name of the secret notifications are signed with.
pub const NOTIFY_SIGNING_SECRET: &str = "notify_signing_secret";

/// The longest `notify_url` taken.
pub const MAX_URL_LEN: usize = 2048;

/// Which targets a deployment may notify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetPolicy {
    /// `https` to a named host or a public address: never this machine, a
    /// private network or the cloud's metadata endpoint.
    Public,
    /// Also `http`, and loopback or private addresses (a local run).
    Local,
}

/// Why a `notify_url` is refused under `policy`, or `Ok`.
pub fn check_url(url: &str, policy: TargetPolicy) -> Result<(), &'static str> {
    if url.len() > MAX_URL_LEN {
        return Err("must be at most 2048 characters");
    }
    if url.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err("must not contain spaces or control characters");
    }
    let lower = url.to_ascii_lowercase();
    let (https, rest) = if let Some(rest) = lower.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = lower.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err("must be an absolute http(s) URL");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("must not carry credentials");
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return Err("must name a host");
    }
    if policy == TargetPolicy::Local {
        return Ok(());
    }
    if !https {
        return Err("must use https");
    }
    let internal = match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
        }
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_unique_local()
                || ip.is_unicast_link_local()
        }
        Err(_) => host == "localhost" || host.ends_with(".localhost"),
    };
    if internal {
        return Err("must not point at this machine or a private network");
    }
    Ok(())
}

/// The notification's delivery id, derived from the outbox item of the
/// finish it tells of (`events::OutboxItem`): one per finish, so a finish
/// relayed twice is still notified once.
pub fn delivery_id(outbox_id: &str) -> Uuid {
    derived_id(&format!("osa-notification:{outbox_id}"))
}

/// A finished workflow, as its notification tells it.
#[derive(Clone, Copy, Debug)]
pub struct Finished<'a> {
    pub workflow_id: &'a str,
    pub status: &'a str,
    pub progress_percent: u8,
    pub created_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    /// Where its status is read (its report is under it).
    pub status_url: &'a str,
}

/// What the receiver gets: the outcome and where to read the rest.
pub fn payload(finished: &Finished<'_>) -> Value {
    json!({
        "event": "workflow.finished",
        "workflow_id": finished.workflow_id,
        "status": finished.status,
        "progress_percent": finished.progress_percent,
        "created_at": rfc3339(finished.created_at),
        "finished_at": finished.finished_at.map(rfc3339),
        "status_url": finished.status_url,
        "report_url": format!("{}/report", finished.status_url),
    })
}

/// The signed delivery that notifies a finished workflow's `notify_url`.
pub fn delivery(
    finished: &Finished<'_>,
    outbox_id: &str,
    notify_url: &str,
    now: OffsetDateTime,
) -> Result<Delivery, DeliveryError> {
    let mut delivery = Delivery::new(
        DeliveryKind::ResultNotification,
        notify_url,
        payload(finished),
        now,
    )?
    .with_id(delivery_id(outbox_id))
    .with_auth(DeliveryAuth::Signature {
        secret: NOTIFY_SIGNING_SECRET.into(),
    });
    delivery.workflow_id = Some(finished.workflow_id.to_owned());
    Ok(delivery)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_targets_are_https_to_the_outside_world() {
        for ok in [
            "https://hooks.example.com/osa",
            "https://hooks.example.com:8443/osa?team=growth",
            "https://203.0.113.7/osa",
            "https://[2001:db8::1]/osa",
        ] {
            assert_eq!(check_url(ok, TargetPolicy::Public), Ok(()), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/osa",
            "ftp://hooks.example.com/osa",
            "hooks.example.com/osa",
            "https://",
            "https://user:pw@hooks.example.com/",
            "https://localhost/osa",
            "https://127.0.0.1:9001/2018-06-01/runtime/init/error",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.8/osa",
            "https://192.168.1.2/osa",
            "https://[::1]/osa",
            "https://[fd00::1]/osa",
            "https://0.0.0.0/",
            "https://hooks.example.com/a b",
            "https://hooks.example.com/\n",
        ] {
            assert!(check_url(bad, TargetPolicy::Public).is_err(), "{bad}");
        }
        let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(check_url(&long, TargetPolicy::Public).is_err());
    }

    #[test]
    fn a_local_run_may_notify_itself() {
        assert_eq!(
            check_url("http://127.0.0.1:4000/done", TargetPolicy::Local),
            Ok(())
        );
        assert!(check_url("ftp://127.0.0.1/", TargetPolicy::Local).is_err());
    }

    #[test]
    fn one_workflow_one_notification_id() {
        assert_eq!(delivery_id("wf-1"), delivery_id("wf-1"));
        assert_ne!(delivery_id("wf-1"), delivery_id("wf-2"));
    }
}
