//! The store contract, run against DynamoDB on the local endpoint (see
//! `osa_testkit::aws::endpoint`), plus what only the DynamoDB adapter has: result parts,
//! the running index, TTL attributes and its API-call budget.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use osa_app::ports::{
    AdminAuditEntry, AgentResult, Attempt, AuditEntry, AuditLog, Clock, CreateOutcome,
    EventOutcome, Marker, Page, PagePosition, RateLimitLeases, StoreError, WorkflowPage,
    WorkflowQuery, WorkflowStore,
};
use osa_aws::dynamo::{DynamoMetrics, DynamoSettings, DynamoStore};
use osa_aws::provision::ensure_table;
use osa_aws::schema::EXPIRES_AT;
use osa_domain::AgentId;
use osa_domain::event::{AgentEvent, parse_agent_event};
use osa_domain::metrics::EventMetrics;
use osa_domain::workflow::{AgentState, AgentStatus, Workflow, WorkflowStatus};
use osa_testkit::ManualClock;
use osa_testkit::aws::{CallCounter, endpoint, sdk_config, unique_name};
use osa_testkit::contract::{self, new_workflow, sample_agent_data};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2026-11-25 10:00 UTC)))
}

/// A store on a new table of its own, and the raw client with its call counter.
async fn store(
    endpoint: &str,
    clock: Arc<ManualClock>,
) -> (DynamoStore, aws_sdk_dynamodb::Client, CallCounter) {
    let config = sdk_config(endpoint).await;
    let counter = CallCounter::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(counter.clone())
            .build(),
    );
    let table = unique_name("table");
    ensure_table(&client, &table).await.expect("ensure_table");
    counter.reset();
    (
        DynamoStore::new(client.clone(), table, clock),
        client,
        counter,
    )
}

fn attempt(at: OffsetDateTime) -> Attempt {
    Attempt::of_body(at, None, b"{}")
}

fn event(workflow_id: &str, agent: AgentId, status: &str) -> AgentEvent {
    let mut body = json!({
        "workflow_id": workflow_id, "agent_id": agent.as_str(),
        "execution_id": format!("exec-{agent}"), "execution_status": status,
    });
    if status == "completed" {
        body["agent_data"] = sample_agent_data();
        body["metadata"] = json!({"execution_duration_ms": 4200, "confidence_score": 0.9});
    }
    parse_agent_event(body.to_string().as_bytes()).expect("valid event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_store_honours_the_contract() {
    let Some(endpoint) = endpoint("dynamo_store_honours_the_contract") else {
        return;
    };
    let clock = clock();
    let (store, _, counter) = store(&endpoint, clock.clone()).await;
    contract::store_suite(Arc::new(store), clock).await;
    eprintln!("contract suite API calls: {:?}", counter.snapshot());
    assert!(
        !counter.snapshot().contains_key("Scan"),
        "no Scan, ever: {:?}",
        counter.snapshot()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_deliveries_honour_the_contract() {
    let Some(endpoint) = endpoint("dynamo_deliveries_honour_the_contract") else {
        return;
    };
    let clock = clock();
    let (store, _, counter) = store(&endpoint, clock.clone()).await;
    contract::delivery_suite(Arc::new(store), clock).await;
    assert!(
        !counter.snapshot().contains_key("Scan"),
        "no Scan, ever: {:?}",
        counter.snapshot()
    );
}

/// Several Lambda instances at once: the contract again, each call going to the
/// next of three stores that share nothing but the table, so concurrent writers race
/// through DynamoDB's conditions rather than queueing behind one process's locks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_of_dynamo_stores_honours_the_contract() {
    let Some(endpoint) = endpoint("a_fleet_of_dynamo_stores_honours_the_contract") else {
        return;
    };
    let clock = clock();
    let (first, client, counter) = store(&endpoint, clock.clone()).await;
    let fleet = Fleet {
        stores: (0..3)
            .map(|_| DynamoStore::new(client.clone(), first.table(), clock.clone()))
            .collect(),
        next: AtomicUsize::new(0),
    };
    contract::store_suite(Arc::new(fleet), clock).await;
    eprintln!("fleet contract suite API calls: {:?}", counter.snapshot());
}

/// What recorded events count goes in the event's own transaction: three
/// stores racing through DynamoDB's conditions (their lost transactions
/// cancelled and tried again) count every event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_of_dynamo_stores_counts_each_event_once() {
    let Some(endpoint) = endpoint("a_fleet_of_dynamo_stores_counts_each_event_once") else {
        return;
    };
    let clock = clock();
    let (first, client, counter) = store(&endpoint, clock.clone()).await;
    let metrics = Arc::new(DynamoMetrics::new(
        client.clone(),
        first.table(),
        clock.clone(),
    ));
    let fleet = Fleet {
        stores: (0..3)
            .map(|_| DynamoStore::new(client.clone(), first.table(), clock.clone()))
            .collect(),
        next: AtomicUsize::new(0),
    };
    contract::counts_suite(Arc::new(fleet), metrics, clock).await;
    eprintln!("fleet counts API calls: {:?}", counter.snapshot());
}

/// A `WorkflowStore` that hands each call to the next of its stores.
struct Fleet {
    stores: Vec<DynamoStore>,
    next: AtomicUsize,
}

impl Fleet {
    fn pick(&self) -> &DynamoStore {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        &self.stores[n % self.stores.len()]
    }
}

#[async_trait]
impl WorkflowStore for Fleet {
    async fn create_workflow(
        &self,
        workflow: &Workflow,
        agents: &[AgentState],
    ) -> Result<CreateOutcome, StoreError> {
        self.pick().create_workflow(workflow, agents).await
    }

    async fn get_workflow(&self, id: &str) -> Result<Option<Workflow>, StoreError> {
        self.pick().get_workflow(id).await
    }

    async fn get_agents(&self, workflow_id: &str) -> Result<Vec<AgentState>, StoreError> {
        self.pick().get_agents(workflow_id).await
    }

    async fn get_results(&self, workflow_id: &str) -> Result<Vec<AgentResult>, StoreError> {
        self.pick().get_results(workflow_id).await
    }

    async fn record_event_with(
        &self,
        event: &AgentEvent,
        attempt: &Attempt,
        metrics: Option<&EventMetrics>,
    ) -> Result<EventOutcome, StoreError> {
        self.pick().record_event_with(event, attempt, metrics).await
    }

    async fn update_workflow(
        &self,
        id: &str,
        change: &(dyn for<'w> Fn(&'w mut Workflow) -> bool + Send + Sync),
    ) -> Result<Option<Workflow>, StoreError> {
        self.pick().update_workflow(id, change).await
    }

    async fn running_workflows(&self, limit: usize) -> Result<Vec<Workflow>, StoreError> {
        self.pick().running_workflows(limit).await
    }

    async fn start_run(
        &self,
        workflow_id: &str,
        why: osa_domain::run::NewRun<'_>,
        now: time::OffsetDateTime,
        deadline_scale: f64,
    ) -> Result<Option<(Workflow, Vec<AgentState>)>, StoreError> {
        self.pick()
            .start_run(workflow_id, why, now, deadline_scale)
            .await
    }

    async fn list_workflows(&self, query: &WorkflowQuery) -> Result<WorkflowPage, StoreError> {
        self.pick().list_workflows(query).await
    }

    async fn marker(&self, marker: Marker) -> Result<Option<OffsetDateTime>, StoreError> {
        self.pick().marker(marker).await
    }

    async fn set_marker(&self, marker: Marker, at: OffsetDateTime) -> Result<(), StoreError> {
        self.pick().set_marker(marker, at).await
    }

    async fn erase_workflow(&self, id: &str) -> Result<Option<u64>, StoreError> {
        self.pick().erase_workflow(id).await
    }
}

/// One complete workflow: create, nine agents start, a status read, nine complete,
/// a status read. Prints the API calls per operation (the budget in the design doc).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_workflow_costs_a_known_number_of_calls() {
    let Some(endpoint) = endpoint("one_workflow_costs_a_known_number_of_calls") else {
        return;
    };
    let clock = clock();
    let (store, _, counter) = store(&endpoint, clock.clone()).await;
    let id = unique_name("wf");
    let (workflow, agents) = new_workflow(&id, clock.now());
    store
        .create_workflow(&workflow, &agents)
        .await
        .expect("create");
    let status_read = || async {
        let (w, a, r) = tokio::try_join!(
            store.get_workflow(&id),
            store.get_agents(&id),
            store.get_results(&id),
        )
        .expect("status read");
        (w.expect("exists"), a, r)
    };
    for agent in AgentId::ALL {
        clock.advance(std::time::Duration::from_secs(1));
        let outcome = store
            .record_event(&event(&id, agent, "started"), &attempt(clock.now()))
            .await
            .expect("record");
        assert!(matches!(outcome, EventOutcome::Accepted { .. }));
    }
    let (w, a, _) = status_read().await;
    assert_eq!(w.status(), WorkflowStatus::Running);
    assert!(a.iter().all(|a| a.status == AgentStatus::Running));
    for agent in AgentId::ALL {
        clock.advance(std::time::Duration::from_secs(1));
        store
            .record_event(&event(&id, agent, "completed"), &attempt(clock.now()))
            .await
            .expect("record");
    }
    let (w, _, r) = status_read().await;
    assert_eq!(w.status(), WorkflowStatus::Completed);
    assert_eq!(r.len(), 9);

    let calls = counter.snapshot();
    eprintln!("API calls for one nine-agent workflow (create + 18 events + 2 status reads):");
    for (operation, n) in &calls {
        eprintln!("  {operation:<18} {n}");
    }
    eprintln!("  {:<18} {}", "total", counter.total());
    // Sequential events never conflict: one read and one transaction each.
    let expected = BTreeMap::from([
        ("TransactWriteItems".to_owned(), 1 + 18),
        ("BatchGetItem".to_owned(), 18),
        ("GetItem".to_owned(), 2),
        ("Query".to_owned(), 4),
    ]);
    assert_eq!(calls, expected);
}

/// An agent output too big for one 400 KB item is deflated and split into parts,
/// and comes back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_result_is_split_into_parts_and_read_back_whole() {
    let Some(endpoint) = endpoint("a_large_result_is_split_into_parts_and_read_back_whole") else {
        return;
    };
    let clock = clock();
    let (store, client, _) = store(&endpoint, clock.clone()).await;
    let id = unique_name("wf");
    let (workflow, agents) = new_workflow(&id, clock.now());
    store
        .create_workflow(&workflow, &agents)
        .await
        .expect("create");

    // ~1 MB of base64 noise: deflates to ~770 KB, so three parts.
    let noise: Vec<u8> = (0..750_000).map(|_| rand::random::<u8>()).collect();
    let mut data = sample_agent_data();
    data["attachment"] = json!(base64::engine::general_purpose::STANDARD.encode(&noise));
    let mut ev = event(&id, AgentId::GeoAudit, "completed");
    ev.agent_data = Some(data.clone().into());
    let outcome = store
        .record_event(&ev, &attempt(clock.now()))
        .await
        .expect("record");
    assert!(matches!(outcome, EventOutcome::Accepted { .. }));

    let results = store.get_results(&id).await.expect("results");
    assert_eq!(results.len(), 1);
    assert_eq!(*results[0].agent_data, data);

    let parts = client
        .query()
        .table_name(store.table())
        .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("WF#{id}")))
        .expression_attribute_values(":p", AttributeValue::S("RESULT#".into()))
        .send()
        .await
        .expect("query")
        .items
        .unwrap_or_default();
    assert_eq!(parts.len(), 3, "three parts");
    for part in &parts {
        let Some(AttributeValue::B(b)) = part.get("data") else {
            panic!("a part without data");
        };
        assert!(b.as_ref().len() <= 350_000);
    }
}

/// The sparse `running` index lists unfinished workflows only; every item expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_index_is_sparse_and_every_item_expires() {
    let Some(endpoint) = endpoint("running_index_is_sparse_and_every_item_expires") else {
        return;
    };
    let clock = clock();
    let (store, client, _) = store(&endpoint, clock.clone()).await;
    let (done, agents) = new_workflow(&unique_name("done"), clock.now());
    store.create_workflow(&done, &agents).await.expect("create");
    clock.advance(std::time::Duration::from_secs(1));
    let (open, agents) = new_workflow(&unique_name("open"), clock.now());
    store.create_workflow(&open, &agents).await.expect("create");
    let ids = |ws: Vec<Workflow>| {
        ws.into_iter()
            .map(|w| w.id().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.running_workflows(10).await.expect("running")),
        vec![done.id().to_owned(), open.id().to_owned()],
        "oldest first"
    );
    for agent in AgentId::ALL {
        store
            .record_event(&event(done.id(), agent, "completed"), &attempt(clock.now()))
            .await
            .expect("record");
    }
    assert_eq!(
        ids(store.running_workflows(10).await.expect("running")),
        vec![open.id().to_owned()],
        "a finished workflow leaves the index"
    );
    store
        .set_marker(Marker::LastForceSync, clock.now())
        .await
        .expect("marker");

    // Every item the store wrote carries its expiry: 90 days for the workflow's
    // items, 400 for audit entries (and markers).
    let created = done.created_at().unix_timestamp();
    for (pk, days, base) in [
        (format!("WF#{}", done.id()), 90, created),
        (
            format!("AUDIT#{}", done.id()),
            400,
            clock.now().unix_timestamp(),
        ),
    ] {
        let items = client
            .query()
            .table_name(store.table())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .send()
            .await
            .expect("query")
            .items
            .unwrap_or_default();
        assert!(items.len() >= 9, "{pk}: {} items", items.len());
        for item in items {
            let Some(AttributeValue::N(at)) = item.get(EXPIRES_AT) else {
                panic!("{pk} {:?}: no {EXPIRES_AT}", item.get("sk"));
            };
            let at: i64 = at.parse().expect("number");
            assert_eq!(at, base + days * 24 * 3600, "{pk} {:?}", item.get("sk"));
        }
    }
    let mut markers = 0;
    for shard in 0..DynamoSettings::default().marker_shards {
        let item = client
            .get_item()
            .table_name(store.table())
            .key(
                "pk",
                AttributeValue::S(format!("MARKER#last_webhook#{shard:02}")),
            )
            .key("sk", AttributeValue::S("MARKER".into()))
            .send()
            .await
            .expect("get")
            .item;
        if let Some(item) = item {
            markers += 1;
            let number = |name: &str| match item.get(name) {
                Some(AttributeValue::N(v)) => v.parse::<i64>().expect("number"),
                _ => panic!("marker without {name}"),
            };
            assert_eq!(number(EXPIRES_AT), number("at") / 1000 + 400 * 24 * 3600);
        }
    }
    assert!(markers > 0, "the webhook marker is kept in shards");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_table_is_idempotent() {
    let Some(endpoint) = endpoint("ensure_table_is_idempotent") else {
        return;
    };
    let config = sdk_config(&endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = unique_name("table");
    ensure_table(&client, &table).await.expect("first");
    ensure_table(&client, &table).await.expect("second");
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .expect("ttl");
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|d| d.attribute_name()),
        Some(EXPIRES_AT)
    );
}

/// The rate limit shared by every Lambda instance: two stores over one table
/// (two instances) count against one allowance per client and minute, under
/// concurrent requests and leases of several tokens; other clients and the next
/// minute are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_rate_limit_holds_across_instances() {
    let Some(endpoint) = endpoint("the_shared_rate_limit_holds_across_instances") else {
        return;
    };
    let (first, client, _) = store(&endpoint, clock()).await;
    let second = DynamoStore::new(client, first.table().to_owned(), clock());
    let window = 1_795_600_020;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let store = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.spawn(async move { store.take_shared_rate_tokens("sub:a", window, 5, 1).await });
    }
    let mut allowed = 0;
    while let Some(joined) = tasks.join_next().await {
        allowed += joined.expect("task").expect("store");
    }
    assert_eq!(allowed, 5, "exactly the limit, whichever instance served");
    let take = |store: &DynamoStore, client: &'static str, window: i64, wanted: u32| {
        let store = store.clone();
        async move {
            store
                .take_shared_rate_tokens(client, window, 10, wanted)
                .await
                .expect("store")
        }
    };
    // Leases: granted whole while they fit, then what is left one at a time.
    assert_eq!(take(&second, "sub:b", window, 4).await, 4);
    assert_eq!(take(&first, "sub:b", window, 4).await, 4);
    assert_eq!(take(&second, "sub:b", window, 4).await, 1, "two left: one");
    assert_eq!(take(&first, "sub:b", window, 4).await, 1);
    assert_eq!(take(&first, "sub:b", window, 1).await, 0, "all ten spent");
    assert_eq!(
        take(&first, "sub:b", window + 60, 4).await,
        4,
        "a new minute"
    );
}

#[async_trait]
impl AuditLog for Fleet {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.pick().append_audit(entry).await
    }

    async fn audit_page(
        &self,
        workflow_id: &str,
        after: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError> {
        self.pick().audit_page(workflow_id, after, limit).await
    }

    async fn unattributed_audit_page(
        &self,
        day: time::Date,
        after: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError> {
        self.pick().unattributed_audit_page(day, after, limit).await
    }

    async fn append_admin_audit(&self, entry: &AdminAuditEntry) -> Result<(), StoreError> {
        self.pick().append_admin_audit(entry).await
    }

    async fn admin_audit_page(
        &self,
        before: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AdminAuditEntry>, StoreError> {
        self.pick().admin_audit_page(before, limit).await
    }
}

/// The outbox: items in the same transactions as the workflow writes,
/// pending in the sparse index until relayed; once-keys for the relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_outbox_honours_the_contract() {
    let Some(endpoint) = endpoint("dynamo_outbox_honours_the_contract") else {
        return;
    };
    let clock = clock();
    let (store, client, counter) = store(&endpoint, clock.clone()).await;
    let metrics = Arc::new(DynamoMetrics::new(client, store.table(), clock.clone()));
    contract::outbox_suite(Arc::new(store), metrics.clone(), metrics, clock).await;
    assert!(
        !counter.snapshot().contains_key("Scan"),
        "no Scan, ever: {:?}",
        counter.snapshot()
    );
}
