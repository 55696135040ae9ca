//! The metrics and operations-state ports on both adapters: counts stay exact
//! under many concurrent increments (64 tasks; on DynamoDB from a fleet of
//! stores sharing only the table, as Lambda instances do), histograms stay
//! consistent, state documents are compare-and-set, the activity feed numbers
//! concurrent appends once each, in order. Also writes an exposition for
//! `promtool check metrics` (infra/test.sh) when `OSA_METRICS_EXPOSITION` names a
//! file.

use std::sync::Arc;

use osa_app::ports::{ActivityFeed, Clock, MetricsStore, OpsStore};
use osa_aws::dynamo::DynamoMetrics;
use osa_aws::provision::ensure_table;
use osa_domain::activity::Activity;
use osa_domain::metrics::{Family, Number, Observation, Series};
use osa_sqlite::SqliteStore;
use osa_testkit::ManualClock;
use osa_testkit::aws::{CallCounter, endpoint, sdk_config, unique_name};
use serde_json::json;
use time::macros::datetime;

const TASKS: usize = 64;
const PER_TASK: usize = 8;

fn clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(datetime!(2026-11-25 10:00 UTC)))
}

fn temp_sqlite() -> (SqliteStore, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(unique_name("metrics"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(&dir.join("osa.db"), clock()).expect("sqlite store");
    (store, dir)
}

fn agent_total(status: &str) -> Series {
    Series::new(
        Family::AgentExecutionTotal,
        &["content_review", status, "strategy"],
    )
    .expect("series")
}

/// 64 tasks at once, each recording `PER_TASK` times a counter increment and a
/// histogram observation, through the store `pick` hands each task.
async fn concurrent_increments<S: MetricsStore + 'static>(stores: Vec<Arc<S>>) {
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let store = stores[t % stores.len()].clone();
        tasks.spawn(async move {
            for i in 0..PER_TASK {
                let observations = [
                    Observation::inc(
                        Family::AgentExecutionTotal,
                        &["content_review", "completed", "strategy"],
                    )
                    .expect("obs"),
                    Observation::observe(
                        Family::AgentExecutionDurationSeconds,
                        &["content_review", "strategy"],
                        // 0.25 s and 400 s alternate: bucket 0.5 and the overflow.
                        if i % 2 == 0 { 0.25 } else { 400.0 },
                    )
                    .expect("obs"),
                ];
                store.record(&observations).await.expect("record");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
    let snapshot = stores[0].snapshot().await.expect("snapshot");
    let n = (TASKS * PER_TASK) as i64;
    assert_eq!(
        snapshot.value(&agent_total("completed")),
        Some(Number::Int(n)),
        "every increment counted"
    );
    let hist = Series::new(
        Family::AgentExecutionDurationSeconds,
        &["content_review", "strategy"],
    )
    .expect("series");
    assert_eq!(snapshot.count(&hist), n as u64);
    let buckets = snapshot.bucket_counts(Family::AgentExecutionDurationSeconds, &[]);
    assert_eq!(buckets[1], (n / 2) as u64, "0.25 s lands in le=0.5");
    assert_eq!(buckets[10], (n / 2) as u64, "400 s overflows");
    let sum = snapshot.sum(Family::AgentExecutionDurationSeconds, &[]);
    assert!((sum - (n as f64 / 2.0) * 400.25).abs() < 1e-6, "sum {sum}");
    let text = snapshot.render();
    assert!(text.contains(&format!(
        "osal_agent_execution_total{{agent_id=\"content_review\",status=\"completed\",workflow_type=\"strategy\"}} {n}\n"
    )));
    assert!(text.contains(&format!(
        "osal_agent_execution_duration_seconds_count{{agent_id=\"content_review\",workflow_type=\"strategy\"}} {n}\n"
    )));
}

async fn gauges_and_state<S: MetricsStore + OpsStore>(store: &S) {
    let gauge =
        |v| Observation::set(Family::SystemHealthScore, &["database", "test"], v).expect("obs");
    store.record(&[gauge(0.5)]).await.expect("record");
    store.record(&[gauge(0.98)]).await.expect("record");
    let series = Series::new(Family::SystemHealthScore, &["database", "test"]).expect("series");
    let value = store.snapshot().await.expect("snapshot").value(&series);
    assert_eq!(
        value.map(Number::as_f64),
        Some(0.98),
        "a gauge is set, not added"
    );

    assert_eq!(store.load_state("health").await.expect("load"), None);
    assert!(
        store
            .save_state("health", &json!({"a": 1}), None)
            .await
            .expect("save")
    );
    assert!(
        !store
            .save_state("health", &json!({"a": 2}), None)
            .await
            .expect("save"),
        "create twice"
    );
    let loaded = store
        .load_state("health")
        .await
        .expect("load")
        .expect("saved");
    assert_eq!((loaded.version, loaded.doc.clone()), (1, json!({"a": 1})));
    assert!(
        store
            .save_state("health", &json!({"a": 3}), Some(1))
            .await
            .expect("save")
    );
    assert!(
        !store
            .save_state("health", &json!({"a": 4}), Some(1))
            .await
            .expect("save"),
        "a stale version loses"
    );
    let loaded = store
        .load_state("health")
        .await
        .expect("load")
        .expect("saved");
    assert_eq!((loaded.version, loaded.doc), (2, json!({"a": 3})));
}

/// Appends from many tasks (and stores) at once get the numbers 1..=n, each
/// once; a reader gets them in order from any cursor.
async fn activity_feed<S: ActivityFeed + 'static>(stores: Vec<Arc<S>>) {
    const APPENDS: usize = 40;
    assert_eq!(stores[0].last_activity().await.expect("last"), 0);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..APPENDS {
        let store = stores[n % stores.len()].clone();
        tasks.spawn(async move {
            let activity = Activity::WorkflowCreated {
                workflow_id: format!("wf-{n}"),
                at: datetime!(2026-11-25 10:00 UTC),
            };
            store.append_activity(&activity).await.expect("append")
        });
    }
    let mut numbers = Vec::new();
    while let Some(done) = tasks.join_next().await {
        numbers.push(done.expect("task"));
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=APPENDS as u64).collect::<Vec<_>>());
    assert_eq!(
        stores[0].last_activity().await.expect("last"),
        APPENDS as u64
    );

    let all = stores[0].activity_after(0, 1000).await.expect("read");
    let seqs: Vec<u64> = all.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, numbers, "in order, none missing");
    let mut named: Vec<String> = all
        .iter()
        .map(|(_, a)| match a {
            Activity::WorkflowCreated { workflow_id, .. } => workflow_id.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    named.sort_unstable();
    let mut want: Vec<String> = (0..APPENDS).map(|n| format!("wf-{n}")).collect();
    want.sort_unstable();
    assert_eq!(named, want, "each appended once");
    let tail = stores[0].activity_after(35, 100).await.expect("read");
    assert_eq!(
        tail.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [36, 37, 38, 39, 40]
    );
    assert_eq!(
        stores[0].activity_after(30, 2).await.expect("read").len(),
        2
    );
    assert!(
        stores[0]
            .activity_after(40, 100)
            .await
            .expect("read")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_counts_stay_exact_under_concurrent_increments() {
    let (store, dir) = temp_sqlite();
    let store = Arc::new(store);
    concurrent_increments(vec![store.clone()]).await;
    gauges_and_state(store.as_ref()).await;
    activity_feed(vec![store]).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_counts_stay_exact_across_a_fleet_of_instances() {
    let Some(endpoint) = endpoint("dynamo_counts_stay_exact_across_a_fleet_of_instances") else {
        return;
    };
    let config = sdk_config(&endpoint).await;
    let counter = CallCounter::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(counter.clone())
            .build(),
    );
    let table = unique_name("metrics");
    ensure_table(&client, &table).await.expect("ensure_table");
    counter.reset();
    // Four "instances" sharing nothing but the table; EMF on, as in Lambda.
    let fleet: Vec<Arc<DynamoMetrics>> = (0..4)
        .map(|_| {
            Arc::new(DynamoMetrics::new(client.clone(), table.as_str(), clock()).with_emf(true))
        })
        .collect();
    concurrent_increments(fleet.clone()).await;
    let calls = counter.snapshot();
    eprintln!("metrics API calls: {calls:?}");
    assert!(!calls.contains_key("Scan"), "no Scan, ever: {calls:?}");
    assert_eq!(
        calls.get("UpdateItem").copied(),
        Some((TASKS * PER_TASK * 2) as u64),
        "one UpdateItem per series per record call"
    );
    gauges_and_state(fleet[0].as_ref()).await;
    activity_feed(fleet).await;
}

/// Every family with a series, escaping included: what `promtool check metrics`
/// reads in infra/test.sh.
#[tokio::test]
async fn the_exposition_covers_every_family() {
    let (store, dir) = temp_sqlite();
    let obs = [
        Observation::inc(
            Family::AgentExecutionTotal,
            &["content_review", "completed", "strategy"],
        ),
        Observation::observe(
            Family::AgentExecutionDurationSeconds,
            &["content_review", "strategy"],
            4.2,
        ),
        Observation::observe(
            Family::WorkflowProcessingDurationSeconds,
            &["workflow", "completed"],
            12.5,
        ),
        Observation::inc(
            Family::PiiProtectionOperationsTotal,
            &["email", "partial", "high"],
        ),
        Observation::inc(
            Family::StrategyRecommendationsTotal,
            &["audience_optimization", "high", "enterprise_b2b"],
        ),
        Observation::set(Family::SystemHealthScore, &["database", "local"], 0.98),
        Observation::inc(
            Family::WebhookProcessingTotal,
            &["audience_suggester", "accepted", "opal", "lt_100ms"],
        ),
        // A label value that needs every escape of the exposition.
        Observation::inc(Family::AgentOverAllowanceTotal, &["road\"map\"\\\n"]),
        Observation::inc(
            Family::ComplianceViolationsTotal,
            &["pii_in_output", "high", "gdpr"],
        ),
        Observation::inc(
            Family::ApiRequestsTotal,
            &["GET", "/api/strategy/workflows/{id}", "200", "cli"],
        ),
        Observation::observe(
            Family::ApiRequestDurationSeconds,
            &["GET", "/api/strategy/workflows/{id}"],
            0.0042,
        ),
        Observation::inc(Family::DeliveriesDeadLetteredTotal, &[]),
    ];
    let obs: Vec<_> = obs.into_iter().map(|o| o.expect("valid")).collect();
    store.record(&obs).await.expect("record");
    let text = store.snapshot().await.expect("snapshot").render();
    // One series per family: a counter or gauge line, or a histogram's 8 or 11
    // bucket lines plus sum and count.
    for family in Family::ALL {
        let lines = text
            .lines()
            .filter(|l| {
                l.starts_with(&format!("{}{{", family.name()))
                    || l.starts_with(&format!("{} ", family.name()))
                    || l.starts_with(&format!("{}_", family.name()))
            })
            .filter(|l| !l.starts_with('#'))
            .count();
        let want = match family.buckets().len() {
            0 => 1,
            n => n + 3,
        };
        assert_eq!(lines, want, "{}:\n{text}", family.name());
    }
    if let Ok(path) = std::env::var("OSA_METRICS_EXPOSITION")
        && !path.is_empty()
    {
        std::fs::write(&path, &text).expect("write the exposition");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A workflow's webhooks, a duplicate and two refused ones on the embedded
/// store: each counted once (the recorded ones in the event's own write).
#[tokio::test]
async fn a_workflows_webhooks_are_counted_exactly() {
    osa_testkit::counts::a_workflow_counts_exactly(&osa_testkit::TestApp::new()).await;
}
