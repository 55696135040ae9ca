//! The webhook ingest path on a realistic ~15 KB body: signature verification,
//! then parsing, normalising and schema-validating the event, then PII
//! redaction of the agent output, and redaction on text dense with
//! look-alikes (its worst case).
//!
//! Run with `cargo bench -p osa-domain --bench webhook_ingest` (add `-- pii_`
//! for redaction only).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use osa_domain::Secret;
use osa_domain::event::parse_agent_event;
use osa_domain::pii::{PiiPolicy, redact_json, redact_text};
use osa_domain::signature::{SignatureConfig, sign, verify};
use serde_json::{Value, json};
use std::hint::black_box;

/// A schema-valid completed-agent event padded with insights to about 15 KB.
fn body() -> Vec<u8> {
    let mut insights = Vec::new();
    let mut agent_data = json!({});
    for i in 0.. {
        insights.push(json!({
            "title": format!("Insight {i}: returning visitors convert better on guided pages"),
            "description": "Sessions that reach a buying guide before a product page convert at a markedly higher rate, \
                            and the effect holds across device types and traffic sources in the sampled period.",
            "bullets": ["Guided pages lift add-to-cart", "Effect strongest on mobile", "Seasonal pattern in Q4"]
        }));
        agent_data = json!({
            "hero": {"title": "Content performance", "promise": "Fix the pages that lose the most visitors",
                     "metrics": [{"label": "Pages", "value": "412"}, {"label": "Thin", "value": "37"}, {"label": "Score", "value": "71"}],
                     "confidence": 82},
            "overview": {"summary": "Traffic concentrates on a few landing pages.", "keyPoints": ["Concentrated traffic", "Thin content"]},
            "insights": insights,
            "opportunities": [{"label": "Rewrite top landing pages", "impactLevel": "High", "effortLevel": "Low", "confidence": 80}],
            "nextSteps": [{"label": "Audit"}, {"label": "Rewrite"}],
            "meta": {"tier": "insights", "agents": ["content_review"], "maturity": "walk", "lastUpdated": "2026-11-25T10:00:00Z"}
        });
        if agent_data.to_string().len() >= 15_000 {
            break;
        }
    }
    let event: Value = json!({
        "workflow_id": "2f1d8f5e-1c2b-4c3d-9e8f-0a1b2c3d4e5f",
        "execution_id": "6a0e1c7e-0b8f-4a57-9d59-4f7f3a1e9b21",
        "execution_status": "completed",
        "agent_id": "content_review",
        "agent_data": agent_data,
        "metadata": {"timestamp": "2026-11-25T10:00:00Z", "execution_duration_ms": 4200, "confidence_score": 0.87, "data_sources": ["cms"]},
        "correlation_id": "corr-bench"
    });
    serde_json::to_vec(&event).expect("serialisable")
}

fn ingest(c: &mut Criterion) {
    let body = body();
    let config = SignatureConfig::new(vec![Secret::new("bench-secret")]);
    let now = 1_764_000_000_000;
    let header = sign(&config.secrets, now, &body);
    assert!(verify(Some(&header), &body, now, &config).is_ok());
    assert!(parse_agent_event(&body).is_ok());

    let mut group = c.benchmark_group("webhook_ingest");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function(format!("verify_{}b", body.len()), |b| {
        b.iter(|| verify(Some(black_box(&header)), black_box(&body), now, &config))
    });
    group.bench_function(format!("parse_validate_{}b", body.len()), |b| {
        b.iter(|| parse_agent_event(black_box(&body)))
    });
    group.bench_function(format!("verify_parse_validate_{}b", body.len()), |b| {
        b.iter(|| {
            verify(Some(black_box(&header)), black_box(&body), now, &config).ok();
            parse_agent_event(black_box(&body))
        })
    });
    group.finish();
}

/// The body with personal data in some insights, as an agent might quote it.
fn body_with_pii(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body).into_owned();
    let quotes = [
        "Ask jane.doe@example.com",
        "call +44 20 7946 0958",
        "IBAN DE89 3704 0044 0532 0130 00",
        "card 4111 1111 1111 1111",
        "from 203.0.113.45",
        "or 0151 23456789",
    ];
    let mut out = String::with_capacity(text.len() + 512);
    for (i, part) in text.split("Guided pages lift add-to-cart").enumerate() {
        if i > 0 {
            out.push_str("Guided pages lift add-to-cart; ");
            out.push_str(quotes[i % quotes.len()]);
        }
        out.push_str(part);
    }
    out
}

/// The body in German and Chinese: non-ASCII text throughout.
fn body_non_ascii(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .replace(
            "returning visitors convert better on guided pages",
            "wiederkehrende Besucher konvertieren auf geführten Seiten besser, 回访用户在引导页面上转化更好",
        )
        .replace(
            "Sessions that reach a buying guide",
            "Sitzungen, die einen Kaufratgeber erreichen (会话到达购买指南)",
        )
}

fn redaction(c: &mut Criterion) {
    let body = body();
    let event: Value = serde_json::from_slice(&body).expect("a JSON body");
    let agent_data = event["agent_data"].clone();
    let text = String::from_utf8_lossy(&body).into_owned();
    let with_pii = body_with_pii(&body);
    let non_ascii = body_non_ascii(&body);
    let policy = PiiPolicy::default();
    assert_eq!(redact_json(&mut agent_data.clone(), &policy).total(), 0);
    assert!(redact_text(&with_pii, &policy).1.total() >= 6);

    let mut group = c.benchmark_group("pii_redaction");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function(format!("redact_json_agent_data_{}b", body.len()), |b| {
        b.iter_batched_ref(
            || agent_data.clone(),
            |data| redact_json(data, &policy),
            BatchSize::SmallInput,
        )
    });
    group.bench_function(format!("redact_text_body_{}b", text.len()), |b| {
        b.iter(|| redact_text(black_box(&text), &policy))
    });
    group.throughput(Throughput::Bytes(non_ascii.len() as u64));
    group.bench_function(
        format!("redact_text_body_non_ascii_{}b", non_ascii.len()),
        |b| b.iter(|| redact_text(black_box(&non_ascii), &policy)),
    );
    group.throughput(Throughput::Bytes(with_pii.len() as u64));
    group.bench_function(
        format!("redact_text_body_with_pii_{}b", with_pii.len()),
        |b| b.iter(|| redact_text(black_box(&with_pii), &policy)),
    );
    group.finish();
}

/// 64 KB of one short unit repeated: text dense with candidates that all
/// fail their checks, the worst case for finding PII.
fn redaction_worst_case(c: &mut Criterion) {
    let policy = PiiPolicy::default();
    let mut group = c.benchmark_group("pii_worst_case");
    for (name, unit) in [
        ("digits", "1 "),
        ("zeros", "0 "),
        ("at", "a@"),
        ("colon", "1:"),
        ("plus", "+1 "),
        ("iban", "DE89 "),
        ("visa", "4 "),
        ("groups", "4111 "),
        ("hyphens", "4-"),
        ("dots", "0."),
        ("parens", "(0) "),
        ("hex", "a:"),
        ("words", "abc "),
    ] {
        let text = unit.repeat(65_536 / unit.len());
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| b.iter(|| redact_text(black_box(&text), &policy)));
    }
    group.finish();
}

criterion_group!(benches, ingest, redaction, redaction_worst_case);
criterion_main!(benches);
