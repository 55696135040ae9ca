//! The adapter contract, run against the embedded SQLite store and queue.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use osa_app::ports::{
    Attempt, AuditLog, Clock, EventOutcome, Job, JobQueue, Marker, WorkflowStore,
};
use osa_domain::AgentId;
use osa_domain::event::parse_agent_event;
use osa_sqlite::SqliteStore;
use osa_testkit::ManualClock;
use osa_testkit::contract::{self, new_workflow, sample_agent_data};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

/// A unique directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "osa-contract-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("osa.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2026-11-25 10:00 UTC)))
}

fn attempt(at: OffsetDateTime) -> Attempt {
    Attempt::of_body(at, None, b"{}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_honours_the_contract() {
    let dir = TempDir::new("store");
    let clock = clock();
    let store = SqliteStore::open(&dir.db(), clock.clone()).expect("open");
    contract::store_suite(Arc::new(store), clock).await;
}

/// What recorded events count is written in the event's own savepoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_counts_recorded_events_once() {
    let dir = TempDir::new("counts");
    let clock = clock();
    let store = Arc::new(SqliteStore::open(&dir.db(), clock.clone()).expect("open"));
    contract::counts_suite(store.clone(), store, clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_deliveries_honour_the_contract() {
    let dir = TempDir::new("deliveries");
    let clock = clock();
    let store = SqliteStore::open(&dir.db(), clock.clone()).expect("open");
    contract::delivery_suite(Arc::new(store), clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_queue_honours_the_contract() {
    let dir = TempDir::new("queue");
    let clock = clock();
    let store = SqliteStore::open(&dir.db(), clock.clone()).expect("open");
    contract::queue_suite(Arc::new(store), clock).await;
}

/// What was acknowledged survives the process: drop the store, open the file again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn data_survives_a_restart() {
    let dir = TempDir::new("restart");
    let clock = clock();
    let (workflow, agents) = new_workflow("wf-restart", clock.now());
    let body = json!({
        "workflow_id": "wf-restart", "agent_id": "geo_audit", "execution_id": "x-1",
        "execution_status": "completed", "agent_data": sample_agent_data()
    });
    let event = parse_agent_event(body.to_string().as_bytes()).expect("event");
    let job = Job::TriggerOpal {
        workflow_id: "wf-restart".into(),
    };
    {
        let store = SqliteStore::open(&dir.db(), clock.clone()).expect("open");
        store
            .create_workflow(&workflow, &agents)
            .await
            .expect("create");
        let outcome = store
            .record_event(&event, &attempt(clock.now()))
            .await
            .expect("record");
        assert!(matches!(outcome, EventOutcome::Accepted { .. }));
        store.enqueue(&job, Duration::ZERO).await.expect("enqueue");
    }

    let store = SqliteStore::open(&dir.db(), clock.clone()).expect("reopen");
    let stored = store
        .get_workflow("wf-restart")
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(stored.version(), workflow.version() + 1);
    let geo = store.get_agents("wf-restart").await.expect("agents");
    assert_eq!(geo.len(), 9);
    assert!(
        geo.iter()
            .any(|a| a.agent == AgentId::GeoAudit && a.status.is_terminal())
    );
    assert_eq!(
        store
            .get_results("wf-restart")
            .await
            .expect("results")
            .len(),
        1
    );
    assert_eq!(
        store
            .audit_for_workflow("wf-restart", 10)
            .await
            .expect("audit")
            .len(),
        1
    );
    assert_eq!(
        store.marker(Marker::LastAgentData).await.expect("marker"),
        Some(clock.now())
    );
    // The event is still known: a replay after the restart is a duplicate.
    let again = store
        .record_event(&event, &attempt(clock.now()))
        .await
        .expect("record");
    assert!(matches!(again, EventOutcome::Duplicate { .. }));
    let jobs = store
        .receive(10, Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].job, job);
}

/// Rough throughput: 10,000 distinct `record_event` calls from 64 tasks.
/// `cargo test -p osa-sqlite --release --test store_contract_sqlite -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "timing, run by hand"]
async fn record_event_throughput() {
    const TASKS: usize = 64;
    const WORKFLOWS: usize = 100;
    const PER_WORKFLOW: usize = 100;
    let dir = TempDir::new("throughput");
    let clock = clock();
    let store = Arc::new(SqliteStore::open(&dir.db(), clock.clone()).expect("open"));
    let mut events = Vec::new();
    for w in 0..WORKFLOWS {
        let id = format!("wf-bench-{w}");
        let (workflow, agents) = new_workflow(&id, clock.now());
        store
            .create_workflow(&workflow, &agents)
            .await
            .expect("create");
        for n in 0..PER_WORKFLOW {
            let agent = AgentId::ALL[n % AgentId::ALL.len()];
            let body = json!({
                "workflow_id": id, "agent_id": agent.as_str(), "execution_id": "x",
                "execution_status": "running", "offset": n
            });
            events.push(parse_agent_event(body.to_string().as_bytes()).expect("event"));
        }
    }
    let events = Arc::new(events);
    let now = clock.now();
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = Arc::clone(&store);
            let events = Arc::clone(&events);
            tokio::spawn(async move {
                for ev in events.iter().skip(t).step_by(TASKS) {
                    let outcome = store.record_event(ev, &attempt(now)).await.expect("record");
                    assert!(matches!(outcome, EventOutcome::Accepted { .. }));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let elapsed = started.elapsed();
    let n = events.len();
    println!(
        "record_event: {n} calls from {TASKS} tasks in {elapsed:.2?} = {:.0}/s",
        n as f64 / elapsed.as_secs_f64()
    );
}

/// The outbox: written with the workflow writes, relayed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_outbox_honours_the_contract() {
    let dir = TempDir::new("outbox");
    let clock = clock();
    let store = Arc::new(SqliteStore::open(&dir.db(), clock.clone()).expect("open"));
    contract::outbox_suite(store.clone(), store.clone(), store, clock).await;
}
