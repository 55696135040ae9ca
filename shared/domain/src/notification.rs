//! The result-ready notification (the spec's step 5, "User Notification"): an
//! intake may name a `notify_url`; when its workflow finishes, OSA POSTs a short
//! summary there, signed like the webhooks OSA receives (`X-OSA-Signature:
//! t=<ms>,v1=<hex HMAC-SHA256 of "<t>.<body>">`) with a secret of its own, as a
//! delivery (retries, backoff, dead letter, redrive).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
///
/// The URL is read the way the HTTP client reads it (the WHATWG URL standard,
/// the `url` crate), so `https://2130706433/`, `https://0x7f000001/` and
/// `https://127.1/` are 127.0.0.1 here too. A host *name* is not resolved: the
/// client's resolver checks the addresses it connects to (see
/// [`is_internal`]), which also closes the gap between this check and the
/// connection.
pub fn check_url(url: &str, policy: TargetPolicy) -> Result<(), &'static str> {
    if url.len() > MAX_URL_LEN {
        return Err("must be at most 2048 characters");
    }
    if url.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err("must not contain spaces or control characters");
    }
    let lower = url.to_ascii_lowercase();
    let https = if lower.starts_with("https://") {
        true
    } else if lower.starts_with("http://") {
        false
    } else {
        return Err("must be an absolute http(s) URL");
    };
    let parsed = url::Url::parse(url).map_err(|_| "must be a valid URL")?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials");
    }
    let internal = match parsed.host() {
        None => return Err("must name a host"),
        Some(url::Host::Domain("")) => return Err("must name a host"),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            name == "localhost" || name.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => is_internal(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_internal(IpAddr::V6(ip)),
    };
    if policy == TargetPolicy::Local {
        return Ok(());
    }
    if !https {
        return Err("must use https");
    }
    if internal {
        return Err("must not point at this machine or a private network");
    }
    Ok(())
}

/// Whether `ip` is no place for a caller-chosen target: this machine, a
/// private or shared network, link-local (the cloud's metadata endpoint),
/// unspecified, multicast, broadcast, documentation, benchmarking or reserved,
/// and any IPv6 form that carries such an IPv4 address (mapped, compatible,
/// NAT64, 6to4).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    match segments {
        // IPv4-compatible (deprecated), ::/96 (includes :: and ::1).
        [0, 0, 0, 0, 0, 0, hi, lo] => {
            return (hi == 0 && lo <= 1) || is_internal_v4(embedded_v4(hi, lo));
        }
        // NAT64, well-known prefix: the IPv4 address it translates to.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return is_internal_v4(embedded_v4(hi, lo)),
        // 6to4: the IPv4 address in bits 16..48.
        [0x2002, hi, lo, ..] => return is_internal_v4(embedded_v4(hi, lo)),
        _ => {}
    }
    let first = segments[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first == 0x2001 && segments[1] == 0xdb8) // documentation
        || (first == 0x2001 && segments[1] == 0) // Teredo
        || (first == 0x64 && segments[1] == 0xff9b && segments[2] == 1) // local-use NAT64
        || (first == 0x100 && segments[1..4] == [0, 0, 0]) // discard-only
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
            "https://8.8.8.8/osa",
            "https://[2606:4700:4700::1111]/osa",
            "https://hooks.example.com./osa",
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
            // 127.0.0.1 to a WHATWG parser (the HTTP client's):
            "https://2130706433/",
            "https://0x7f000001/",
            "https://0177.0.0.1/",
            "https://127.1/",
            "https://LOCALHOST./",
            // IPv4 in IPv6 clothing:
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:a9fe:a9fe]/", // 169.254.169.254, the metadata endpoint
            "https://[::127.0.0.1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[2002:7f00:1::]/",
            "https://100.64.0.1/", // shared address space
            "https://198.18.0.1/",
            "https://224.0.0.1/",
            "https://240.0.0.1/",
            "https://203.0.113.7/",
            "https://[2001:db8::1]/",
            "https://[ff02::1]/",
            "https://[fe80::1]/",
            "https://hooks.example.com/\n",
        ] {
            assert!(check_url(bad, TargetPolicy::Public).is_err(), "{bad}");
        }
        let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(check_url(&long, TargetPolicy::Public).is_err());
    }

    #[test]
    fn internal_means_every_form_of_a_non_public_address() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.0.8",
            "198.19.1.1",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::127.0.0.1",
            "2002:a9fe:a9fe::1",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "fec0::1",
            "ff05::2",
            "2001::1",
            "100::1",
        ] {
            let ip: IpAddr = internal.parse().expect(internal);
            assert!(is_internal(ip), "{internal}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "100.63.255.255",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            let ip: IpAddr = public.parse().expect(public);
            assert!(!is_internal(ip), "{public}");
        }
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
