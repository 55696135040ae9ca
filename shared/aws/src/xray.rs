//! X-Ray: the functions run with active tracing (template.yaml), so Lambda records
//! a segment for every sampled invocation and the SDK passes the trace header on
//! to the AWS services it calls. This module adds what Lambda cannot know: the
//! request's correlation id (and the workflow id, where there is one) as
//! searchable annotations, on a subsegment per `request` span (`http::layers`)
//! or `job` span (the worker), sent to the X-Ray daemon Lambda runs beside the
//! function (UDP, `AWS_XRAY_DAEMON_ADDRESS`). In X-Ray, the filter
//! `annotation.correlation_id = "..."` then finds the traces of one request in
//! intake, opal-webhook and status-api, and `annotation.workflow_id = "..."` the
//! worker's jobs for it.
//!
//! There is no X-Ray SDK for Rust; the segment document is small and stable
//! (<https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html>).
//! Nothing is sent without a sampled trace header, nor outside Lambda.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{SystemTime, UNIX_EPOCH};

use osa_app::config;
use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Subscriber, subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

/// The span fields that become annotations.
pub const ANNOTATED: [&str; 2] = ["correlation_id", "workflow_id"];

/// Sends one subsegment per closed span that carries an [`ANNOTATED`] field.
pub struct XrayLayer {
    socket: UdpSocket,
    daemon: SocketAddr,
    /// The current invocation's trace header (`_X_AMZN_TRACE_ID`, which the Lambda
    /// runtime sets for each invocation).
    trace_header: fn() -> Option<String>,
}

fn lambda_trace_header() -> Option<String> {
    config::var("_X_AMZN_TRACE_ID")
}

impl XrayLayer {
    /// The layer for this Lambda instance: `None` outside Lambda (no daemon).
    pub fn from_env() -> Option<XrayLayer> {
        let address = config::var("AWS_XRAY_DAEMON_ADDRESS")?;
        XrayLayer::new(&address, lambda_trace_header)
    }

    /// To the daemon at `address` (`host:port`, or the SDKs' `udp:host:port
    /// tcp:host:port`), reading the trace header with `trace_header`.
    pub fn new(address: &str, trace_header: fn() -> Option<String>) -> Option<XrayLayer> {
        let udp = address
            .split_whitespace()
            .find(|a| !a.starts_with("tcp:"))?
            .trim_start_matches("udp:");
        let daemon = udp.to_socket_addrs().ok()?.next()?;
        let local: SocketAddr = if daemon.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(local).ok()?;
        socket.set_nonblocking(true).ok()?;
        Some(XrayLayer {
            socket,
            daemon,
            trace_header,
        })
    }
}

/// `Root`, `Parent` and whether it is sampled, from `Root=1-...;Parent=...;Sampled=1`.
fn parse_header(header: &str) -> Option<(String, String)> {
    let (mut root, mut parent, mut sampled) = (None, None, false);
    for part in header.split(';') {
        match part.trim().split_once('=') {
            Some(("Root", v)) => root = Some(v.to_owned()),
            Some(("Parent", v)) => parent = Some(v.to_owned()),
            Some(("Sampled", v)) => sampled = v == "1",
            _ => {}
        }
    }
    if sampled {
        Some((root?, parent?))
    } else {
        None
    }
}

/// What an open span keeps for its subsegment.
struct Open {
    name: &'static str,
    start: f64,
    annotations: Map<String, Value>,
}

#[derive(Default)]
struct Annotations(Map<String, Value>);

impl Visit for Annotations {
    fn record_str(&mut self, field: &Field, value: &str) {
        if ANNOTATED.contains(&field.name()) {
            self.0.insert(field.name().to_owned(), value.into());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `%id` fields arrive here, formatted by Display.
        if ANNOTATED.contains(&field.name()) {
            self.0
                .insert(field.name().to_owned(), format!("{value:?}").into());
        }
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// The subsegment document (one UDP datagram with the daemon's header line).
fn document(open: &Open, root: &str, parent: &str, end: f64) -> String {
    let id = format!("{:016x}", rand::random::<u64>());
    let segment = json!({
        "name": open.name,
        "id": id,
        "trace_id": root,
        "parent_id": parent,
        "type": "subsegment",
        "start_time": open.start,
        "end_time": end,
        "annotations": open.annotations,
    });
    format!("{{\"format\": \"json\", \"version\": 1}}\n{segment}")
}

impl<S> Layer<S> for XrayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut annotations = Annotations::default();
        attrs.record(&mut annotations);
        if annotations.0.is_empty() {
            return;
        }
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Open {
                name: attrs.metadata().name(),
                start: now(),
                annotations: annotations.0,
            });
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(open) = ctx
            .span(&id)
            .and_then(|s| s.extensions_mut().remove::<Open>())
        else {
            return;
        };
        let Some((root, parent)) = (self.trace_header)().as_deref().and_then(parse_header) else {
            return;
        };
        let datagram = document(&open, &root, &parent, now());
        // Best effort, never blocking: a trace is not worth a request.
        let _ = self.socket.send_to(datagram.as_bytes(), self.daemon);
    }
}

/// The functions' subscriber: the Lambda runtime's default (JSON lines when
/// `AWS_LAMBDA_LOG_FORMAT=JSON`, the level from `AWS_LAMBDA_LOG_LEVEL` or
/// `RUST_LOG`, info by default) plus the X-Ray layer in Lambda.
pub fn init_subscriber() {
    let level = config::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| config::var("RUST_LOG"))
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = || {
        EnvFilter::builder()
            .with_default_directive(level.into())
            .from_env_lossy()
    };
    let json = config::var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let logs = if json {
        fmt.json().with_filter(filter()).boxed()
    } else {
        fmt.with_filter(filter()).boxed()
    };
    let registry = Registry::default().with(logs).with(XrayLayer::from_env());
    // A second initialisation (tests) keeps the first subscriber.
    let _ = subscriber::set_global_default(registry);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    fn sampled() -> Option<String> {
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into())
    }

    fn not_sampled() -> Option<String> {
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0".into())
    }

    fn daemon() -> (UdpSocket, String) {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("a loopback port");
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("a read timeout");
        let address = socket.local_addr().expect("its address").to_string();
        (socket, address)
    }

    fn run_request(layer: XrayLayer) {
        let subscriber = Registry::default().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", correlation_id = %"corr-42", method = "GET");
            span.in_scope(|| tracing::info!("inside"));
            let quiet = tracing::info_span!("other", method = "GET");
            drop(quiet);
        });
    }

    #[test]
    fn a_sampled_request_sends_one_subsegment_annotated_with_its_correlation_id() {
        let (socket, address) = daemon();
        run_request(
            XrayLayer::new(&format!("udp:{address} tcp:{address}"), sampled).expect("layer"),
        );
        let mut buffer = [0u8; 4096];
        let n = socket.recv(&mut buffer).expect("a datagram within 5 s");
        let text = std::str::from_utf8(&buffer[..n]).expect("UTF-8");
        let (header, body) = text.split_once('\n').expect("header line");
        assert_eq!(header, r#"{"format": "json", "version": 1}"#);
        let doc: Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["name"], "request");
        assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(doc["annotations"], json!({ "correlation_id": "corr-42" }));
        assert_eq!(doc["id"].as_str().map(str::len), Some(16));
        assert!(doc["end_time"].as_f64() >= doc["start_time"].as_f64());
        // The span without an annotated field sent nothing.
        socket.set_nonblocking(true).expect("non-blocking");
        assert!(socket.recv(&mut buffer).is_err(), "one datagram only");
    }

    #[test]
    fn nothing_is_sent_for_an_unsampled_trace_or_without_a_header() {
        for header in [not_sampled as fn() -> Option<String>, || None] {
            let (socket, address) = daemon();
            run_request(XrayLayer::new(&address, header).expect("layer"));
            socket.set_nonblocking(true).expect("non-blocking");
            let mut buffer = [0u8; 64];
            assert!(socket.recv(&mut buffer).is_err());
        }
    }

    #[test]
    fn trace_headers_parse() {
        assert_eq!(
            parse_header("Root=1-a-b;Parent=c;Sampled=1;Lineage=x"),
            Some(("1-a-b".into(), "c".into()))
        );
        assert_eq!(parse_header("Root=1-a-b;Parent=c;Sampled=0"), None);
        assert_eq!(parse_header("Root=1-a-b;Sampled=1"), None);
        assert!(XrayLayer::new("tcp:127.0.0.1:2000", sampled).is_none());
    }
}
