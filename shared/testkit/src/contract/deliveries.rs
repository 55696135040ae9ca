//! The `DeliveryStore` cases.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;

use crate::clock::ManualClock;
use osa_app::ports::Clock;

use super::fixtures::*;

// ---- deliveries ------------------------------------------------------------------

/// Every `DeliveryStore` case, one after another.
pub async fn delivery_suite(
    store: Arc<dyn osa_app::ports::DeliveryStore>,
    clock: Arc<ManualClock>,
) {
    macro_rules! case {
        ($name:ident) => {
            eprintln!("delivery contract: {}", stringify!($name));
            $name(&store, &clock).await;
        };
    }
    case!(a_delivery_is_created_once_and_read_back_exactly);
    case!(an_unknown_delivery_finds_nothing);
    case!(update_delivery_reads_modifies_writes);
    case!(concurrent_delivery_updates_lose_nothing);
    case!(dead_letters_are_listed_newest_first_until_redriven);
    case!(dead_letters_are_found_by_when_they_were_dead_lettered);
    case!(erasure_removes_a_delivery_and_its_dead_letter);
    case!(overdue_lists_pending_deliveries_by_when_they_were_due);
}

type Deliveries = Arc<dyn osa_app::ports::DeliveryStore>;

fn new_delivery(at: OffsetDateTime) -> osa_domain::delivery::Delivery {
    use osa_domain::delivery::{Delivery, DeliveryAuth};
    Delivery::opal_trigger(
        "https://opal.test/trigger",
        unique_id(),
        json!({"workflow_name": "strategy_workflow", "n": 0}),
        Some(DeliveryAuth::Bearer {
            secret: "opal_api_key".into(),
        }),
        at,
    )
    .expect("a valid delivery")
    .with_header("X-Correlation-ID", "corr-1")
    .expect("an allowed header")
}

/// Records `n` failed attempts (the fifth dead-letters it), a second apart from `at`.
fn fail_attempts(d: &mut osa_domain::delivery::Delivery, n: u32, at: OffsetDateTime) {
    use osa_domain::delivery::{AttemptOutcome, AttemptReport};
    for i in 0..n {
        let (run, number) = d.next_attempt().expect("an attempt is due");
        d.record(
            AttemptReport {
                run,
                number,
                at: at + Duration::from_secs(u64::from(i) * 20),
                response_ms: 12,
                outcome: AttemptOutcome::Response {
                    status: 503,
                    retry_after: None,
                },
            },
            Duration::from_millis(250),
        )
        .expect("recorded");
    }
}

pub async fn a_delivery_is_created_once_and_read_back_exactly(
    store: &Deliveries,
    clock: &ManualClock,
) {
    let mut d = new_delivery(clock.now());
    fail_attempts(&mut d, 2, clock.now());
    assert!(store.create_delivery(&d).await.unwrap(), "created");
    let mut other = d.clone();
    other.payload = json!({"other": true});
    assert!(
        !store.create_delivery(&other).await.unwrap(),
        "an existing id is left as is"
    );
    assert_eq!(store.get_delivery(d.id).await.unwrap(), Some(d));
}

pub async fn an_unknown_delivery_finds_nothing(store: &Deliveries, _clock: &ManualClock) {
    let id = uuid::Uuid::new_v4();
    assert_eq!(store.get_delivery(id).await.unwrap(), None);
    let touched = store.update_delivery(id, &|_| true).await.unwrap();
    assert_eq!(touched, None);
}

pub async fn update_delivery_reads_modifies_writes(store: &Deliveries, clock: &ManualClock) {
    let d = new_delivery(clock.now());
    store.create_delivery(&d).await.unwrap();
    let now = clock.now();
    let saved = store_failures(store, d.id, 1, now).await;
    assert_eq!(saved.attempts.len(), 1);
    assert_eq!(store.get_delivery(d.id).await.unwrap(), Some(saved.clone()));
    // `false` leaves it as is and answers the stored delivery.
    let unchanged = store
        .update_delivery(d.id, &|x| {
            x.payload = json!("not saved");
            false
        })
        .await
        .unwrap();
    assert_eq!(unchanged, Some(saved.clone()));
    assert_eq!(store.get_delivery(d.id).await.unwrap(), Some(saved));
}

pub async fn concurrent_delivery_updates_lose_nothing(store: &Deliveries, clock: &ManualClock) {
    const WRITERS: u64 = 8;
    let d = new_delivery(clock.now());
    store.create_delivery(&d).await.unwrap();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|_| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                store
                    .update_delivery(d.id, &|x| {
                        let n = x.payload["n"].as_u64().unwrap_or(0);
                        x.payload["n"] = json!(n + 1);
                        true
                    })
                    .await
                    .unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let stored = store.get_delivery(d.id).await.unwrap().expect("exists");
    assert_eq!(stored.payload["n"], WRITERS, "every increment kept");
}

/// [`fail_attempts`] on the stored delivery `id`; what is stored afterwards.
async fn store_failures(
    store: &Deliveries,
    id: uuid::Uuid,
    n: u32,
    at: OffsetDateTime,
) -> osa_domain::delivery::Delivery {
    store
        .update_delivery(id, &|x| {
            fail_attempts(x, n, at);
            true
        })
        .await
        .unwrap()
        .expect("exists")
}

pub async fn dead_letters_are_listed_newest_first_until_redriven(
    store: &Deliveries,
    clock: &ManualClock,
) {
    use osa_domain::delivery::DeliveryStatus;
    // Later than anything earlier cases dead-lettered.
    clock.advance(Duration::from_secs(3600));
    let pending = new_delivery(clock.now());
    store.create_delivery(&pending).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        clock.advance(Duration::from_secs(60));
        let d = new_delivery(clock.now());
        store.create_delivery(&d).await.unwrap();
        let now = clock.now();
        let saved = store_failures(store, d.id, 5, now).await;
        assert!(matches!(saved.status, DeliveryStatus::DeadLettered { .. }));
        ids.push(d.id);
    }
    // One delivered: never listed.
    let delivered = new_delivery(clock.now());
    store.create_delivery(&delivered).await.unwrap();
    store
        .update_delivery(delivered.id, &|x| {
            use osa_domain::delivery::{AttemptOutcome, AttemptReport};
            x.record(
                AttemptReport {
                    run: 0,
                    number: 1,
                    at: x.created_at,
                    response_ms: 3,
                    outcome: AttemptOutcome::Response {
                        status: 202,
                        retry_after: None,
                    },
                },
                Duration::ZERO,
            )
            .is_ok()
        })
        .await
        .unwrap();

    let newest_first: Vec<uuid::Uuid> = ids.iter().rev().copied().collect();
    let listed: Vec<uuid::Uuid> = store
        .dead_lettered(2)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(listed, newest_first[..2], "the two newest, newest first");
    let all = store.dead_lettered(1000).await.unwrap();
    let mine: Vec<uuid::Uuid> = all
        .iter()
        .map(|d| d.id)
        .filter(|id| ids.contains(id))
        .collect();
    assert_eq!(mine, newest_first);
    assert!(
        all.iter()
            .all(|d| d.id != pending.id && d.id != delivered.id),
        "only dead letters are listed"
    );
    let shown = all.iter().find(|d| d.id == ids[0]).expect("listed");
    assert_eq!(shown.attempts.len(), 5, "with every attempt");

    // A redrive takes it off the list; the history stays.
    let now = clock.now();
    let redriven = store
        .update_delivery(ids[2], &|x| x.redrive(now).is_ok())
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(redriven.status, DeliveryStatus::Pending);
    assert_eq!(redriven.previous_attempts.len(), 5);
    let after: Vec<uuid::Uuid> = store
        .dead_lettered(1000)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .filter(|id| ids.contains(id))
        .collect();
    assert_eq!(after, vec![ids[1], ids[0]]);
}

pub async fn dead_letters_are_found_by_when_they_were_dead_lettered(
    store: &Deliveries,
    clock: &ManualClock,
) {
    use osa_domain::delivery::DeliveryStatus;
    // Later than anything earlier cases dead-lettered.
    clock.advance(Duration::from_secs(86_400));
    let mut letters = Vec::new();
    for _ in 0..3 {
        clock.advance(Duration::from_secs(600));
        let d = new_delivery(clock.now());
        store.create_delivery(&d).await.unwrap();
        let saved = store_failures(store, d.id, 5, clock.now()).await;
        let DeliveryStatus::DeadLettered { at, .. } = saved.status else {
            panic!("dead-lettered: {saved:?}");
        };
        letters.push((d.id, at));
    }
    let found = |since, until, limit| async move {
        store
            .dead_lettered_between(since, until, limit)
            .await
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect::<Vec<_>>()
    };
    let ((first, t0), (second, t1), (third, t2)) = (letters[0], letters[1], letters[2]);
    assert_eq!(
        found(t0, t1, 10).await,
        vec![first, second],
        "both ends included, the earliest first"
    );
    assert_eq!(found(t0, t2, 1).await, vec![first], "at most the limit");
    assert_eq!(found(t1, t1, 10).await, vec![second], "one instant");
    let after = t2 + Duration::from_millis(1);
    assert!(
        found(after, after + Duration::from_secs(60), 10)
            .await
            .is_empty()
    );
    assert!(
        found(t1, t0, 10).await.is_empty(),
        "a window backwards is empty"
    );

    // A redriven one leaves the window's list.
    let now = clock.now();
    store
        .update_delivery(second, &|x| x.redrive(now).is_ok())
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(found(t0, t2, 10).await, vec![first, third]);
}

pub async fn erasure_removes_a_delivery_and_its_dead_letter(
    store: &Deliveries,
    clock: &ManualClock,
) {
    clock.advance(Duration::from_secs(3600));
    let d = new_delivery(clock.now());
    store.create_delivery(&d).await.unwrap();
    let now = clock.now();
    store_failures(store, d.id, 5, now).await;
    let listed = |list: Vec<osa_domain::delivery::Delivery>| list.iter().any(|x| x.id == d.id);
    assert!(listed(store.dead_lettered(1000).await.unwrap()));
    assert!(store.erase_delivery(d.id).await.unwrap());
    assert_eq!(store.get_delivery(d.id).await.unwrap(), None);
    assert!(
        !listed(store.dead_lettered(1000).await.unwrap()),
        "its dead letter goes too"
    );
    assert!(
        !store.erase_delivery(d.id).await.unwrap(),
        "nothing left to erase"
    );
    let changed = store.update_delivery(d.id, &|_| true).await.unwrap();
    assert_eq!(changed, None, "a late attempt finds nothing to update");
}

pub async fn overdue_lists_pending_deliveries_by_when_they_were_due(
    store: &Deliveries,
    clock: &ManualClock,
) {
    clock.advance(Duration::from_secs(3600));
    let t0 = clock.now();
    // Due at its creation (no attempt yet), then one due a minute later.
    let first = new_delivery(t0);
    let second = new_delivery(t0 + Duration::from_secs(60));
    // One that failed once: due again at its backoff.
    let retried = new_delivery(t0);
    // One dead-lettered and one delivered: never due.
    let dead = new_delivery(t0);
    for d in [&first, &second, &retried, &dead] {
        store.create_delivery(d).await.unwrap();
    }
    let retried_due = store_failures(store, retried.id, 1, t0)
        .await
        .next_attempt_due_at()
        .expect("due again");
    store_failures(store, dead.id, 5, t0).await;
    let mine = [first.id, second.id, retried.id, dead.id];
    let overdue = |before| async move {
        store
            .overdue(before, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .filter(|id| mine.contains(id))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        overdue(t0).await,
        Vec::<uuid::Uuid>::new(),
        "due at t0 is not before t0"
    );
    assert_eq!(overdue(t0 + Duration::from_secs(1)).await, vec![first.id]);
    let later = retried_due.max(t0 + Duration::from_secs(60)) + Duration::from_secs(1);
    let mut all = overdue(later).await;
    assert_eq!(all.len(), 3, "{all:?}");
    all.retain(|id| *id != retried.id);
    assert_eq!(all, vec![first.id, second.id], "the longest overdue first");
    // Attempted now and due again later: no longer overdue then.
    store_failures(store, first.id, 1, later).await;
    assert!(!overdue(later).await.contains(&first.id));
}
