//! `MetricsStore` and `OpsStore` over the workflow table in DynamoDB.
//!
//! | item | `pk` | `sk` |
//! |---|---|---|
//! | metric series (see [`super::metric_items`]) | `METRICS#<shard>`, `METRICS#G` | `<family>\|<labels json>` |
//! | operations state | `OPS#<name>` | `STATE` |
//! | the activity feed | `ACTIVITY` | see [`super::activity`] |
//!
//! An observation is one `UpdateItem` per series on a random shard, `ADD`ing to its
//! cells: atomic per item, so concurrent Lambda instances never lose an
//! increment, and spread over [`DEFAULT_SHARDS`] partitions so 1,000 requests a
//! second never heat one partition. A read queries every shard partition (never
//! a scan) and sums. Gauges are `SET` (last writer wins) in one partition: they
//! are written once a minute by the health check. What a recorded event counts
//! is written by `record_event`, in the event's own transaction.
//!
//! In Lambda (`emf`), every observation is also printed as a CloudWatch Embedded
//! Metric Format line on stdout, which CloudWatch turns into metrics.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::metric_items::{
    DEFAULT_SHARDS, GAUGE_PK, UpdateRequest, print_emf, shard_pk, transact_updates,
};
use super::once::{once_put, once_taken, transact_once};
use crate::attr::{Item, condition_held, string};
use crate::describe;
use osa_app::ports::{ActivityFeed, Clock, MetricsStore, OpsStore, StateDoc, StoreError};
use osa_domain::activity::Activity;
use osa_domain::metrics::{Field, Number, Observation, Series, Snapshot, StoredCell, merged};

#[derive(Clone)]
pub struct DynamoMetrics {
    client: Client,
    table: Arc<str>,
    shards: u16,
    clock: Arc<dyn Clock>,
    emf: bool,
}

impl std::fmt::Debug for DynamoMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoMetrics")
            .field("table", &self.table)
            .field("shards", &self.shards)
            .field("emf", &self.emf)
            .finish_non_exhaustive()
    }
}

impl DynamoMetrics {
    pub fn new(client: Client, table: impl Into<Arc<str>>, clock: Arc<dyn Clock>) -> Self {
        DynamoMetrics {
            client,
            table: table.into(),
            shards: DEFAULT_SHARDS,
            clock,
            emf: false,
        }
    }

    pub fn with_shards(mut self, shards: u16) -> Self {
        self.shards = shards.max(1);
        self
    }

    /// Also print each observation as an EMF line (what the Lambdas do).
    pub fn with_emf(mut self, emf: bool) -> Self {
        self.emf = emf;
        self
    }

    async fn query_partition(&self, pk: String) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(self.table.as_ref())
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", string(pk.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| {
                    StoreError::Unavailable(format!("dynamodb {}", describe("Query", &e)))
                })?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }
}

#[async_trait]
impl MetricsStore for DynamoMetrics {
    /// Each write is a DynamoDB call: the API's statistics go every 10 s.
    fn batch_window(&self) -> std::time::Duration {
        std::time::Duration::from_secs(10)
    }

    async fn record_once(
        &self,
        key: &str,
        observations: &[Observation],
    ) -> Result<bool, StoreError> {
        let key = format!("metrics:{key}");
        if once_taken(&self.client, &self.table, &key).await? {
            return Ok(false);
        }
        let mut items = vec![once_put(&self.table, &key)?];
        items.extend(
            transact_updates(&merged(observations), &self.table, self.shards)?
                .into_iter()
                .map(|u| TransactWriteItem::builder().update(u).build()),
        );
        let applied = transact_once(&self.client, items).await?;
        if applied && self.emf {
            print_emf(observations, self.clock.now_ms());
        }
        Ok(applied)
    }

    async fn record(&self, observations: &[Observation]) -> Result<(), StoreError> {
        // One item update per series (cells of one series change together).
        let by_series = merged(observations);
        let mut tasks = tokio::task::JoinSet::new();
        for (series, cells) in &by_series {
            let request = UpdateRequest::of(series, cells, self.shards);
            let client = self.client.clone();
            let table = self.table.clone();
            tasks.spawn(async move {
                client
                    .update_item()
                    .table_name(table.as_ref())
                    .set_key(Some(request.key))
                    .update_expression(request.expression)
                    .set_expression_attribute_names(Some(request.names))
                    .set_expression_attribute_values(Some(request.values))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        StoreError::Unavailable(format!("dynamodb {}", describe("UpdateItem", &e)))
                    })
            });
        }
        let mut result = Ok(());
        while let Some(joined) = tasks.join_next().await {
            let outcome = joined
                .map_err(|e| StoreError::Unavailable(format!("metric update task: {e}")))
                .and_then(|r| r);
            if let Err(e) = outcome {
                result = Err(e);
            }
        }
        if self.emf {
            print_emf(observations, self.clock.now_ms());
        }
        result
    }

    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut tasks = tokio::task::JoinSet::new();
        let partitions = (0..self.shards)
            .map(shard_pk)
            .chain(std::iter::once(GAUGE_PK.to_owned()));
        for pk in partitions {
            let this = self.clone();
            tasks.spawn(async move { this.query_partition(pk).await });
        }
        let mut cells = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let items =
                joined.map_err(|e| StoreError::Unavailable(format!("metric read task: {e}")))??;
            for item in items {
                cells.extend(decode_item(&item)?);
            }
        }
        Ok(Snapshot::from_cells(cells))
    }
}

fn decode_item(item: &Item) -> Result<Vec<StoredCell>, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.as_str()),
        _ => Err(StoreError::Corrupt(format!("metric item without {name}"))),
    };
    let series = Series::from_stored(text("family")?, text("labels")?)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut cells = Vec::new();
    for (name, value) in item {
        let (Some(field), AttributeValue::N(v)) = (Field::parse(name), value) else {
            continue;
        };
        let value = Number::parse(v)
            .ok_or_else(|| StoreError::Corrupt(format!("metric value {v:?} of {name}")))?;
        cells.push(StoredCell {
            series: series.clone(),
            field,
            value,
        });
    }
    Ok(cells)
}

#[async_trait]
impl OpsStore for DynamoMetrics {
    async fn load_state(&self, name: &str) -> Result<Option<StateDoc>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table.as_ref())
            .key("pk", string(format!("OPS#{name}")))
            .key("sk", string("STATE"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!("dynamodb {}", describe("GetItem", &e)))
            })?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let version = match item.get("version") {
            Some(AttributeValue::N(v)) => v.parse::<i64>().ok(),
            _ => None,
        };
        let doc = match item.get("doc") {
            Some(AttributeValue::S(d)) => serde_json::from_str(d).ok(),
            _ => None,
        };
        match (version, doc) {
            (Some(version), Some(doc)) => Ok(Some(StateDoc { version, doc })),
            _ => Err(StoreError::Corrupt(format!("ops state {name}"))),
        }
    }

    async fn save_state(
        &self,
        name: &str,
        doc: &serde_json::Value,
        expected: Option<i64>,
    ) -> Result<bool, StoreError> {
        let next = expected.unwrap_or(0).saturating_add(1);
        let put = self
            .client
            .put_item()
            .table_name(self.table.as_ref())
            .item("pk", string(format!("OPS#{name}")))
            .item("sk", string("STATE"))
            .item("version", AttributeValue::N(next.to_string()))
            .item("doc", string(doc.to_string()));
        let put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        condition_held("PutItem", put.send().await)
    }
}

#[async_trait]
impl ActivityFeed for DynamoMetrics {
    async fn append_activity(&self, activity: &Activity) -> Result<u64, StoreError> {
        super::activity::append(&self.client, &self.table, activity, self.clock.now()).await
    }

    async fn append_activity_once(
        &self,
        key: &str,
        activity: &Activity,
    ) -> Result<Option<u64>, StoreError> {
        super::activity::append_once(
            &self.client,
            &self.table,
            &format!("activity:{key}"),
            activity,
            self.clock.now(),
        )
        .await
    }

    async fn activity_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Activity)>, StoreError> {
        super::activity::after(&self.client, &self.table, after, limit, self.clock.now()).await
    }

    async fn last_activity(&self) -> Result<u64, StoreError> {
        super::activity::last(&self.client, &self.table).await
    }
}
