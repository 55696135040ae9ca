//! The job queue over SQLite: one row per message, visible from `visible_at_ms`.

use super::*;

// ---- JobQueue ------------------------------------------------------------------

#[async_trait]
impl JobQueue for SqliteStore {
    async fn enqueue(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        let body = serde_json::to_string(job)
            .map_err(|e| QueueError::Corrupt(format!("encoding a job: {e}")))?;
        let id = uuid::Uuid::new_v4().to_string();
        let visible_at = self.inner.clock.now_ms().saturating_add(duration_ms(delay));
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO jobs (id, visible_at_ms, receive_count, receipt, body)
                 VALUES (?1, ?2, 0, NULL, ?3)",
            )
            .or_unavailable()?
            .execute(params![id, visible_at, body])
            .or_unavailable()?;
            Ok(())
        })
        .await
        .map_err(queue_error)
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        let now = self.inner.clock.now_ms();
        self.read(move |conn| {
            let n: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM jobs WHERE visible_at_ms <= ?1")
                .or_unavailable()?
                .query_row([now], |r| r.get(0))
                .or_unavailable()?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
        .map_err(queue_error)
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedJob>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let clock = Arc::clone(&self.inner.clock);
        let hide_for = duration_ms(visibility);
        self.write(move |conn| {
            let now = clock.now_ms();
            let due: Vec<(String, i64, String)> = {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT id, receive_count, body FROM jobs WHERE visible_at_ms <= ?1
                         ORDER BY visible_at_ms, rowid LIMIT ?2",
                    )
                    .or_unavailable()?;
                let rows = stmt
                    .query_map(params![now, sql_limit(max)], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .or_unavailable()?;
                rows.collect::<rusqlite::Result<_>>().or_unavailable()?
            };
            let mut update = conn
                .prepare_cached(
                    "UPDATE jobs SET receipt = ?2, receive_count = ?3, visible_at_ms = ?4
                     WHERE id = ?1",
                )
                .or_unavailable()?;
            let mut received = Vec::with_capacity(due.len());
            for (id, count, body) in due {
                let receipt = format!("{id}.{}", uuid::Uuid::new_v4().simple());
                let receive_count = count.saturating_add(1);
                update
                    .execute(params![
                        id,
                        receipt,
                        receive_count,
                        now.saturating_add(hide_for)
                    ])
                    .or_unavailable()?;
                match serde_json::from_str::<Job>(&body) {
                    Ok(job) => received.push(ReceivedJob {
                        receipt,
                        job,
                        receive_count: u32::try_from(receive_count).unwrap_or(u32::MAX),
                    }),
                    // An unreadable message must not wedge the queue: it stays hidden
                    // for the visibility timeout like any other, and is reported.
                    Err(e) => tracing::error!(job = %id, error = %e, "unreadable queued job"),
                }
            }
            Ok(received)
        })
        .await
        .map_err(queue_error)
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        // A receipt is `<job id>.<token>`: the delete is a key lookup, and a stale
        // receipt (the job was received again since) matches nothing.
        let Some((id, _)) = receipt.split_once('.') else {
            return Ok(());
        };
        let id = id.to_owned();
        let receipt = receipt.to_owned();
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM jobs WHERE id = ?1 AND receipt = ?2")
                .or_unavailable()?
                .execute(params![id, receipt])
                .or_unavailable()?;
            Ok(())
        })
        .await
        .map_err(queue_error)
    }
}
