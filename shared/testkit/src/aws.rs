//! What the tests on the local AWS endpoint share: the local endpoint (moto, started by
//! `infra/moto.sh`), SDK configuration pointed at it, unique resource names, a
//! whole application on the AWS adapters there, and a counter of API calls.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Credentials, Intercept, RuntimeComponents};
use osa_app::ports::Clock;
use osa_aws::AwsClients;
use osa_aws::dynamo::{DynamoMetrics, DynamoStore};
use osa_aws::eventbridge::EventBridgeBus;
use osa_aws::provision::{ensure_queues, ensure_table};
use osa_aws::sqs::SqsQueue;

use crate::TestApp;

/// The endpoint the AWS tests run against, from `OSA_TEST_AWS_ENDPOINT`. Without it
/// the test fails, telling how to start one, unless `OSA_SKIP_AWS_TESTS=1` asks to
/// skip (then `None`).
pub fn endpoint(test: &str) -> Option<String> {
    match std::env::var("OSA_TEST_AWS_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("OSA_SKIP_AWS_TESTS").as_deref() == Ok("1") => {
            eprintln!("SKIPPED {test}: OSA_SKIP_AWS_TESTS=1 (no AWS-compatible endpoint)");
            None
        }
        _ => panic!(
            "{test} needs an AWS-compatible endpoint in OSA_TEST_AWS_ENDPOINT. Run the \
             tests with ./infra/test.sh, or `source infra/moto.sh` first (it starts moto \
             and sets the variables), or set OSA_SKIP_AWS_TESTS=1 to skip the AWS tests."
        ),
    }
}

/// SDK configuration for the local endpoint: dummy credentials and a region, so a
/// test never reads (or sends) a developer's real ones.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "osa-tests"))
        .load()
        .await
}

/// A name no other test (or run) uses: `osa-<what>-<random>`.
pub fn unique_name(what: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("osa-{what}-{}", &id[..12])
}

/// A [`TestApp`] whose stateful ports are DynamoDB, SQS and EventBridge through
/// `clients`: a new table and queue pair named `osa-<what>-…`, and a new bus.
pub async fn app_on_aws(clients: &AwsClients, what: &str) -> TestApp {
    let table = unique_name(what);
    ensure_table(&clients.dynamodb, &table)
        .await
        .expect("table");
    let queues = ensure_queues(&clients.sqs, &unique_name(what))
        .await
        .expect("queues");
    let bus = unique_name("bus");
    clients
        .eventbridge
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("event bus");
    let mut app = TestApp::new();
    let clock: Arc<dyn Clock> = app.clock.clone();
    let store = Arc::new(DynamoStore::new(
        clients.dynamodb.clone(),
        table.as_str(),
        clock.clone(),
    ));
    let metrics = Arc::new(DynamoMetrics::new(
        clients.dynamodb.clone(),
        table.as_str(),
        clock,
    ));
    let services = &mut app.services;
    services.store = store.clone();
    services.audit = store.clone();
    services.leases = Some(store.clone());
    services.deliveries = store.clone();
    services.outbox = store;
    services.metrics = metrics.clone();
    services.activity = metrics.clone();
    services.ops = metrics;
    services.queue = Arc::new(SqsQueue::new(clients.sqs.clone(), queues.url.clone()));
    services.events = Arc::new(EventBridgeBus::new(clients.eventbridge.clone(), bus));
    services.changes = None;
    app
}

/// The operation a request calls, from the `X-Amz-Target` header of the JSON
/// protocols DynamoDB, SQS and EventBridge speak (`DynamoDB_20120810.PutItem`:
/// `PutItem`).
fn operation(request: &aws_sdk_dynamodb::config::http::HttpRequest) -> &str {
    let target = request.headers().get("x-amz-target").unwrap_or("unknown");
    target.rsplit('.').next().unwrap_or(target)
}

/// Counts the requests a client sends, per operation (from the `X-Amz-Target`
/// header of the JSON protocols DynamoDB, SQS and EventBridge speak). Counts every
/// attempt the SDK transmits, retries included.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl CallCounter {
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn reset(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let mut operation = operation(context.request()).to_owned();
        // The shared rate limit's writes, told apart (their key is `RATE#<client>`).
        let body = context.request().body().bytes().unwrap_or_default();
        if operation == "UpdateItem" && body.windows(6).any(|w| w == b"\"RATE#") {
            operation.push_str(" (rate limit)");
        }
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }
}

/// Estimates the capacity units DynamoDB requests consume, on-demand, from the
/// requests as sent: a write unit per KB of each item put (twice that in a
/// transaction), one for an update or a delete (twice in a transaction; OSA's
/// updated items, counters, are under 1 KB), and a read unit per item or query
/// read with strong consistency (up to 4 KB each). An estimate: DynamoDB counts
/// an updated item's whole size, and a read item's real size.
#[derive(Debug, Clone, Default)]
pub struct CapacityEstimate(Arc<Mutex<(u64, u64)>>);

impl CapacityEstimate {
    /// (write units, read units) since the last reset.
    pub fn units(&self) -> (u64, u64) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn reset(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = (0, 0);
    }
}

/// An item's size as DynamoDB counts it: names plus values.
fn item_bytes(item: &serde_json::Map<String, serde_json::Value>) -> u64 {
    fn value_bytes(value: &serde_json::Value) -> u64 {
        let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
            return 0;
        };
        match (kind.as_str(), inner) {
            ("S" | "B", serde_json::Value::String(s)) => s.len() as u64,
            ("N", serde_json::Value::String(n)) => (n.len() as u64).div_ceil(2) + 1,
            ("M", serde_json::Value::Object(m)) => 3 + item_bytes(m),
            ("L", serde_json::Value::Array(l)) => 3 + l.iter().map(value_bytes).sum::<u64>(),
            ("SS" | "NS" | "BS", serde_json::Value::Array(l)) => l
                .iter()
                .filter_map(|s| s.as_str())
                .map(|s| s.len() as u64)
                .sum(),
            _ => 1,
        }
    }
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_bytes(value))
        .sum()
}

impl Intercept for CapacityEstimate {
    fn name(&self) -> &'static str {
        "CapacityEstimate"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let request = context.request();
        let operation = operation(request);
        let body: serde_json::Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        let kb = |item: &serde_json::Value| {
            item.as_object()
                .map_or(1, |o| item_bytes(o).div_ceil(1024).max(1))
        };
        let (writes, reads) = match operation {
            "TransactWriteItems" => {
                let items = body["TransactItems"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let units = items
                    .iter()
                    .map(|op| match op.get("Put") {
                        Some(put) => 2 * kb(&put["Item"]),
                        None => 2,
                    })
                    .sum();
                (units, 0)
            }
            "PutItem" => (kb(&body["Item"]), 0),
            "UpdateItem" | "DeleteItem" => (1, 0),
            "BatchGetItem" => {
                let keys = body["RequestItems"].as_object().map_or(0, |tables| {
                    tables
                        .values()
                        .map(|t| t["Keys"].as_array().map_or(0, |k| k.len() as u64))
                        .sum()
                });
                (0, keys)
            }
            "GetItem" | "Query" => (0, 1),
            _ => (0, 0),
        };
        let mut units = self.0.lock().unwrap_or_else(|e| e.into_inner());
        units.0 += writes;
        units.1 += reads;
        Ok(())
    }
}
