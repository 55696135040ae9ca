//! `MetricsStore` and `OpsStore` over the embedded SQLite store.
//!
//! One row per cell (series + field). An increment is an upsert
//! `INSERT ... ON CONFLICT DO UPDATE SET v = v + excluded.v` run on the store's
//! writer thread, so concurrent increments are serialised by the group-commit
//! writer and never lost; one process owns the file, so no sharding is needed.
//! `v` has no declared type: integer counts stay exact 64-bit integers, sums stay
//! reals.

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{Connection, params};

use super::outbox::claim_once;
use super::{SqliteResult, SqliteStore, sql_limit};
use osa_app::codec::{decode, encode};
use osa_app::ports::{ActivityFeed, MetricsStore, OpsStore, StateDoc, StoreChange, StoreError};
use osa_domain::activity::Activity;
use osa_domain::metrics::{
    CellUpdate, Field, Number, Observation, Op, Series, Snapshot, StoredCell,
};

/// Created with the store's schema (see `sqlite::migrate`).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS metric_cells (
    family TEXT NOT NULL,
    labels TEXT NOT NULL,
    field  TEXT NOT NULL,
    v      NOT NULL,
    PRIMARY KEY (family, labels, field)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS ops_state (
    name    TEXT    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL,
    doc     TEXT    NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS activity (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc TEXT NOT NULL
);
";

/// Activities kept: older ones go as new ones come.
const ACTIVITY_KEPT: i64 = 10_000;

#[async_trait]
impl MetricsStore for SqliteStore {
    async fn record(&self, observations: &[Observation]) -> Result<(), StoreError> {
        let updates: Vec<_> = observations.iter().flat_map(Observation::updates).collect();
        if updates.is_empty() {
            return Ok(());
        }
        self.write(move |conn| write_cells(conn, &updates)).await
    }

    async fn record_once(
        &self,
        key: &str,
        observations: &[Observation],
    ) -> Result<bool, StoreError> {
        let updates: Vec<_> = observations.iter().flat_map(Observation::updates).collect();
        let key = format!("metrics:{key}");
        self.write(move |conn| {
            if !claim_once(conn, &key)? {
                return Ok(false);
            }
            write_cells(conn, &updates)?;
            Ok(true)
        })
        .await
    }

    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let cells = self
            .read(|conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT family, labels, field, v FROM metric_cells")
                    .or_unavailable()?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, Value>(3)?,
                        ))
                    })
                    .or_unavailable()?;
                let mut cells = Vec::new();
                for row in rows {
                    let (family, labels, field, v) = row.or_unavailable()?;
                    cells.push(decode_cell(&family, &labels, &field, v)?);
                }
                Ok(cells)
            })
            .await?;
        Ok(Snapshot::from_cells(cells))
    }
}

/// Applies cell updates on the writer, inside the caller's savepoint: the
/// metrics store's own writes, and `record_event`'s counts with its event.
pub(super) fn write_cells(conn: &Connection, updates: &[CellUpdate]) -> Result<(), StoreError> {
    let mut add = conn
        .prepare_cached(
            "INSERT INTO metric_cells (family, labels, field, v) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (family, labels, field) DO UPDATE SET v = v + excluded.v",
        )
        .or_unavailable()?;
    for u in updates {
        let Op::Add(n) = u.op else { continue };
        add.execute(params![
            u.series.family().name(),
            u.series.labels_json(),
            u.field.name(),
            sql_number(n)
        ])
        .or_unavailable()?;
    }
    let mut set = conn
        .prepare_cached(
            "INSERT INTO metric_cells (family, labels, field, v) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (family, labels, field) DO UPDATE SET v = excluded.v",
        )
        .or_unavailable()?;
    for u in updates {
        if let Op::Set(f) = u.op {
            set.execute(params![
                u.series.family().name(),
                u.series.labels_json(),
                u.field.name(),
                sql_number(Number::Float(f))
            ])
            .or_unavailable()?;
        }
    }
    Ok(())
}

fn sql_number(n: Number) -> Value {
    match n {
        Number::Int(i) => Value::Integer(i),
        Number::Float(f) => Value::Real(f),
    }
}

fn decode_cell(
    family: &str,
    labels: &str,
    field: &str,
    v: Value,
) -> Result<StoredCell, StoreError> {
    let series =
        Series::from_stored(family, labels).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let field = Field::parse(field)
        .ok_or_else(|| StoreError::Corrupt(format!("metric field {field:?} of {family}")))?;
    let value = match v {
        Value::Integer(i) => Number::Int(i),
        Value::Real(f) => Number::Float(f),
        other => {
            return Err(StoreError::Corrupt(format!(
                "metric value {other:?} of {family}"
            )));
        }
    };
    Ok(StoredCell {
        series,
        field,
        value,
    })
}

#[async_trait]
impl OpsStore for SqliteStore {
    async fn load_state(&self, name: &str) -> Result<Option<StateDoc>, StoreError> {
        let name = name.to_owned();
        self.read(move |conn| {
            let row: Option<(i64, String)> = rusqlite::OptionalExtension::optional(
                conn.prepare_cached("SELECT version, doc FROM ops_state WHERE name = ?1")
                    .or_unavailable()?
                    .query_row([&name], |r| Ok((r.get(0)?, r.get(1)?))),
            )
            .or_unavailable()?;
            row.map(|(version, doc)| {
                serde_json::from_str(&doc)
                    .map(|doc| StateDoc { version, doc })
                    .map_err(|e| StoreError::Corrupt(format!("ops state {name}: {e}")))
            })
            .transpose()
        })
        .await
    }

    async fn save_state(
        &self,
        name: &str,
        doc: &serde_json::Value,
        expected: Option<i64>,
    ) -> Result<bool, StoreError> {
        let name = name.to_owned();
        let doc = doc.to_string();
        self.write(move |conn| {
            let changed = match expected {
                None => conn
                    .prepare_cached(
                        "INSERT INTO ops_state (name, version, doc) VALUES (?1, 1, ?2)
                         ON CONFLICT (name) DO NOTHING",
                    )
                    .or_unavailable()?
                    .execute(params![name, doc])
                    .or_unavailable()?,
                Some(v) => conn
                    .prepare_cached(
                        "UPDATE ops_state SET version = ?2 + 1, doc = ?3
                         WHERE name = ?1 AND version = ?2",
                    )
                    .or_unavailable()?
                    .execute(params![name, v, doc])
                    .or_unavailable()?,
            };
            Ok(changed == 1)
        })
        .await
    }
}

/// Appends one activity (its document) on the writer; its number.
fn insert_activity(conn: &Connection, doc: &str) -> Result<u64, StoreError> {
    conn.prepare_cached("INSERT INTO activity (doc) VALUES (?1)")
        .or_unavailable()?
        .execute([doc])
        .or_unavailable()?;
    let seq = conn.last_insert_rowid();
    conn.prepare_cached("DELETE FROM activity WHERE seq <= ?1")
        .or_unavailable()?
        .execute([seq - ACTIVITY_KEPT])
        .or_unavailable()?;
    Ok(u64::try_from(seq).unwrap_or_default())
}

#[async_trait]
impl ActivityFeed for SqliteStore {
    async fn append_activity(&self, activity: &Activity) -> Result<u64, StoreError> {
        let doc = encode(activity)?;
        let seq = self.write(move |conn| insert_activity(conn, &doc)).await?;
        self.tell(|| StoreChange::Activity(seq));
        Ok(seq)
    }

    async fn append_activity_once(
        &self,
        key: &str,
        activity: &Activity,
    ) -> Result<Option<u64>, StoreError> {
        let doc = encode(activity)?;
        let key = format!("activity:{key}");
        let seq = self
            .write(move |conn| {
                if !claim_once(conn, &key)? {
                    return Ok(None);
                }
                insert_activity(conn, &doc).map(Some)
            })
            .await?;
        if let Some(seq) = seq {
            self.tell(|| StoreChange::Activity(seq));
        }
        Ok(seq)
    }

    async fn activity_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Activity)>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, doc FROM activity WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .or_unavailable()?;
            let rows = stmt
                .query_map(params![after, sql_limit(limit)], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .or_unavailable()?;
            let mut activities = Vec::new();
            for row in rows {
                let (seq, doc) = row.or_unavailable()?;
                let seq = u64::try_from(seq).unwrap_or_default();
                activities.push((seq, decode("activity", &doc)?));
            }
            Ok(activities)
        })
        .await
    }

    async fn last_activity(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            let seq: i64 = conn
                .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM activity")
                .or_unavailable()?
                .query_row([], |r| r.get(0))
                .or_unavailable()?;
            Ok(u64::try_from(seq).unwrap_or_default())
        })
        .await
    }
}
