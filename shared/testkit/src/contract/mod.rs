//! The adapter contract: one suite every `WorkflowStore` and `JobQueue` adapter must
//! pass, so the embedded and the AWS adapters cannot drift apart.
//!
//! Each suite takes one adapter instance and the `ManualClock` it was built with. Every
//! case uses fresh unique ids, so one instance serves all cases, and a store that
//! already holds data (say, a long-lived local endpoint) does not upset them. The
//! queue cases drain whatever is visible first and ack what they receive.
//!
//! A queue on real time (SQS) cannot have its clock moved: `queue_suite_in` takes a
//! [`TimeTravel`] instead, which for the `ManualClock` moves it exactly as the cases
//! say and for real time runs the same cases on a shortened time line, polling
//! within deadlines.
//!
//! Precision the contract relies on: instants round-trip exactly inside documents;
//! markers keep milliseconds.

use std::sync::Arc;

use crate::clock::ManualClock;
use osa_app::ports::{AuditLog, JobQueue, MetricsStore, WorkflowStore};

/// What the store contract holds an adapter to: the workflow store and its
/// audit trails, which every store keeps in one place (an event and its audit
/// entry are written together).
pub trait StoreUnderTest: WorkflowStore + AuditLog {}

impl<T: WorkflowStore + AuditLog + ?Sized> StoreUnderTest for T {}

pub type Store = Arc<dyn StoreUnderTest>;
pub type Queue = Arc<dyn JobQueue>;

mod counts;
mod deliveries;
mod fixtures;
mod outbox;
mod queue;
mod store;
mod time_travel;

pub use counts::*;
pub use deliveries::*;
pub use fixtures::*;
pub use outbox::*;
pub use queue::*;
pub use store::*;
pub use time_travel::*;

// ---- suites ----------------------------------------------------------------------

/// Every `WorkflowStore` case, one after another.
pub async fn store_suite(store: Store, clock: Arc<ManualClock>) {
    macro_rules! case {
        ($name:ident) => {
            eprintln!("store contract: {}", stringify!($name));
            $name(&store, &clock).await;
        };
    }
    case!(create_once_then_existing);
    case!(unknown_ids_find_nothing);
    case!(agents_come_in_catalogue_order);
    case!(accepted_events_move_agent_and_workflow);
    case!(a_duplicate_changes_nothing_and_is_audited);
    case!(an_unknown_workflow_is_audited);
    case!(terminal_agents_stay_terminal);
    case!(all_completed_completes_the_workflow);
    case!(some_completed_is_partial);
    case!(none_completed_is_failed);
    case!(audit_keeps_every_attempt_in_order);
    case!(recent_workflows_are_newest_first);
    case!(workflows_are_listed_filtered_and_paged);
    case!(markers_only_move_forward);
    case!(concurrent_writers_record_each_event_once);
    case!(update_workflow_reads_modifies_writes);
    case!(erasure_leaves_nothing_behind);
    case!(the_admin_audit_trail_keeps_every_action);
    case!(audit_listings_page_with_a_cursor);
    case!(a_new_run_resets_the_agents_once_and_its_results_replace_the_old);
    case!(running_workflows_are_the_unfinished_oldest_first);
}

/// The cases of what recorded events count: `store` writes the counts,
/// `metrics` (over the same storage) reads them.
pub async fn counts_suite(store: Store, metrics: Arc<dyn MetricsStore>, clock: Arc<ManualClock>) {
    eprintln!("store contract: racing_writers_count_each_event_once");
    racing_writers_count_each_event_once(&store, &metrics, &clock).await;
}

/// Every `JobQueue` case, one after another, for an adapter that reads `clock`.
pub async fn queue_suite(queue: Arc<dyn JobQueue>, clock: Arc<ManualClock>) {
    queue_suite_in(queue, TimeTravel::Manual(clock)).await;
}

/// Every `JobQueue` case, one after another, with time passing as `time` says.
pub async fn queue_suite_in(queue: Arc<dyn JobQueue>, time: TimeTravel) {
    macro_rules! case {
        ($name:ident) => {
            eprintln!("queue contract: {}", stringify!($name));
            $name(&queue, &time).await;
        };
    }
    case!(a_delay_is_honoured);
    case!(received_jobs_hide_for_the_visibility_timeout);
    case!(ack_deletes);
    case!(a_stale_receipt_deletes_nothing);
    case!(receive_respects_max_and_visibility_order);
    case!(depth_counts_what_waits_now);
}
