use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use osa_domain::agent_output::validate_agent_output;
use osa_domain::event::{AgentEvent, EventKind, parse_agent_event};
use osa_domain::signature::{SIGNATURE_HEADER, SignatureConfig, verify};
use osa_domain::{AgentId, Secret};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::*;

const SECRET: &str = "test-webhook-secret";
const API_KEY: &str = "test-opal-key";
const WEBHOOK_PATH: &str = "/api/webhooks/opal-workflow";

// ---- agent_data ------------------------------------------------------------------

#[test]
fn agent_data_is_valid_sized_and_deterministic() {
    let mut bad_sizes = Vec::new();
    let long_company =
        "Northwind Outdoor and Mountain Equipment Cooperative of the Greater Alpine Region Ltd";
    for agent in AgentId::ALL {
        for (company, seed) in [
            ("Acme Outdoor", 7u64),
            ("Acme Outdoor", 8),
            (long_company, 42),
            ("", 0),
        ] {
            let data = agent_data(agent, company, seed);
            if let Err(errors) = validate_agent_output(&data) {
                panic!("{agent} seed {seed}: {errors:?}");
            }
            let text = data.to_string();
            let size = text.len();
            eprintln!("{agent:<32} seed {seed:>2}: {size} bytes");
            if !(13_000..=17_000).contains(&size) {
                bad_sizes.push(format!("{agent} seed {seed}: {size} bytes"));
            }
            assert!(
                !text.contains('@'),
                "{agent}: nothing that looks like an e-mail address"
            );
            assert!(
                !text.contains("{c}")
                    && !text.contains("{e}")
                    && !text.contains("{p:")
                    && !text.contains("{x:")
            );
            assert_eq!(data["meta"]["agents"], json!([agent.as_str()]));
        }
        assert_eq!(
            agent_data(agent, "Acme", 3),
            agent_data(agent, "Acme", 3),
            "{agent}"
        );
        assert_ne!(
            agent_data(agent, "Acme", 3),
            agent_data(agent, "Acme", 4),
            "{agent}"
        );
    }
    assert!(bad_sizes.is_empty(), "outside 13..17 KB: {bad_sizes:#?}");
}

#[test]
fn agent_data_sizes_hold_across_many_seeds() {
    for agent in AgentId::ALL {
        let sizes: Vec<usize> = (0..100u64)
            .map(|seed| agent_data(agent, "Acme Outdoor", seed).to_string().len())
            .collect();
        let (min, max) = (sizes.iter().min().copied(), sizes.iter().max().copied());
        eprintln!("{agent:<32} min {min:?} max {max:?}");
        assert!(
            sizes.iter().all(|s| (13_000..=17_000).contains(s)),
            "{agent}"
        );
    }
}

#[test]
fn agents_differ_and_share_some_opportunities_under_other_labels() {
    let outputs: Vec<Value> = AgentId::ALL
        .iter()
        .map(|a| agent_data(*a, "Acme Outdoor", 1))
        .collect();
    let titles: HashSet<String> = outputs
        .iter()
        .map(|o| o["hero"]["title"].to_string())
        .collect();
    assert_eq!(titles.len(), 9);
    let first_insights: HashSet<String> = outputs
        .iter()
        .map(|o| o["insights"][0]["title"].to_string())
        .collect();
    assert_eq!(first_insights.len(), 9);

    let labels = |agent: AgentId| -> HashSet<String> {
        agent_data(agent, "Acme Outdoor", 1)["opportunities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["label"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(labels(AgentId::ExperimentBlueprinter).contains("Personalize homepage hero"));
    assert!(labels(AgentId::AudienceSuggester).contains("Homepage hero personalization"));
    assert!(
        labels(AgentId::ContentReview)
            .contains("Personalize the homepage hero by audience segment")
    );

    // Agent-specific vocabulary.
    let text = |agent: AgentId| agent_data(agent, "Acme Outdoor", 1).to_string();
    assert!(text(AgentId::ContentReview).contains("Page review"));
    assert!(text(AgentId::AudienceSuggester).contains("Segment profile"));
    assert!(text(AgentId::ExperimentBlueprinter).contains("A/B"));
    assert!(text(AgentId::CmpOrganizer).contains("taxonomy"));
}

// ---- agent lists -----------------------------------------------------------------

#[test]
fn agent_lists_parse_canonical_ids_and_reject_unknown_ones() {
    assert_eq!(
        parse_agent_list("geo_audit, cmp_organizer,geo_audit"),
        Ok(vec![AgentId::GeoAudit, AgentId::CmpOrganizer])
    );
    assert_eq!(parse_agent_list(""), Ok(vec![]));
    assert_eq!(
        parse_agent_list("personalization_generator"),
        Ok(vec![AgentId::PersonalizationIdeaGenerator])
    );
    let all = AgentId::ALL.map(AgentId::as_str).join(",");
    assert_eq!(parse_agent_list(&all), Ok(AgentId::ALL.to_vec()));

    let err = parse_agent_list("geo_audit,seo_audit").unwrap_err();
    assert!(err.contains("'seo_audit'"), "{err}");
    assert!(
        err.contains("integration_health") && err.contains("roadmap_generator"),
        "{err}"
    );
    assert!(parse_agent_list("Geo_Audit").is_err());
}

/// How the CLI can use `parse_agent_list`: clap treats a bare `Vec<T>` as "many
/// values of T", so a whole-list parser needs the fully qualified type.
#[test]
fn parse_agent_list_works_as_a_clap_value_parser() {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[arg(long, value_parser = parse_agent_list, default_value = "")]
        fail: ::std::vec::Vec<AgentId>,
        #[arg(long, value_parser = parse_agent_id, value_delimiter = ',')]
        silent: Vec<AgentId>,
    }

    let cli = Cli::try_parse_from([
        "osa",
        "--fail",
        "geo_audit,cmp_organizer",
        "--silent",
        "content_review,geo_audit",
    ])
    .expect("valid lists");
    assert_eq!(cli.fail, vec![AgentId::GeoAudit, AgentId::CmpOrganizer]);
    assert_eq!(cli.silent, vec![AgentId::ContentReview, AgentId::GeoAudit]);
    let cli = Cli::try_parse_from(["osa"]).expect("defaults");
    assert!(cli.fail.is_empty() && cli.silent.is_empty());
    let err = Cli::try_parse_from(["osa", "--fail", "nobody"])
        .err()
        .expect("rejected");
    assert!(err.to_string().contains("unknown agent 'nobody'"), "{err}");
}

// ---- the trigger route -----------------------------------------------------------

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

fn trigger_body(workflow_id: &str) -> Value {
    json!({
        "workflow_name": "strategy_workflow",
        "input_data": {
            "workflow_id": workflow_id,
            "business_context": {"company_name": "Acme Outdoor", "industry": "retail"},
        },
        "metadata": {"correlation_id": "corr-test", "span_id": "span-1"},
    })
}

async fn post_trigger(
    addr: SocketAddr,
    bearer: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}{TRIGGER_PATH}"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let resp = req.send().await.expect("trigger request");
    let status = StatusCode::from_u16(resp.status().as_u16()).expect("status");
    let json = resp.json::<Value>().await.expect("JSON reply");
    (status, json)
}

#[tokio::test]
async fn the_trigger_route_checks_the_key_and_the_body() {
    let settings = SimulatorSettings {
        spread: Duration::from_secs(60),
        ..SimulatorSettings::default()
    };
    // Nothing listens on the discard port; the spread keeps the run from sending anyway.
    let sim = Arc::new(Simulator::new(
        format!("http://127.0.0.1:9{WEBHOOK_PATH}"),
        vec![Secret::new(SECRET)],
        Some(Secret::new(API_KEY)),
        settings,
    ));
    let addr = serve(sim.router()).await;
    let good = serde_json::to_vec(&trigger_body("wf-route")).expect("body");

    for bearer in [None, Some("wrong-key"), Some("")] {
        let (status, body) = post_trigger(addr, bearer, good.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bearer:?}");
        assert_eq!(body["success"], json!(false));
        assert_eq!(body["error"]["code"], json!("unauthorized"));
        assert!(!body.to_string().contains(API_KEY));
    }

    let mut wrong_name = trigger_body("wf-route");
    wrong_name["workflow_name"] = json!("other_workflow");
    let mut no_id = trigger_body("wf-route");
    no_id["input_data"]
        .as_object_mut()
        .expect("object")
        .remove("workflow_id");
    let mut bad_id = trigger_body("wf-route");
    bad_id["input_data"]["workflow_id"] = json!(42);
    let mut blank_id = trigger_body("wf-route");
    blank_id["input_data"]["workflow_id"] = json!("  ");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{not json".to_vec(), "invalid_json"),
        (b"[1,2]".to_vec(), "invalid_body"),
        (wrong_name.to_string().into_bytes(), "invalid_workflow_name"),
        (
            json!({"workflow_name": "strategy_workflow"})
                .to_string()
                .into_bytes(),
            "invalid_input_data",
        ),
        (no_id.to_string().into_bytes(), "invalid_workflow_id"),
        (bad_id.to_string().into_bytes(), "invalid_workflow_id"),
        (blank_id.to_string().into_bytes(), "invalid_workflow_id"),
    ];
    for (body, code) in cases {
        let (status, reply) = post_trigger(addr, Some(API_KEY), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{code}");
        assert_eq!(reply["success"], json!(false));
        assert_eq!(reply["error"]["code"], json!(code));
        assert!(
            reply["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }

    let (status, reply) = post_trigger(addr, Some(API_KEY), good).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(reply["success"], json!(true));
    assert_eq!(reply["accepted_agents"], json!(9));
    let execution_id = reply["execution_id"].as_str().expect("execution_id");
    assert!(uuid::Uuid::parse_str(execution_id).is_ok());
}

#[tokio::test]
async fn without_an_expected_key_any_caller_may_trigger() {
    let settings = SimulatorSettings {
        spread: Duration::from_secs(60),
        ..SimulatorSettings::default()
    };
    let sim = Arc::new(Simulator::new(
        format!("http://127.0.0.1:9{WEBHOOK_PATH}"),
        vec![Secret::new(SECRET)],
        None,
        settings,
    ));
    let addr = serve(sim.router()).await;
    let body = serde_json::to_vec(&trigger_body("wf-open")).expect("body");
    let (status, _) = post_trigger(addr, None, body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

// ---- end to end against a recording receiver --------------------------------------

#[derive(Clone, Debug)]
struct Record {
    body: Bytes,
    verified: bool,
    correlation_id: Option<String>,
}

type Records = Arc<Mutex<Vec<Record>>>;

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

async fn receive(State(records): State<Records>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let config = SignatureConfig::new(vec![Secret::new(SECRET)]);
    let verified = verify(signature, &body, now_ms(), &config).is_ok();
    let correlation_id = headers
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let json = headers
        .get("content-type")
        .is_some_and(|v| v.as_bytes() == b"application/json");
    assert!(json, "events are sent as application/json");
    records.lock().expect("lock").push(Record {
        body,
        verified,
        correlation_id,
    });
    if verified {
        StatusCode::ACCEPTED
    } else {
        StatusCode::UNAUTHORIZED
    }
}

/// Triggers one run with `settings` and returns what the receiver got, in arrival order.
async fn run_with(settings: SimulatorSettings) -> Vec<Record> {
    let records: Records = Arc::default();
    let receiver = Router::new()
        .route(WEBHOOK_PATH, post(receive))
        .with_state(Arc::clone(&records));
    let receiver_addr = serve(receiver).await;
    let sim = Arc::new(Simulator::new(
        format!("http://{receiver_addr}{WEBHOOK_PATH}"),
        vec![Secret::new(SECRET)],
        Some(Secret::new(API_KEY)),
        settings,
    ));
    let addr = serve(Arc::clone(&sim).router()).await;
    let body = serde_json::to_vec(&trigger_body("wf-e2e")).expect("body");
    let (status, _) = post_trigger(addr, Some(API_KEY), body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    tokio::time::timeout(Duration::from_secs(15), async {
        while sim.runs_finished() < 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the simulated run finishes in time");
    records.lock().expect("lock").clone()
}

fn fast() -> SimulatorSettings {
    SimulatorSettings {
        spread: Duration::from_millis(200),
        ..SimulatorSettings::default()
    }
}

fn parse(record: &Record) -> AgentEvent {
    match parse_agent_event(&record.body) {
        Ok(ev) => ev,
        Err(e) => panic!("unparseable event: {e:?}"),
    }
}

fn by_agent(records: &[Record]) -> HashMap<AgentId, Vec<AgentEvent>> {
    let mut map: HashMap<AgentId, Vec<AgentEvent>> = HashMap::new();
    for r in records {
        let ev = parse(r);
        map.entry(ev.agent).or_default().push(ev);
    }
    map
}

fn is_terminal(kind: EventKind) -> bool {
    matches!(kind, EventKind::Completed | EventKind::Failed)
}

#[tokio::test]
async fn a_clean_run_sends_a_started_and_a_completed_event_per_agent() {
    let records = run_with(fast()).await;
    assert_eq!(records.len(), 18);
    assert!(
        records.iter().all(|r| r.verified),
        "every signature verifies"
    );
    assert!(
        records
            .iter()
            .all(|r| r.correlation_id.as_deref() == Some("corr-test"))
    );
    let agents = by_agent(&records);
    assert_eq!(agents.len(), 9);
    let mut vocabularies = HashSet::new();
    for (agent, events) in &agents {
        assert_eq!(events.len(), 2, "{agent}");
        let (started, done) = (&events[0], &events[1]);
        assert_eq!(started.kind, EventKind::Started, "{agent}");
        assert_eq!(done.kind, EventKind::Completed, "{agent}");
        assert_eq!(done.workflow_id, "wf-e2e");
        assert_eq!(done.correlation_id.as_deref(), Some("corr-test"));
        // Parsed, so validated as an agent output.
        assert!(done.agent_data.is_some(), "{agent}");
        assert!(done.confidence.is_some_and(|c| (0.0..=1.0).contains(&c)));
        assert!(started.occurred_at.is_some() && done.occurred_at.is_some());
        match &started.execution_id {
            Some(x) => {
                assert_eq!(
                    done.execution_id.as_ref(),
                    Some(x),
                    "{agent}: one execution id"
                );
                vocabularies.insert("spec");
            }
            None => {
                assert_eq!((started.offset, done.offset), (Some(0), Some(1)), "{agent}");
                assert_eq!(done.environment.as_deref(), Some("local"));
                vocabularies.insert("real");
            }
        }
        let size = done.agent_data.as_ref().map_or(0, |d| d.to_string().len());
        assert!((13_000..=17_000).contains(&size), "{agent}: {size}");
    }
    assert_eq!(vocabularies.len(), 2, "both vocabularies are exercised");
}

#[tokio::test]
async fn a_silent_agent_sends_nothing() {
    let records = run_with(SimulatorSettings {
        silent: vec![AgentId::GeoAudit],
        ..fast()
    })
    .await;
    assert_eq!(records.len(), 16);
    let agents = by_agent(&records);
    assert!(!agents.contains_key(&AgentId::GeoAudit));
    assert_eq!(agents.len(), 8);
}

#[tokio::test]
async fn a_failing_agent_reports_a_failure() {
    let records = run_with(SimulatorSettings {
        fail: vec![AgentId::CmpOrganizer, AgentId::ContentReview],
        ..fast()
    })
    .await;
    assert_eq!(records.len(), 18);
    let agents = by_agent(&records);
    for agent in [AgentId::CmpOrganizer, AgentId::ContentReview] {
        let events = &agents[&agent];
        assert_eq!(events[0].kind, EventKind::Started);
        assert_eq!(events[1].kind, EventKind::Failed, "{agent}");
        assert!(events[1].agent_data.is_none());
        let error = events[1].error.as_deref().unwrap_or_default();
        assert!(error.starts_with("simulated failure"), "{error}");
    }
    assert_eq!(agents[&AgentId::GeoAudit][1].kind, EventKind::Completed);
}

#[tokio::test]
async fn duplicates_send_every_body_twice() {
    let records = run_with(SimulatorSettings {
        duplicates: true,
        ..fast()
    })
    .await;
    assert_eq!(records.len(), 36);
    assert!(records.iter().all(|r| r.verified));
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    for r in &records {
        *counts.entry(&r.body[..]).or_default() += 1;
    }
    assert_eq!(counts.len(), 18);
    assert!(counts.values().all(|n| *n == 2));
    // A duplicate maps to the same event id, so OSA can de-duplicate it.
    let ids: HashSet<String> = records.iter().map(|r| parse(r).event_id).collect();
    assert_eq!(ids.len(), 18);
}

#[tokio::test]
async fn bad_signature_agents_fail_verification() {
    let records = run_with(SimulatorSettings {
        bad_signature: vec![AgentId::ContentReview, AgentId::GeoAudit],
        ..fast()
    })
    .await;
    assert_eq!(records.len(), 18);
    for r in &records {
        let agent = parse(r).agent;
        let expected = !matches!(agent, AgentId::ContentReview | AgentId::GeoAudit);
        assert_eq!(r.verified, expected, "{agent}");
    }
}

#[tokio::test]
async fn out_of_order_sends_the_terminal_event_first() {
    let records = run_with(SimulatorSettings {
        out_of_order: true,
        ..fast()
    })
    .await;
    assert_eq!(records.len(), 18);
    for (agent, events) in by_agent(&records) {
        assert_eq!(events.len(), 2, "{agent}");
        assert!(is_terminal(events[0].kind), "{agent}: terminal first");
        assert_eq!(events[1].kind, EventKind::Started, "{agent}");
    }
}

#[test]
fn the_schedule_stays_within_the_spread_and_follows_the_chain() {
    let mut rng = StdRng::seed_from_u64(5);
    for spread in [
        Duration::ZERO,
        Duration::from_millis(200),
        Duration::from_secs(4),
    ] {
        let plans = schedule(&mut rng, spread);
        assert_eq!(plans.len(), 9);
        for p in &plans {
            assert!(
                p.start <= p.finish && p.finish <= spread,
                "{p:?} within {spread:?}"
            );
        }
        if !spread.is_zero() {
            // Roughly in chain order: the first agent finishes before the last one.
            assert!(plans[0].finish < plans[8].finish);
        }
    }
}

// ---- the strategy a simulated run produces ----------------------------------------

fn simulated_strategy(company: &str, seed: u64) -> osa_domain::synthesis::Strategy {
    use osa_domain::intake::{FocusArea, Timeline};
    use osa_domain::synthesis::{AgentInput, SynthesisInput, synthesise};
    use osa_domain::workflow::AgentStatus;
    let agents = AgentId::ALL
        .iter()
        .map(|a| AgentInput {
            agent: *a,
            status: AgentStatus::Completed,
            confidence: None,
            output: Some(validate_agent_output(&agent_data(*a, company, seed)).expect("valid")),
            late: false,
        })
        .collect();
    synthesise(&SynthesisInput {
        timeline: Timeline::Days90,
        focus_areas: vec![FocusArea::Content, FocusArea::Experimentation],
        agents,
    })
}

/// "37 of products match" reads as a template glitch; "37 of them" does not.
fn counts_without_a_whole(text: &str) -> Vec<String> {
    const WHOLES: [&str; 7] = ["the", "them", "these", "those", "its", "their", "our"];
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(3)
        .filter(|w| {
            let number = w[0].trim_start_matches(['(', '\u{201c}']);
            let whole = w[2].trim_end_matches(|c: char| !c.is_alphanumeric());
            !number.is_empty()
                && number.chars().all(|c| c.is_ascii_digit() || c == ',')
                && w[1] == "of"
                && !WHOLES.contains(&whole)
                && !whole.starts_with(|c: char| c.is_ascii_digit())
        })
        .map(|w| w.join(" "))
        .collect()
}

#[test]
fn simulated_text_has_no_count_without_a_whole() {
    assert_eq!(
        counts_without_a_whole("Catalog sync: 100 of products match; 3 of them fail, 4 of 9 pass."),
        vec!["100 of products"]
    );
    for seed in 0..30u64 {
        for agent in AgentId::ALL {
            let text = agent_data(agent, "Acme Outdoor", seed).to_string();
            assert_eq!(
                counts_without_a_whole(&text),
                Vec::<String>::new(),
                "{agent} seed {seed}"
            );
        }
    }
}

/// The wordings several agents use for one opportunity end up as one
/// recommendation; the short list stays short; nothing two agents said twice is
/// listed twice.
#[test]
fn a_simulated_run_merges_what_the_agents_say_twice() {
    use osa_domain::synthesis::{SHORT_LIST_LEN, same_recommendation};
    let groups: [&[&str]; 7] = [
        &[
            "Personalize homepage hero",
            "Homepage hero personalization",
            "Personalize the homepage hero by audience segment",
        ],
        &[
            "Reduce checkout friction",
            "Checkout friction reduction",
            "Simplify the checkout flow",
        ],
        &[
            "Abandoned cart recovery flow",
            "Cart abandonment recovery journey",
            "Recover abandoned carts",
        ],
        &[
            "Add product structured data",
            "Structured data for product pages",
        ],
        &[
            "Activate real-time ODP segments",
            "Real-time audience activation from ODP",
            "Sync ODP segments to experimentation in real time",
        ],
        &[
            "Target loyal repeat buyers with early access",
            "Offer early access to loyal buyers",
        ],
        &[
            "Increase experiment velocity",
            "Raise experimentation cadence",
            "Run more experiments per month",
        ],
    ];
    for seed in [1u64, 7, 42, 2026] {
        let s = simulated_strategy("Acme Outdoor", seed);
        let all = s.all_recommendations();
        assert!(s.recommendations.len() <= 25 && s.recommendations.len() == SHORT_LIST_LEN);
        let reported: usize = all.iter().map(|r| r.assessments.len()).sum();
        assert_eq!(reported as u32, s.summary.opportunities_reported);
        for group in groups {
            let holding: Vec<&str> = all
                .iter()
                .filter(|r| {
                    group
                        .iter()
                        .any(|l| r.label == *l || r.also_reported_as.iter().any(|a| a == l))
                })
                .map(|r| r.label.as_str())
                .collect();
            assert_eq!(holding.len(), 1, "seed {seed}: {group:?} in {holding:?}");
        }
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(
                    !same_recommendation(&a.label, &b.label),
                    "seed {seed}: {} / {}",
                    a.label,
                    b.label
                );
            }
        }
        let worst_scheduled = s.recommendations.iter().map(|r| r.rank).max();
        assert!(s.backlog.iter().all(|r| Some(r.rank) > worst_scheduled));
        // The agents' stated order of work is followed.
        let rank = |label: &str| all.iter().find(|r| r.label == label).map(|r| r.rank);
        let tag = all
            .iter()
            .find(|r| r.label.starts_with("Tag the "))
            .map(|r| r.rank);
        assert!(tag < rank("Test checkout trust badges"), "seed {seed}");
        let summary = &s.summary.executive_summary;
        assert!((3..=5).contains(&summary.len()), "{summary:#?}");
        let text = summary.join(" ");
        assert_eq!(
            counts_without_a_whole(&text),
            Vec::<String>::new(),
            "{text}"
        );
        assert!(text.chars().any(|c| c.is_ascii_digit()), "{text}");
    }
}
