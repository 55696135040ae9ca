//! `DeliveryStore` over the embedded SQLite store: one row per delivery (its JSON
//! `doc` and an optimistic `version`), a partial index of the dead-lettered ones by
//! when they were dead-lettered, and one counter row per delivery kind.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::{SqliteResult, SqliteStore, query_docs, sql_limit, to_ms};
use osa_app::ports::{DeliveryStore, StoreError};
use osa_domain::delivery::{Delivery, DeliveryStatus};

/// Created with the rest of the schema (`CREATE ... IF NOT EXISTS`, so an older
/// database gains the tables when it is opened).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    id                  TEXT    NOT NULL PRIMARY KEY,
    version             INTEGER NOT NULL,
    dead_lettered_at_ms INTEGER,
    doc                 TEXT    NOT NULL,
    due_at_ms           INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_dead_lettered
    ON deliveries (dead_lettered_at_ms, id) WHERE dead_lettered_at_ms IS NOT NULL;
";

/// Schema version 2 added when a pending delivery's next attempt is due.
pub(crate) const DUE_INDEX: &str = "
CREATE INDEX IF NOT EXISTS deliveries_due
    ON deliveries (due_at_ms, id) WHERE due_at_ms IS NOT NULL;";

/// Attempts of `update_delivery`'s compare-and-set before giving up.
const MAX_UPDATE_ATTEMPTS: usize = 64;

const LIST_DEAD_LETTERED: &str = "SELECT doc FROM deliveries WHERE dead_lettered_at_ms IS NOT NULL
     ORDER BY dead_lettered_at_ms DESC, id DESC LIMIT ?1";

const LIST_DEAD_LETTERED_BETWEEN: &str = "SELECT doc FROM deliveries
     WHERE dead_lettered_at_ms BETWEEN ?1 AND ?2 ORDER BY dead_lettered_at_ms, id LIMIT ?3";

fn encode(d: &Delivery) -> Result<String, StoreError> {
    serde_json::to_string(d).map_err(|e| StoreError::Corrupt(format!("encoding: {e}")))
}

fn decode(doc: &str) -> Result<Delivery, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("delivery: {e}")))
}

/// The index column: when the delivery was dead-lettered, while it is.
fn dead_lettered_at_ms(d: &Delivery) -> Option<i64> {
    match &d.status {
        DeliveryStatus::DeadLettered { at, .. } => {
            Some(i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
        }
        _ => None,
    }
}

/// The index column: when a pending delivery's next attempt is due.
fn due_at_ms(d: &Delivery) -> Option<i64> {
    d.next_attempt_due_at()
        .map(|at| i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
}

const LIST_OVERDUE: &str =
    "SELECT doc FROM deliveries WHERE due_at_ms IS NOT NULL AND due_at_ms < ?1
     ORDER BY due_at_ms, id LIMIT ?2";

fn load(conn: &Connection, id: &str) -> Result<Option<(Delivery, i64)>, StoreError> {
    let row: Option<(String, i64)> = conn
        .prepare_cached("SELECT doc, version FROM deliveries WHERE id = ?1")
        .or_unavailable()?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .or_unavailable()?;
    row.map(|(doc, version)| Ok((decode(&doc)?, version)))
        .transpose()
}

/// What a write of a delivery conditioned on its version found.
enum DeliveryWrite {
    Missing,
    Saved,
    /// Someone else saved first: what they saved, and its version.
    Stale(Box<Delivery>, i64),
}

#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn create_delivery(&self, delivery: &Delivery) -> Result<bool, StoreError> {
        let id = delivery.id.to_string();
        let dead = dead_lettered_at_ms(delivery);
        let due = due_at_ms(delivery);
        let doc = encode(delivery)?;
        self.write(move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO deliveries (id, version, dead_lettered_at_ms, doc, due_at_ms)
                     VALUES (?1, 1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
                )
                .or_unavailable()?
                .execute(params![id, dead, doc, due])
                .or_unavailable()?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn get_delivery(&self, id: Uuid) -> Result<Option<Delivery>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| Ok(load(conn, &id)?.map(|(d, _)| d)))
            .await
    }

    async fn overdue(
        &self,
        due_before: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let before = i64::try_from(due_before.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            query_docs(conn, LIST_OVERDUE, params![before, limit])?
                .iter()
                .map(|doc| decode(doc))
                .collect()
        })
        .await
    }

    async fn erase_delivery(&self, id: Uuid) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.write(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM deliveries WHERE id = ?1")
                .or_unavailable()?
                .execute([id])
                .or_unavailable()?;
            Ok(n > 0)
        })
        .await
    }

    async fn update_delivery(
        &self,
        id: Uuid,
        change: &(dyn for<'d> Fn(&'d mut Delivery) -> bool + Send + Sync),
    ) -> Result<Option<Delivery>, StoreError> {
        let key = id.to_string();
        let read_key = key.clone();
        let Some((mut current, mut version)) = self.read(move |conn| load(conn, &read_key)).await?
        else {
            return Ok(None);
        };
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let mut next = current.clone();
            if !change(&mut next) {
                return Ok(Some(current));
            }
            let dead = dead_lettered_at_ms(&next);
            let due = due_at_ms(&next);
            let doc = encode(&next)?;
            let key = key.clone();
            let expected = version;
            let outcome = self
                .write(move |conn| {
                    let updated = conn
                        .prepare_cached(
                            "UPDATE deliveries SET version = ?3, dead_lettered_at_ms = ?4, doc = ?5,
                             due_at_ms = ?6 WHERE id = ?1 AND version = ?2",
                        )
                        .or_unavailable()?
                        .execute(params![key, expected, expected + 1, dead, doc, due])
                        .or_unavailable()?;
                    if updated == 1 {
                        return Ok(DeliveryWrite::Saved);
                    }
                    Ok(match load(conn, &key)? {
                        None => DeliveryWrite::Missing,
                        Some((stored, v)) => DeliveryWrite::Stale(Box::new(stored), v),
                    })
                })
                .await?;
            match outcome {
                DeliveryWrite::Saved => return Ok(Some(next)),
                DeliveryWrite::Missing => return Ok(None),
                DeliveryWrite::Stale(stored, v) => {
                    current = *stored;
                    version = v;
                }
            }
        }
        Err(StoreError::Unavailable(format!(
            "delivery {id} kept changing; gave up after {MAX_UPDATE_ATTEMPTS} attempts"
        )))
    }

    async fn dead_lettered_between(
        &self,
        since: time::OffsetDateTime,
        until: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (since, until) = (to_ms(since), to_ms(until));
        let limit = sql_limit(limit);
        self.read(move |conn| {
            query_docs(
                conn,
                LIST_DEAD_LETTERED_BETWEEN,
                params![since, until, limit],
            )?
            .iter()
            .map(|doc| decode(doc))
            .collect()
        })
        .await
    }

    async fn dead_lettered(&self, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            query_docs(conn, LIST_DEAD_LETTERED, [limit])?
                .iter()
                .map(|doc| decode(doc))
                .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use osa_app::ports::Clock;
    use osa_testkit::ManualClock;

    /// Every statement is a key lookup or an index range: no scan, no sort.
    #[tokio::test]
    async fn no_delivery_statement_scans_a_table() {
        let dir = std::env::temp_dir().join(format!(
            "osa-deliveries-plans-{}-{}",
            std::process::id(),
            Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(time::OffsetDateTime::UNIX_EPOCH));
        let store = SqliteStore::open(&dir.join("osa.db"), clock).expect("open");
        let statements = [
            "SELECT doc, version FROM deliveries WHERE id = ?1",
            "UPDATE deliveries SET version = ?3, dead_lettered_at_ms = ?4, doc = ?5,
             due_at_ms = ?6 WHERE id = ?1 AND version = ?2",
            LIST_DEAD_LETTERED,
            LIST_DEAD_LETTERED_BETWEEN,
            LIST_OVERDUE,
        ];
        let plans = store
            .read(move |conn| {
                let mut plans = Vec::new();
                for sql in statements {
                    let params = (1..=9).filter(|i| sql.contains(&format!("?{i}"))).count();
                    let mut stmt = conn
                        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                        .or_unavailable()?;
                    let plan: Vec<String> = stmt
                        .query_map(
                            rusqlite::params_from_iter(std::iter::repeat_n(
                                rusqlite::types::Null,
                                params,
                            )),
                            |r| r.get::<_, String>(3),
                        )
                        .or_unavailable()?
                        .collect::<Result<_, _>>()
                        .or_unavailable()?;
                    plans.push((sql, plan));
                }
                Ok(plans)
            })
            .await
            .expect("plans");
        for (sql, plan) in plans {
            for step in &plan {
                let bare_scan = step.starts_with("SCAN") && !step.contains(" USING ");
                assert!(
                    !bare_scan && !step.contains("TEMP B-TREE"),
                    "{sql}\n  plan: {plan:?}"
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
