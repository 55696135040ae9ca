//! The outbox over SQLite: items written by the workflow writes in their own
//! savepoint (so in the change's transaction), kept once relayed (with the
//! time they were), and the once-keys that make a relay's counts and activity
//! happen once however often it runs.

use async_trait::async_trait;
use rusqlite::{Connection, params};

use super::{SqliteResult, SqliteStore, query_docs, sql_limit, to_ms};
use osa_app::codec::{decode, encode};
use osa_app::ports::{Outbox, OutboxItem, StoreError};

/// Created with the store's schema (see `sqlite::migrate`).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT    NOT NULL UNIQUE,
    workflow_id   TEXT    NOT NULL,
    at_ms         INTEGER NOT NULL,
    relayed_at_ms INTEGER,
    doc           TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE relayed_at_ms IS NULL;
CREATE INDEX IF NOT EXISTS outbox_by_workflow ON outbox (workflow_id, seq);
CREATE INDEX IF NOT EXISTS outbox_by_time ON outbox (at_ms, seq);

CREATE TABLE IF NOT EXISTS once_keys (
    key TEXT NOT NULL PRIMARY KEY
) WITHOUT ROWID;
";

/// Writes `items` inside the caller's savepoint, with the change that raised
/// them. An id already written (the same write, repeated) is kept as it was.
pub(crate) fn write_items(conn: &Connection, items: &[OutboxItem]) -> Result<(), StoreError> {
    if items.is_empty() {
        return Ok(());
    }
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO outbox (id, workflow_id, at_ms, doc) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO NOTHING",
        )
        .or_unavailable()?;
    for item in items {
        stmt.execute(params![
            item.id,
            item.workflow_id(),
            to_ms(item.at()),
            encode(item)?
        ])
        .or_unavailable()?;
    }
    Ok(())
}

/// Takes `key` inside the caller's savepoint: true the first time only.
pub(crate) fn claim_once(conn: &Connection, key: &str) -> Result<bool, StoreError> {
    let inserted = conn
        .prepare_cached("INSERT INTO once_keys (key) VALUES (?1) ON CONFLICT DO NOTHING")
        .or_unavailable()?
        .execute([key])
        .or_unavailable()?;
    Ok(inserted == 1)
}

#[async_trait]
impl Outbox for SqliteStore {
    async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        self.read(move |conn| {
            query_docs(
                conn,
                "SELECT doc FROM outbox WHERE relayed_at_ms IS NULL ORDER BY seq LIMIT ?1",
                [sql_limit(limit)],
            )?
            .iter()
            .map(|doc| decode("outbox item", doc))
            .collect()
        })
        .await
    }

    async fn workflow_outbox(&self, workflow_id: &str) -> Result<Vec<OutboxItem>, StoreError> {
        let id = workflow_id.to_owned();
        self.read(move |conn| {
            query_docs(
                conn,
                "SELECT doc FROM outbox WHERE workflow_id = ?1 ORDER BY seq",
                [id],
            )?
            .iter()
            .map(|doc| decode("outbox item", doc))
            .collect()
        })
        .await
    }

    async fn outbox_between(
        &self,
        since: time::OffsetDateTime,
        until: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let (since, until) = (to_ms(since), to_ms(until));
        let limit = sql_limit(limit);
        self.read(move |conn| {
            query_docs(
                conn,
                "SELECT doc FROM outbox WHERE at_ms BETWEEN ?1 AND ?2 ORDER BY at_ms, seq LIMIT ?3",
                params![since, until, limit],
            )?
            .iter()
            .map(|doc| decode("outbox item", doc))
            .collect()
        })
        .await
    }

    async fn outbox_done(&self, item: &OutboxItem) -> Result<(), StoreError> {
        let id = item.id.clone();
        let now = to_ms(self.inner.clock.now());
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE outbox SET relayed_at_ms = ?2 WHERE id = ?1 AND relayed_at_ms IS NULL",
            )
            .or_unavailable()?
            .execute(params![id, now])
            .or_unavailable()?;
            Ok(())
        })
        .await
    }
}
