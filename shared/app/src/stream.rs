//! The live stream of one workflow: its current view, then every change from its
//! history after a cursor, a heartbeat when quiet, until its last change.
//!
//! The history is stored with the workflow, so a stream needs nothing but the
//! workflow store: the embedded store hands each committed workflow to the
//! streams (nothing polls, nothing is read again however many follow it);
//! DynamoDB cannot, so there the stream re-reads the workflow (one `GetItem`)
//! every `poll`, and ends at its `budget` for the client to resume.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use super::Services;
use super::status::WorkflowView;
use crate::ports::{StoreChange, StoreError};
use osa_domain::history::StreamEvent;
use osa_domain::workflow::Workflow;

/// The fastest a stream re-reads or beats, whatever the settings say.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("no workflow {0}")]
    NotFound(String),
    #[error("Last-Event-ID {given} is past this workflow's last event ({last})")]
    UnknownCursor { given: u64, last: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `?workflow_id=`: the original system's path to a workflow's stream.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct StreamQuery {
    pub workflow_id: osa_domain::WorkflowId,
}

/// A stream that may start: the workflow exists and the cursor is one of its.
pub struct Follow {
    services: Services,
    workflow: Arc<Workflow>,
    /// The view the stream opens with (`None` when it resumes).
    opening: Option<WorkflowView>,
    cursor: u64,
    changes: Option<broadcast::Receiver<StoreChange>>,
}

/// Checks that the stream can start, before its response does: errors here are
/// ordinary JSON answers. `resume_after` is the client's `Last-Event-ID`.
pub async fn open(
    services: &Services,
    workflow_id: &str,
    resume_after: Option<u64>,
) -> Result<Follow, StreamError> {
    // Listen first, so that no change between the read and the wait goes unseen.
    let changes = services.changes.as_ref().map(|c| c.subscribe());
    let workflow = services
        .store
        .get_workflow(workflow_id)
        .await?
        .ok_or_else(|| StreamError::NotFound(workflow_id.to_owned()))?;
    let last = workflow.history_cursor();
    let (cursor, opening) = match resume_after {
        Some(given) if given > last => return Err(StreamError::UnknownCursor { given, last }),
        Some(given) => (given, None),
        None => {
            // Read after the workflow, so the view is at least as new as the
            // cursor: a change may show twice, never not at all.
            let (agents, results) = tokio::try_join!(
                services.store.get_agents(workflow_id),
                services.store.get_results(workflow_id),
            )?;
            let view = WorkflowView::new(workflow.clone(), agents, results);
            (last, Some(view))
        }
    };
    Ok(Follow {
        services: services.clone(),
        workflow: Arc::new(workflow),
        opening,
        cursor,
        changes,
    })
}

impl Follow {
    /// Sends the stream's events to `out` until the workflow's last change, the
    /// stream's budget, a failure (an `error` event) or the receiver going away.
    pub async fn run(mut self, out: mpsc::Sender<StreamEvent>) {
        let Pace {
            heartbeat,
            poll,
            ends_at,
        } = Pace::of(&self.services);

        if let Some(view) = self.opening.take() {
            let data = serde_json::to_value(&view).unwrap_or_default();
            if !send(&out, self.event("connection", data)).await {
                return;
            }
        }
        if !self.send_new(&out).await {
            return;
        }
        let mut next_beat = Instant::now() + heartbeat;
        while !self.workflow.stream_done(self.cursor) {
            let wake = tokio::select! {
                () = out.closed() => return,
                () = sleep_until_opt(ends_at) => return,
                () = tokio::time::sleep_until(next_beat) => Wake::Beat,
                changed = self.changed(poll) => changed,
            };
            match wake {
                Wake::Beat => {
                    next_beat = Instant::now() + heartbeat;
                    if !send(&out, self.event("heartbeat", now(&self.services))).await {
                        return;
                    }
                }
                Wake::Written(workflow) => {
                    if workflow.version() > self.workflow.version() {
                        self.workflow = workflow;
                        if !self.send_new(&out).await {
                            return;
                        }
                    }
                }
                Wake::Erased => {
                    send(&out, self.erased()).await;
                    return;
                }
                Wake::Reread => match self.services.store.get_workflow(self.workflow.id()).await {
                    Ok(Some(workflow)) => {
                        self.workflow = Arc::new(workflow);
                        if !self.send_new(&out).await {
                            return;
                        }
                    }
                    Ok(None) => {
                        send(&out, self.erased()).await;
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(workflow_id = %self.workflow.id(), error = %e, "stream could not read its workflow");
                        let data = unavailable();
                        send(&out, self.event("error", data)).await;
                        return;
                    }
                },
                Wake::Nothing => {}
            }
        }
    }

    /// An event at the current cursor (the connection, a heartbeat, an error):
    /// a client that resumes from it misses nothing.
    fn event(&self, name: &'static str, data: serde_json::Value) -> StreamEvent {
        StreamEvent {
            id: self.cursor,
            name,
            data,
        }
    }

    fn erased(&self) -> StreamEvent {
        let data = failure("not_found", "the workflow was erased");
        self.event("error", data)
    }

    /// Sends the changes after the cursor; false once the receiver is gone.
    async fn send_new(&mut self, out: &mpsc::Sender<StreamEvent>) -> bool {
        let events: Vec<StreamEvent> = self.workflow.events_after(self.cursor).collect();
        for event in events {
            self.cursor = event.id;
            if !send(out, event).await {
                return false;
            }
        }
        true
    }

    /// Waits until this workflow may have changed.
    async fn changed(&mut self, poll: Duration) -> Wake {
        let Some(changes) = self.changes.as_mut() else {
            tokio::time::sleep(poll).await;
            return Wake::Reread;
        };
        match changes.recv().await {
            Ok(StoreChange::Written(w)) if w.id() == self.workflow.id() => Wake::Written(w),
            Ok(StoreChange::Erased(id)) if *id == *self.workflow.id() => Wake::Erased,
            Ok(_) => Wake::Nothing,
            // Fell behind: some of those may have been this workflow's.
            Err(broadcast::error::RecvError::Lagged(_)) => Wake::Reread,
            Err(broadcast::error::RecvError::Closed) => {
                self.changes = None;
                Wake::Reread
            }
        }
    }
}

/// How a stream paces itself, from the settings.
struct Pace {
    heartbeat: Duration,
    poll: Duration,
    ends_at: Option<Instant>,
}

impl Pace {
    fn of(services: &Services) -> Pace {
        let settings = services.config.stream;
        Pace {
            heartbeat: settings.heartbeat.max(MIN_INTERVAL),
            poll: settings.poll.max(MIN_INTERVAL),
            ends_at: settings.budget.map(|b| Instant::now() + b),
        }
    }
}

/// A heartbeat's data: the time (and, opening the activity feed, its cursor).
#[derive(Serialize)]
struct Beat {
    at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_event_id: Option<u64>,
}

/// An `error` event's data.
#[derive(Serialize)]
struct Failure {
    code: &'static str,
    message: &'static str,
}

fn now(services: &Services) -> serde_json::Value {
    beat(services, None)
}

fn beat(services: &Services, last_event_id: Option<u64>) -> serde_json::Value {
    let at = osa_domain::rfc3339(services.clock.now());
    serde_json::to_value(Beat { at, last_event_id }).unwrap_or_default()
}

fn failure(code: &'static str, message: &'static str) -> serde_json::Value {
    serde_json::to_value(Failure { code, message }).unwrap_or_default()
}

/// An `error` event's data when the store failed.
fn unavailable() -> serde_json::Value {
    failure(
        "unavailable",
        "the store is unavailable; reconnect to resume",
    )
}

enum Wake {
    Beat,
    /// The workflow as a write committed it.
    Written(Arc<Workflow>),
    Erased,
    /// Read the workflow again: no feed, or fell behind it.
    Reread,
    Nothing,
}

async fn send(out: &mpsc::Sender<StreamEvent>, event: StreamEvent) -> bool {
    out.send(event).await.is_ok()
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The operators' stream: every activity of the system after a cursor
/// (workflows created and finished, webhooks rejected, deliveries
/// dead-lettered, alerts fired and resolved), a heartbeat when quiet. It ends
/// only at its budget.
pub struct FollowActivity {
    services: Services,
    cursor: u64,
    /// A new stream (not a resume): it opens with a `connection` event.
    fresh: bool,
    changes: Option<broadcast::Receiver<StoreChange>>,
}

/// Activities read at once.
const ACTIVITY_PAGE: usize = 100;

/// Checks that the operators' stream can start; `resume_after` is the client's
/// `Last-Event-ID`.
pub async fn open_activity(
    services: &Services,
    resume_after: Option<u64>,
) -> Result<FollowActivity, StreamError> {
    let changes = services.changes.as_ref().map(|c| c.subscribe());
    let last = services.activity.last_activity().await?;
    let cursor = match resume_after {
        Some(given) if given > last => return Err(StreamError::UnknownCursor { given, last }),
        Some(given) => given,
        None => last,
    };
    Ok(FollowActivity {
        services: services.clone(),
        cursor,
        fresh: resume_after.is_none(),
        changes,
    })
}

impl FollowActivity {
    /// Sends activities to `out` until the budget, a failure (an `error`
    /// event) or the receiver going away.
    pub async fn run(mut self, out: mpsc::Sender<StreamEvent>) {
        let Pace {
            heartbeat,
            poll,
            ends_at,
        } = Pace::of(&self.services);
        if self.fresh {
            let data = beat(&self.services, Some(self.cursor));
            if !send(&out, self.event("connection", data)).await {
                return;
            }
        }
        let mut next_beat = Instant::now() + heartbeat;
        loop {
            match self.send_new(&out).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "activity stream could not read the feed");
                    let data = unavailable();
                    send(&out, self.event("error", data)).await;
                    return;
                }
            }
            loop {
                let wake = tokio::select! {
                    () = out.closed() => return,
                    () = sleep_until_opt(ends_at) => return,
                    () = tokio::time::sleep_until(next_beat) => None,
                    more = self.changed(poll) => Some(more),
                };
                match wake {
                    None => {
                        next_beat = Instant::now() + heartbeat;
                        if !send(&out, self.event("heartbeat", now(&self.services))).await {
                            return;
                        }
                    }
                    Some(true) => break,
                    Some(false) => {}
                }
            }
        }
    }

    fn event(&self, name: &'static str, data: serde_json::Value) -> StreamEvent {
        StreamEvent {
            id: self.cursor,
            name,
            data,
        }
    }

    /// Sends every activity after the cursor; false once the receiver is gone.
    async fn send_new(&mut self, out: &mpsc::Sender<StreamEvent>) -> Result<bool, StoreError> {
        loop {
            let page = self
                .services
                .activity
                .activity_after(self.cursor, ACTIVITY_PAGE)
                .await?;
            let full = page.len() == ACTIVITY_PAGE;
            for (seq, activity) in page {
                self.cursor = seq;
                let event = StreamEvent {
                    id: seq,
                    name: activity.name(),
                    data: activity.data(),
                };
                if !send(out, event).await {
                    return Ok(false);
                }
            }
            if !full {
                return Ok(true);
            }
        }
    }

    /// Waits until there may be more activity: true to read it.
    async fn changed(&mut self, poll: Duration) -> bool {
        let Some(changes) = self.changes.as_mut() else {
            tokio::time::sleep(poll).await;
            return true;
        };
        match changes.recv().await {
            Ok(StoreChange::Activity(seq)) => seq > self.cursor,
            Ok(_) => false,
            Err(broadcast::error::RecvError::Lagged(_)) => true,
            Err(broadcast::error::RecvError::Closed) => {
                self.changes = None;
                true
            }
        }
    }
}
