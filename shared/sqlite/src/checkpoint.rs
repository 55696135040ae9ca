//! Checkpoints off the writer thread.
//!
//! SQLite's automatic checkpoint runs in the connection that commits: every
//! thousand log pages the writer would stop to copy the log into the database
//! file and fsync it, and every write queued behind it would wait (the tail of
//! the webhook latencies). Here the writer only notes how long the log has
//! grown; a thread of its own, on its own connection, copies the log back while
//! the writer goes on appending.

use std::ffi::c_int;
use std::path::Path;
use std::sync::mpsc;

use rusqlite::Connection;
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;

use super::{BUSY_TIMEOUT, SqliteResult, SqliteStore};
use osa_app::ports::StoreError;

impl SqliteStore {
    /// Copies the whole log into the database file and empties it, after the
    /// writes in progress. A process that stops calls it last, so its next
    /// start has no log to read.
    pub fn empty_log(path: &Path) -> Result<(), StoreError> {
        let conn = open_checkpointer(path)?;
        let (pages_left, _) = conn
            .wal_checkpoint_v2(None::<&str>, CheckpointMode::TRUNCATE)
            .or_unavailable()?;
        match pages_left {
            0 => Ok(()),
            n => Err(StoreError::Unavailable(format!(
                "{n} log pages are still in use"
            ))),
        }
    }
}

/// Log pages the writer appends between two wake-ups of the checkpointer
/// (SQLite's own automatic threshold). Waking it at every commit past the
/// threshold kept it copying each page as soon as it was written, and sorting
/// the log's index each time: 49 µs of CPU per webhook under load, 6 µs now,
/// with a hot page (a metric, the audit's tail) copied once per thousand
/// pages instead of once per commit. Every 500 or 2,000 pages measured worse.
const WAKE_AT_PAGES: c_int = 1000;

/// Log pages after which the writer checkpoints the rest itself. The log
/// starts over only once all of it is in the database file, which a checkpoint
/// running beside a writer that never pauses never quite reaches; this bounds
/// the log (~32 MB), and leaves the writer little to copy.
const WRITER_CHECKPOINT_AT_PAGES: c_int = 8000;

/// Hands `writer`'s checkpoints to a thread of their own, which stops when
/// `writer` is closed.
pub(super) fn hand_off(writer: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let checkpointer = open_checkpointer(path)?;
    // One wake-up pending at most: a busy writer's notes fold into one.
    let (wake, woken) = mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("osa-sqlite-checkpoint".into())
        .spawn(move || checkpoint_loop(&checkpointer, &woken))
        .map_err(|e| StoreError::Unavailable(format!("could not start the checkpointer: {e}")))?;
    // Replaces SQLite's automatic checkpoint (itself a log hook).
    let mut log = LogGrowth::default();
    writer
        .wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
            match log.committed(pages) {
                Next::WriterCopies => {
                    // The commit stands whatever this answers. Busy means the
                    // checkpointer is at it: the next commit tries again.
                    if let Err(e) = wal.checkpoint() {
                        tracing::debug!(error = %e, pages, "sqlite checkpoint on the writer deferred");
                    }
                }
                Next::WakeCheckpointer => {
                    let _ = wake.try_send(());
                }
                Next::Nothing => {}
            }
            Ok(())
        }))
        .or_unavailable()
}

/// What a commit that left the log `pages` long calls for.
#[derive(Debug, PartialEq)]
enum Next {
    Nothing,
    WakeCheckpointer,
    WriterCopies,
}

/// The log's length at the checkpointer's last wake-up.
#[derive(Default)]
struct LogGrowth {
    woken_at: c_int,
}

impl LogGrowth {
    fn committed(&mut self, pages: c_int) -> Next {
        if pages < self.woken_at {
            self.woken_at = 0; // the log started over
        }
        if pages >= WRITER_CHECKPOINT_AT_PAGES {
            Next::WriterCopies
        } else if pages - self.woken_at >= WAKE_AT_PAGES {
            self.woken_at = pages;
            Next::WakeCheckpointer
        } else {
            Next::Nothing
        }
    }
}

fn open_checkpointer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).or_unavailable()?;
    conn.busy_timeout(BUSY_TIMEOUT).or_unavailable()?;
    // A connection learns that the file is in WAL mode when it first reads it;
    // until then a checkpoint does nothing.
    conn.pragma_query_value(None, "journal_mode", |r| r.get::<_, String>(0))
        .or_unavailable()?;
    Ok(conn)
}

fn checkpoint_loop(conn: &Connection, woken: &mpsc::Receiver<()>) {
    // Ends when the writer's connection, which holds the sender, is closed.
    while woken.recv().is_ok() {
        if let Err(e) = conn.wal_checkpoint_v2(None::<&str>, Default::default()) {
            tracing::warn!(error = %e, "sqlite checkpoint failed; the log is copied back later");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpointer_is_woken_once_per_thousand_pages_and_the_writer_copies_at_the_bound() {
        let mut log = LogGrowth::default();
        let commits = [10, 999, 1000, 1001, 1500, 1999, 2003, 2500, 3100];
        let woken: Vec<_> = commits
            .iter()
            .filter(|&&pages| log.committed(pages) == Next::WakeCheckpointer)
            .collect();
        assert_eq!(
            woken,
            [&1000, &2003, &3100],
            "counted from the last wake-up"
        );
        // The log started over: counted from nothing again.
        assert_eq!(log.committed(40), Next::Nothing);
        assert_eq!(log.committed(1040), Next::WakeCheckpointer);
        assert_eq!(
            log.committed(WRITER_CHECKPOINT_AT_PAGES),
            Next::WriterCopies
        );
        assert_eq!(
            log.committed(WRITER_CHECKPOINT_AT_PAGES + 3),
            Next::WriterCopies
        );
    }
}
