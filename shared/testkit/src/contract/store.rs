//! The `WorkflowStore` cases.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::Store;
use crate::clock::ManualClock;
use osa_app::ports::{
    AdminAuditEntry, Attempt, AuditEntry, AuditOutcome, Clock, CreateOutcome, EventOutcome, Marker,
    Page, PagePosition, WorkflowPosition, WorkflowQuery,
};
use osa_domain::AgentId;
use osa_domain::event::AgentEvent;
use osa_domain::history::Change;
use osa_domain::run::NewRun;
use osa_domain::workflow::{AgentStatus, Workflow, WorkflowStatus};

use super::fixtures::*;

// ---- store cases -----------------------------------------------------------------

pub async fn create_once_then_existing(store: &Store, clock: &ManualClock) {
    let (workflow, agents) = new_workflow(&unique_id(), clock.now());
    let outcome = store.create_workflow(&workflow, &agents).await.unwrap();
    assert_eq!(outcome, CreateOutcome::Created);
    assert_eq!(workflow_of(store, workflow.id()).await, workflow);
    assert_eq!(store.get_agents(workflow.id()).await.unwrap(), agents);

    // A second create under the same id returns what is stored and changes nothing.
    let mut other = workflow.clone();
    let accepted = other.accept_trigger("someone-else", 1, &agents, clock.now());
    assert_eq!(
        accepted.map(|_| other.status()),
        Some(WorkflowStatus::Running)
    );
    let mut other_agents = agents.clone();
    other_agents[0].status = AgentStatus::Completed;
    let outcome = store.create_workflow(&other, &other_agents).await.unwrap();
    assert_eq!(outcome, CreateOutcome::Existing(Box::new(workflow.clone())));
    assert_eq!(workflow_of(store, workflow.id()).await, workflow);
    assert_eq!(store.get_agents(workflow.id()).await.unwrap(), agents);
}

pub async fn unknown_ids_find_nothing(store: &Store, _clock: &ManualClock) {
    let id = unique_id();
    assert_eq!(store.get_workflow(&id).await.unwrap(), None);
    assert!(store.get_agents(&id).await.unwrap().is_empty());
    assert!(store.get_results(&id).await.unwrap().is_empty());
    assert!(store.audit_for_workflow(&id, 10).await.unwrap().is_empty());
}

pub async fn agents_come_in_catalogue_order(store: &Store, clock: &ManualClock) {
    let (workflow, mut agents) = new_workflow(&unique_id(), clock.now());
    agents.reverse();
    store.create_workflow(&workflow, &agents).await.unwrap();
    let order: Vec<AgentId> = store
        .get_agents(workflow.id())
        .await
        .unwrap()
        .iter()
        .map(|a| a.agent)
        .collect();
    assert_eq!(order, AgentId::ALL.to_vec());
}

pub async fn accepted_events_move_agent_and_workflow(store: &Store, clock: &ManualClock) {
    use AgentStatus::*;
    let wf = created(store, clock).await;
    let agent = AgentId::ContentReview;

    clock.advance(SECOND);
    let t1 = clock.now();
    let ev = started(wf.id(), agent);
    assert_eq!(
        record(store, clock, &ev).await,
        accepted(&ev, Running, true, WorkflowStatus::Running)
    );
    let stored = workflow_of(store, wf.id()).await;
    assert_eq!(stored.status(), WorkflowStatus::Running);
    assert_eq!(
        stored.progress_percent(),
        5,
        "one of nine running counts half"
    );
    assert_eq!(stored.version(), wf.version() + 1);
    assert_eq!(stored.finished_at(), None);
    let a = agent_of(store, wf.id(), agent).await;
    assert_eq!(a.status, Running);
    assert_eq!(a.events, 1);
    assert_eq!(a.started_at, Some(t1));
    assert_eq!(a.last_event_at, Some(t1));
    assert_eq!(a.execution_id.as_deref(), Some("exec-content_review"));
    for other in store.get_agents(wf.id()).await.unwrap() {
        if other.agent != agent {
            assert_eq!(other.status, Pending, "{}", other.agent);
        }
    }
    assert!(store.get_results(wf.id()).await.unwrap().is_empty());
    assert!(store.marker(Marker::LastWebhook).await.unwrap() >= Some(whole_ms(t1)));

    // A progress event is accepted and counted but changes no state.
    clock.advance(SECOND);
    let ev2 = progress(wf.id(), agent, 1);
    assert_eq!(
        record(store, clock, &ev2).await,
        accepted(&ev2, Running, false, WorkflowStatus::Running)
    );
    assert_eq!(agent_of(store, wf.id(), agent).await.events, 2);
    assert_eq!(
        workflow_of(store, wf.id()).await.version(),
        wf.version() + 2
    );

    // Completion stores the result as its own item.
    clock.advance(SECOND);
    let t3 = clock.now();
    let ev3 = completed(wf.id(), agent);
    let allowed_ms = agent_of(store, wf.id(), agent).await.allowed_ms;
    assert_eq!(
        record(store, clock, &ev3).await,
        ended(&ev3, Completed, WorkflowStatus::Running, 2000, allowed_ms),
        "ran from its start to its result, by the store's clock"
    );
    let stored = workflow_of(store, wf.id()).await;
    assert_eq!(stored.progress_percent(), 11, "one of nine done");
    assert_eq!(stored.status(), WorkflowStatus::Running);
    let a = agent_of(store, wf.id(), agent).await;
    assert_eq!(a.status, Completed);
    assert_eq!(a.finished_at, Some(t3));
    assert_eq!(a.duration_ms, Some(4200));
    assert_eq!(a.confidence, Some(0.87));
    let results = store.get_results(wf.id()).await.unwrap();
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!(r.workflow_id, wf.id());
    assert_eq!(r.agent, agent);
    assert_eq!(r.event_id, ev3.event_id);
    assert_eq!(r.received_at, t3);
    assert_eq!(r.confidence, Some(0.87));
    assert_eq!(*r.agent_data, sample_agent_data());
    assert!(store.marker(Marker::LastWebhook).await.unwrap() >= Some(whole_ms(t3)));
    assert!(store.marker(Marker::LastAgentData).await.unwrap() >= Some(whole_ms(t3)));

    // Each attempt is audited with its outcome and identity filled in.
    let audit = store.audit_for_workflow(wf.id(), 100).await.unwrap();
    let ids: Vec<Option<&str>> = audit.iter().map(|e| e.event_id.as_deref()).collect();
    assert_eq!(
        ids,
        vec![
            Some(ev.event_id.as_str()),
            Some(ev2.event_id.as_str()),
            Some(ev3.event_id.as_str())
        ]
    );
    for e in &audit {
        assert_eq!(e.outcome, AuditOutcome::Accepted);
        assert_eq!(e.reason, "accepted");
        assert_eq!(e.http_status, 202);
        assert_eq!(e.workflow_id.as_deref(), Some(wf.id()));
        assert_eq!(e.agent_id.as_deref(), Some("content_review"));
        assert_eq!(e.correlation_id.as_deref(), Some("corr-contract"));
        assert_eq!(e.body_bytes, 321);
    }
    assert_eq!(audit[2].received_at, t3);
}

pub async fn a_duplicate_changes_nothing_and_is_audited(store: &Store, clock: &ManualClock) {
    let wf = created(store, clock).await;
    let ev = completed(wf.id(), AgentId::GeoAudit);
    assert!(matches!(
        record(store, clock, &ev).await,
        EventOutcome::Accepted { .. }
    ));
    let before = (
        workflow_of(store, wf.id()).await,
        store.get_agents(wf.id()).await.unwrap(),
        store.get_results(wf.id()).await.unwrap(),
    );
    let marker_before = store.marker(Marker::LastAgentData).await.unwrap();

    clock.advance(SECOND);
    let again = completed(wf.id(), AgentId::GeoAudit);
    assert_eq!(again.event_id, ev.event_id);
    assert_eq!(
        record(store, clock, &again).await,
        EventOutcome::Duplicate {
            event_id: ev.event_id.clone()
        }
    );
    let after = (
        workflow_of(store, wf.id()).await,
        store.get_agents(wf.id()).await.unwrap(),
        store.get_results(wf.id()).await.unwrap(),
    );
    assert_eq!(before, after, "a duplicate leaves every item as it was");
    assert_eq!(
        store.marker(Marker::LastAgentData).await.unwrap(),
        marker_before
    );

    let audit = store.audit_for_workflow(wf.id(), 100).await.unwrap();
    assert_eq!(audit.len(), 2);
    let dup = &audit[1];
    assert_eq!(dup.outcome, AuditOutcome::Duplicate);
    assert_eq!(dup.reason, "duplicate");
    assert_eq!(dup.http_status, 200);
    assert_eq!(dup.event_id.as_deref(), Some(ev.event_id.as_str()));
    assert_eq!(dup.agent_id.as_deref(), Some("geo_audit"));
    assert_eq!(dup.received_at, clock.now());
}

pub async fn an_unknown_workflow_is_audited(store: &Store, clock: &ManualClock) {
    let id = unique_id();
    let ev = started(&id, AgentId::CmpOrganizer);
    for _ in 0..2 {
        assert_eq!(
            record(store, clock, &ev).await,
            EventOutcome::UnknownWorkflow
        );
    }
    assert_eq!(store.get_workflow(&id).await.unwrap(), None);
    assert!(store.get_agents(&id).await.unwrap().is_empty());
    let audit = store.audit_for_workflow(&id, 100).await.unwrap();
    assert_eq!(audit.len(), 2, "an unknown workflow is never de-duplicated");
    for e in audit {
        assert_eq!(e.outcome, AuditOutcome::Rejected);
        assert_eq!(e.reason, "unknown_workflow");
        assert_eq!(e.http_status, 404);
        assert_eq!(e.workflow_id.as_deref(), Some(id.as_str()));
        assert_eq!(e.agent_id.as_deref(), Some("cmp_organizer"));
        assert_eq!(e.event_id.as_deref(), Some(ev.event_id.as_str()));
    }
}

pub async fn terminal_agents_stay_terminal(store: &Store, clock: &ManualClock) {
    use AgentStatus::*;
    let wf = created(store, clock).await;
    let geo = AgentId::GeoAudit;
    let ev = failed(wf.id(), geo);
    let allowed_ms = agent_of(store, wf.id(), geo).await.allowed_ms;
    assert_eq!(
        record(store, clock, &ev).await,
        ended(&ev, Failed, WorkflowStatus::Running, 0, allowed_ms),
        "never started, never triggered: no time to count"
    );
    clock.advance(SECOND);
    for late in [completed(wf.id(), geo), started(wf.id(), geo)] {
        assert_eq!(
            record(store, clock, &late).await,
            accepted(&late, Failed, false, WorkflowStatus::Running)
        );
    }
    let a = agent_of(store, wf.id(), geo).await;
    assert_eq!(a.status, Failed);
    assert_eq!(a.events, 3);
    assert_eq!(a.error.as_deref(), Some("boom"));

    let health = AgentId::IntegrationHealth;
    let ev = timed_out(wf.id(), health);
    let allowed_ms = agent_of(store, wf.id(), health).await.allowed_ms;
    assert_eq!(
        record(store, clock, &ev).await,
        ended(&ev, TimedOut, WorkflowStatus::Running, 0, allowed_ms),
        "timed out: over its allowance whatever the clock says"
    );
    assert!(
        store.get_results(wf.id()).await.unwrap().is_empty(),
        "a failed or timed-out agent has no result"
    );

    // Scenario A: a result after the timeout is kept, marked late; the agent
    // stays timed out. A second late result is counted, not stored.
    clock.advance(SECOND);
    let late = completed(wf.id(), health);
    assert_eq!(
        record(store, clock, &late).await,
        accepted(&late, TimedOut, false, WorkflowStatus::Running)
    );
    let a = agent_of(store, wf.id(), health).await;
    assert_eq!(a.status, TimedOut);
    assert_eq!(a.late_result_at, Some(clock.now()));
    let results = store.get_results(wf.id()).await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].agent, health);
    assert_eq!(results[0].event_id, late.event_id);
    let again = completed_by(wf.id(), health, "exec-second-late");
    record(store, clock, &again).await;
    let results = store.get_results(wf.id()).await.unwrap();
    assert_eq!(results.len(), 1, "only the first late result is kept");
    assert_eq!(results[0].event_id, late.event_id);
    assert_eq!(agent_of(store, wf.id(), health).await.events, 3);
}

pub async fn all_completed_completes_the_workflow(store: &Store, clock: &ManualClock) {
    let wf = created(store, clock).await;
    let mut last = None;
    for agent in AgentId::ALL {
        clock.advance(SECOND);
        last = Some(record(store, clock, &completed(wf.id(), agent)).await);
    }
    assert!(matches!(
        last,
        Some(EventOutcome::Accepted {
            workflow_status: WorkflowStatus::Completed,
            workflow_finished: true,
            ..
        })
    ));
    let stored = workflow_of(store, wf.id()).await;
    assert_eq!(stored.status(), WorkflowStatus::Completed);
    assert_eq!(stored.progress_percent(), 100);
    assert!(stored.finished_at().is_some());
    assert_eq!(stored.version(), wf.version() + 9);
    // The history the live stream replays: each agent's change in the order
    // recorded (the first also starts the pending workflow), then the finish
    // and the final report.
    let told: Vec<String> = stored
        .history()
        .iter()
        .map(|c| match c {
            Change::Agent { agent, status, .. } => format!("{agent} {}", status.as_str()),
            Change::Workflow { status, .. } => format!("workflow {}", status.as_str()),
            Change::ReportReady { .. } => "report ready".into(),
        })
        .collect();
    let mut want: Vec<String> = AgentId::ALL
        .iter()
        .map(|a| format!("{a} completed"))
        .collect();
    want.insert(1, "workflow running".into());
    want.extend(["workflow completed".into(), "report ready".into()]);
    assert_eq!(told, want);

    let results = store.get_results(wf.id()).await.unwrap();
    let agents: Vec<AgentId> = results.iter().map(|r| r.agent).collect();
    assert_eq!(
        agents,
        AgentId::ALL.to_vec(),
        "one result per agent, in catalogue order"
    );

    // A second completion from another execution is accepted but stores nothing new.
    let second = completed_by(wf.id(), AgentId::RoadmapGenerator, "exec-second");
    assert_eq!(
        record(store, clock, &second).await,
        accepted(
            &second,
            AgentStatus::Completed,
            false,
            WorkflowStatus::Completed
        )
    );
    assert_eq!(store.get_results(wf.id()).await.unwrap(), results);
}

pub async fn some_completed_is_partial(store: &Store, clock: &ManualClock) {
    let wf = created(store, clock).await;
    let (failing, rest) = AgentId::ALL.split_at(1);
    record(store, clock, &failed(wf.id(), failing[0])).await;
    for agent in rest {
        record(store, clock, &completed(wf.id(), *agent)).await;
    }
    let stored = workflow_of(store, wf.id()).await;
    assert_eq!(stored.status(), WorkflowStatus::Partial);
    assert_eq!(stored.progress_percent(), 100);
    assert!(stored.finished_at().is_some());
    let results: Vec<AgentId> = store
        .get_results(wf.id())
        .await
        .unwrap()
        .iter()
        .map(|r| r.agent)
        .collect();
    assert_eq!(results, rest.to_vec(), "results only for completed agents");
}

pub async fn none_completed_is_failed(store: &Store, clock: &ManualClock) {
    let wf = created(store, clock).await;
    let mut last = None;
    for (i, agent) in AgentId::ALL.into_iter().enumerate() {
        let ev = if i % 2 == 0 {
            failed(wf.id(), agent)
        } else {
            timed_out(wf.id(), agent)
        };
        last = Some(record(store, clock, &ev).await);
    }
    assert!(matches!(
        last,
        Some(EventOutcome::Accepted {
            workflow_status: WorkflowStatus::Failed,
            ..
        })
    ));
    let stored = workflow_of(store, wf.id()).await;
    assert_eq!(stored.status(), WorkflowStatus::Failed);
    assert_eq!(stored.progress_percent(), 100);
    assert!(store.get_results(wf.id()).await.unwrap().is_empty());
}

pub async fn audit_keeps_every_attempt_in_order(store: &Store, clock: &ManualClock) {
    let wf = created(store, clock).await;
    let mut rejected = attempt(clock);
    rejected.correlation_id = None;
    let rejected = rejected.rejected(Some(wf.id().to_owned()), "signature_mismatch", 401);
    store.append_audit(&rejected).await.unwrap();

    clock.advance(SECOND);
    let ev = started(wf.id(), AgentId::AudienceSuggester);
    record(store, clock, &ev).await;
    clock.advance(SECOND);
    record(store, clock, &ev).await;

    clock.advance(SECOND);
    let mut invalid = attempt(clock).rejected(Some(wf.id().to_owned()), "validation_failed", 400);
    invalid.agent_id = Some("audience_suggester".into());
    store.append_audit(&invalid).await.unwrap();
    // An attempt that names no workflow is kept, but under no workflow.
    let anonymous = attempt(clock).rejected(None, "syntax", 400);
    store.append_audit(&anonymous).await.unwrap();

    let audit = store.audit_for_workflow(wf.id(), 100).await.unwrap();
    let outcomes: Vec<(AuditOutcome, &str, u16)> = audit
        .iter()
        .map(|e| (e.outcome, e.reason.as_str(), e.http_status))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (AuditOutcome::Rejected, "signature_mismatch", 401),
            (AuditOutcome::Accepted, "accepted", 202),
            (AuditOutcome::Duplicate, "duplicate", 200),
            (AuditOutcome::Rejected, "validation_failed", 400),
        ]
    );
    assert_eq!(audit[0], rejected, "append_audit stores the entry as is");
    assert_eq!(audit[3], invalid);
    assert_eq!(
        store.audit_for_workflow(wf.id(), 2).await.unwrap(),
        audit[..2].to_vec(),
        "the limit keeps the oldest"
    );
}

pub async fn update_workflow_reads_modifies_writes(store: &Store, clock: &ManualClock) {
    let wf = created(store, clock).await;
    let now = clock.now();
    // Only the domain's transitions change a workflow; any will do here.
    let retry = move |w: &mut Workflow| w.note_trigger_retry(w.trigger().attempts + 1, "503", now);
    let updated = store
        .update_workflow(wf.id(), &|w: &mut Workflow| {
            w.accept_trigger("d", w.trigger().attempts + 1, &[], now)
                .is_some()
        })
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(updated.version(), wf.version() + 1);
    assert_eq!(updated.trigger().attempts, 1);
    assert_eq!(updated.status(), WorkflowStatus::Running);
    assert_eq!(workflow_of(store, wf.id()).await, updated);

    let unchanged = store
        .update_workflow(wf.id(), &|w: &mut Workflow| {
            w.claim_retrigger(AgentId::GeoAudit);
            false
        })
        .await
        .unwrap();
    assert_eq!(unchanged.as_ref(), Some(&updated), "false leaves it as is");
    assert_eq!(workflow_of(store, wf.id()).await, updated);

    // Concurrent read-modify-writes never lose an update (on a workflow whose
    // trigger OPAL has not accepted, so each notes one more attempt).
    let wf = created(store, clock).await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(store);
            let id = wf.id().to_owned();
            tokio::spawn(async move { store.update_workflow(&id, &retry).await })
        })
        .collect();
    for t in tasks {
        assert!(t.await.expect("task").expect("update").is_some());
    }
    let stored = workflow_of(store, wf.id()).await;
    assert_eq!(stored.trigger().attempts, 16);
    assert_eq!(stored.version(), wf.version() + 16);

    // An unknown id is reported, never created.
    let id = unique_id();
    let updated = store.update_workflow(&id, &retry).await.unwrap();
    assert_eq!(updated, None);
    assert_eq!(store.get_workflow(&id).await.unwrap(), None);
}

pub async fn recent_workflows_are_newest_first(store: &Store, clock: &ManualClock) {
    // Newer than anything already stored, so the case holds on a used store too.
    let newest = store
        .recent_workflows(1)
        .await
        .unwrap()
        .first()
        .map_or(clock.now(), |w| w.created_at().max(clock.now()));
    let base = whole_ms(newest) + Duration::from_secs(3600);
    let prefix = unique_id();
    let make = |suffix: &str, at: OffsetDateTime| new_workflow(&format!("{prefix}-{suffix}"), at);
    let older = make("a", base + SECOND);
    let tie_low = make("b", base + 2 * SECOND);
    let tie_high = make("c", base + 2 * SECOND);
    for (w, agents) in [&tie_low, &older, &tie_high] {
        store.create_workflow(w, agents).await.unwrap();
    }
    let ids = |ws: Vec<Workflow>| {
        ws.into_iter()
            .map(|w| w.id().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.recent_workflows(2).await.unwrap()),
        vec![tie_high.0.id().to_owned(), tie_low.0.id().to_owned()],
        "newest first, ties by id descending"
    );
    let three = store.recent_workflows(3).await.unwrap();
    assert_eq!(three[2], older.0);
    assert!(store.recent_workflows(0).await.unwrap().is_empty());
}

pub async fn workflows_are_listed_filtered_and_paged(store: &Store, clock: &ManualClock) {
    let newest = store
        .recent_workflows(1)
        .await
        .unwrap()
        .first()
        .map_or(clock.now(), |w| w.created_at().max(clock.now()));
    let base = whole_ms(newest) + Duration::from_secs(3600);
    let prefix = unique_id();
    // Five, one second apart, two sharing a millisecond (ties go by id).
    let offsets = [1, 2, 3, 3, 4];
    let mut made = Vec::new();
    for (i, secs) in offsets.iter().enumerate() {
        let (w, agents) = new_workflow(&format!("{prefix}-{i}"), base + *secs * SECOND);
        store.create_workflow(&w, &agents).await.unwrap();
        made.push(w);
    }
    // Two are running (any domain transition will do), the rest pending.
    let now = clock.now();
    for w in [&made[1], &made[3]] {
        store
            .update_workflow(w.id(), &|w: &mut Workflow| {
                w.accept_trigger("d", 1, &[], now).is_some()
            })
            .await
            .unwrap()
            .expect("exists");
    }
    let ours = |ws: &[Workflow]| {
        ws.iter()
            .map(|w| w.id().to_owned())
            .filter(|id| id.starts_with(&prefix))
            .collect::<Vec<_>>()
    };
    let id = |i: usize| made[i].id().to_owned();
    let all = |status: Option<WorkflowStatus>, limit: usize| async move {
        let mut listed = Vec::new();
        let mut after = None;
        for _ in 0..20 {
            let page = store
                .list_workflows(&WorkflowQuery {
                    status,
                    since: Some(base),
                    after: after.take(),
                    limit,
                })
                .await
                .unwrap();
            assert!(page.workflows.len() <= limit);
            listed.extend(page.workflows);
            match page.next {
                Some(next) => after = Some(next),
                None => return listed,
            }
        }
        panic!("the listing never ended");
    };
    let newest_first = vec![id(4), id(3), id(2), id(1), id(0)];
    assert_eq!(ours(&all(None, 10).await), newest_first);
    assert_eq!(ours(&all(None, 2).await), newest_first, "paged by two");
    assert_eq!(ours(&all(None, 1).await), newest_first, "paged by one");
    let running = vec![id(3), id(1)];
    assert_eq!(ours(&all(Some(WorkflowStatus::Running), 1).await), running);
    assert_eq!(
        ours(&all(Some(WorkflowStatus::Pending), 2).await),
        vec![id(4), id(2), id(0)]
    );
    assert!(
        ours(&all(Some(WorkflowStatus::Completed), 3).await).is_empty(),
        "none completed"
    );
    // `since` is inclusive and cuts the older ones off.
    let since_third = store
        .list_workflows(&WorkflowQuery {
            status: None,
            since: Some(base + 3 * SECOND),
            after: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(ours(&since_third.workflows), vec![id(4), id(3), id(2)]);
    // From a position, what follows it only.
    let after_third = store
        .list_workflows(&WorkflowQuery {
            status: None,
            since: Some(base),
            after: Some(WorkflowPosition::of(&made[3])),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(ours(&after_third.workflows), vec![id(2), id(1), id(0)]);
}

pub async fn markers_only_move_forward(store: &Store, clock: &ManualClock) {
    let marker = Marker::LastForceSync;
    let current = store.marker(marker).await.unwrap();
    let base =
        whole_ms(current.unwrap_or(clock.now()).max(clock.now())) + Duration::from_secs(3600);
    store.set_marker(marker, base).await.unwrap();
    assert_eq!(store.marker(marker).await.unwrap(), Some(base));
    store
        .set_marker(marker, base - Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        store.marker(marker).await.unwrap(),
        Some(base),
        "never backwards"
    );
    store.set_marker(marker, base + SECOND).await.unwrap();
    assert_eq!(store.marker(marker).await.unwrap(), Some(base + SECOND));
}

/// 64 tasks at once, over four workflows; every distinct event is sent three times,
/// each copy from a different task.
pub async fn concurrent_writers_record_each_event_once(store: &Store, clock: &ManualClock) {
    const TASKS: usize = 64;
    const COPIES: usize = 3;
    let mut workflows = Vec::new();
    for _ in 0..4 {
        workflows.push(created(store, clock).await);
    }
    let distinct: Vec<AgentEvent> = workflows
        .iter()
        .flat_map(|wf| {
            AgentId::ALL
                .into_iter()
                .flat_map(|a| [started(wf.id(), a), completed(wf.id(), a)])
        })
        .collect();
    let attempts: Vec<AgentEvent> = (0..COPIES).flat_map(|_| distinct.clone()).collect();
    let attempts = Arc::new(attempts);
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let template = attempt(clock);

    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = Arc::clone(store);
            let attempts = Arc::clone(&attempts);
            let barrier = Arc::clone(&barrier);
            let template = template.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let mut outcomes = Vec::new();
                for ev in attempts.iter().skip(task).step_by(TASKS) {
                    let outcome = store
                        .record_event(ev, &template)
                        .await
                        .expect("record_event");
                    outcomes.push((ev.event_id.clone(), outcome));
                }
                outcomes
            })
        })
        .collect();

    let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    // Events that moved their agent (a `started` after its `completed` does not).
    let mut moved: Vec<String> = Vec::new();
    for t in tasks {
        for (event_id, outcome) in t.await.expect("task") {
            let slot = tally.entry(event_id.clone()).or_default();
            match outcome {
                EventOutcome::Accepted {
                    event_id: e,
                    state_changed,
                    ..
                } => {
                    assert_eq!(e, event_id);
                    slot.0 += 1;
                    if state_changed {
                        moved.push(e);
                    }
                }
                EventOutcome::Duplicate { event_id: e } => {
                    assert_eq!(e, event_id);
                    slot.1 += 1;
                }
                EventOutcome::UnknownWorkflow => panic!("the workflow exists"),
            }
        }
    }
    assert_eq!(tally.len(), distinct.len());
    for (event_id, counts) in &tally {
        assert_eq!(
            *counts,
            (1, COPIES - 1),
            "{event_id}: (accepted, duplicates)"
        );
    }

    for wf in &workflows {
        let stored = workflow_of(store, wf.id()).await;
        assert_eq!(stored.status(), WorkflowStatus::Completed);
        assert_eq!(stored.progress_percent(), 100);
        assert_eq!(
            stored.version(),
            wf.version() + 18,
            "one bump per accepted event"
        );
        // Racing writers lose no change of the history and write none twice.
        let mut noted: Vec<&str> = stored
            .history()
            .iter()
            .filter_map(|c| match c {
                Change::Agent { event_id, .. } => Some(event_id.as_str()),
                _ => None,
            })
            .collect();
        noted.sort_unstable();
        let mut moving: Vec<&str> = distinct
            .iter()
            .filter(|e| e.workflow_id == wf.id() && moved.contains(&e.event_id))
            .map(|e| e.event_id.as_str())
            .collect();
        moving.sort_unstable();
        assert!(moving.len() >= 9, "every agent completed");
        assert_eq!(noted, moving);
        for a in store.get_agents(wf.id()).await.unwrap() {
            assert_eq!(a.status, AgentStatus::Completed, "{}", a.agent);
            assert_eq!(a.events, 2, "{}", a.agent);
        }
        let results = store.get_results(wf.id()).await.unwrap();
        assert_eq!(results.len(), 9);
        let audit = store.audit_for_workflow(wf.id(), 10_000).await.unwrap();
        assert_eq!(audit.len(), 18 * COPIES, "every attempt is audited");
        let count = |o| audit.iter().filter(|e| e.outcome == o).count();
        assert_eq!(count(AuditOutcome::Accepted), 18);
        assert_eq!(count(AuditOutcome::Duplicate), 18 * (COPIES - 1));
    }
}

pub async fn erasure_leaves_nothing_behind(store: &Store, clock: &ManualClock) {
    let kept = created(store, clock).await;
    let wf = created(store, clock).await;
    for agent in [AgentId::GeoAudit, AgentId::ContentReview] {
        clock.advance(SECOND);
        record(store, clock, &completed(wf.id(), agent)).await;
    }
    record(store, clock, &completed(kept.id(), AgentId::GeoAudit)).await;

    let erased = store.erase_workflow(wf.id()).await.unwrap();
    // The workflow, nine agents, two results and two seen events at least.
    assert!(erased.is_some_and(|n| n >= 14), "{erased:?}");
    assert_eq!(store.get_workflow(wf.id()).await.unwrap(), None);
    assert!(store.get_agents(wf.id()).await.unwrap().is_empty());
    assert!(store.get_results(wf.id()).await.unwrap().is_empty());
    assert_eq!(
        store.erase_workflow(wf.id()).await.unwrap(),
        None,
        "already gone"
    );
    // An event for it now finds no workflow (its de-duplication record went too).
    assert_eq!(
        record(store, clock, &completed(wf.id(), AgentId::GeoAudit)).await,
        EventOutcome::UnknownWorkflow
    );
    // Other workflows are untouched.
    assert!(store.get_workflow(kept.id()).await.unwrap().is_some());
    assert_eq!(store.get_results(kept.id()).await.unwrap().len(), 1);
}

pub async fn the_admin_audit_trail_keeps_every_action(store: &Store, clock: &ManualClock) {
    let marker = unique_id();
    for (i, outcome) in ["succeeded", "not_found"].into_iter().enumerate() {
        clock.advance(SECOND);
        store
            .append_admin_audit(&AdminAuditEntry {
                at: clock.now(),
                actor: "admin-1".into(),
                action: "workflow_erased".into(),
                target: format!("{marker}-{i}"),
                outcome: outcome.into(),
                correlation_id: None,
            })
            .await
            .unwrap();
    }
    let trail = store.admin_audit(1000).await.unwrap();
    let mine: Vec<&AdminAuditEntry> = trail
        .iter()
        .filter(|e| e.target.starts_with(&marker))
        .collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].target, format!("{marker}-1"), "newest first");
    assert_eq!(mine[0].outcome, "not_found");
    assert_eq!(mine[1].actor, "admin-1");
}

/// Pages every entry of a listing, `size` at a time, following `next`.
async fn every_page<T, F, Fut>(size: usize, mut page: F) -> Vec<T>
where
    F: FnMut(Option<PagePosition>, usize) -> Fut,
    Fut: std::future::Future<Output = Page<T>>,
{
    let mut all = Vec::new();
    let mut next = None;
    for _ in 0..10_000 {
        let got = page(next, size).await;
        assert!(got.items.len() <= size, "a page holds at most its size");
        all.extend(got.items);
        match got.next {
            Some(position) => next = Some(position),
            None => return all,
        }
    }
    panic!("the listing never ended");
}

pub async fn audit_listings_page_with_a_cursor(store: &Store, clock: &ManualClock) {
    let wf = created(store, clock).await;
    let marker = unique_id();
    let attempt = |clock: &ManualClock, i: usize| {
        Attempt::of_body(clock.now(), Some(&format!("{marker}-{i}")), b"{}")
    };
    for i in 0..5 {
        clock.advance(SECOND);
        let entry = attempt(clock, i).rejected(Some(wf.id().to_owned()), "signature_mismatch", 401);
        store.append_audit(&entry).await.unwrap();
        // And one naming no workflow (a rate-limited webhook, its body unread).
        let unread = attempt(clock, 10 + i).rejected(None, "rate_limited", 429);
        store.append_audit(&unread).await.unwrap();
    }
    let correlation = |e: &AuditEntry| e.correlation_id.clone().unwrap_or_default();
    let want = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|i| format!("{marker}-{i}")).collect()
    };

    // A workflow's trail: pages of two, oldest first, each entry once.
    let listed = every_page(2, |after, size| {
        let id = wf.id().to_owned();
        async move { store.audit_page(&id, after.as_ref(), size).await.unwrap() }
    })
    .await;
    assert_eq!(
        listed.iter().map(correlation).collect::<Vec<_>>(),
        want(0..5)
    );
    let first = store.audit_page(wf.id(), None, 5).await.unwrap();
    assert_eq!(
        (first.items.len(), first.next),
        (5, None),
        "no page past the end"
    );

    // The entries naming no workflow, by the day they came.
    let day = clock.now().date();
    let listed = every_page(3, |after, size| async move {
        store
            .unattributed_audit_page(day, after.as_ref(), size)
            .await
            .unwrap()
    })
    .await;
    let mine: Vec<String> = listed
        .iter()
        .map(correlation)
        .filter(|c| c.starts_with(&marker))
        .collect();
    assert_eq!(mine, want(10..15), "oldest first, each once");
    assert!(listed.iter().all(|e| e.workflow_id.is_none()));
    let yesterday = day.previous_day().expect("a day");
    let before = store
        .unattributed_audit_page(yesterday, None, 100)
        .await
        .unwrap();
    assert!(
        before
            .items
            .iter()
            .all(|e| !correlation(e).starts_with(&marker))
    );

    // The admin trail: newest first.
    for i in 0..3 {
        clock.advance(SECOND);
        store
            .append_admin_audit(&AdminAuditEntry {
                at: clock.now(),
                actor: "admin-1".into(),
                action: "maintenance_switched".into(),
                target: format!("{marker}-{i}"),
                outcome: "succeeded".into(),
                correlation_id: None,
            })
            .await
            .unwrap();
    }
    let listed = every_page(2, |before, size| async move {
        store.admin_audit_page(before.as_ref(), size).await.unwrap()
    })
    .await;
    let mine: Vec<String> = listed
        .iter()
        .map(|e| e.target.clone())
        .filter(|t| t.starts_with(&marker))
        .collect();
    assert_eq!(
        mine,
        vec![
            format!("{marker}-2"),
            format!("{marker}-1"),
            format!("{marker}-0")
        ]
    );
}

pub async fn a_new_run_resets_the_agents_once_and_its_results_replace_the_old(
    store: &Store,
    clock: &ManualClock,
) {
    use AgentStatus::*;
    let wf = created(store, clock).await;
    let agent = AgentId::GeoAudit;
    clock.advance(SECOND);
    record(store, clock, &completed(wf.id(), agent)).await;
    record(store, clock, &failed(wf.id(), AgentId::ContentReview)).await;

    clock.advance(SECOND);
    let now = clock.now();
    let (started, agents) = store
        .start_run(wf.id(), NewRun::ForceSync { sync_id: "sync-1" }, now, 1.0)
        .await
        .unwrap()
        .expect("a run started");
    assert_eq!(
        (started.run(), started.status()),
        (1, WorkflowStatus::Running)
    );
    assert_eq!(started.trigger().restarted_at, Some(now));
    let stored = store.get_agents(wf.id()).await.unwrap();
    assert_eq!(stored, agents, "what it answers is what it stored");
    assert!(stored.iter().all(|a| a.run == 1 && a.status == Pending));
    let geo = agent_of(store, wf.id(), agent).await;
    assert!(geo.completed_before);
    assert_eq!(geo.past_execution_ids, vec![format!("exec-{agent}")]);
    assert!(
        !agent_of(store, wf.id(), AgentId::ContentReview)
            .await
            .completed_before
    );
    // Once per sync; another sync starts the next.
    assert_eq!(
        store
            .start_run(wf.id(), NewRun::ForceSync { sync_id: "sync-1" }, now, 1.0)
            .await
            .unwrap(),
        None
    );
    assert_eq!(workflow_of(store, wf.id()).await.run(), 1);

    // The run's result replaces the first run's.
    clock.advance(SECOND);
    let ev = completed_by(wf.id(), agent, "exec-run-1");
    assert!(matches!(
        record(store, clock, &ev).await,
        EventOutcome::Accepted {
            agent_status: Completed,
            state_changed: true,
            ..
        }
    ));
    let results = store.get_results(wf.id()).await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!((results[0].agent, results[0].run), (agent, 1));
    assert_eq!(results[0].event_id, ev.event_id);
    assert_eq!(
        store
            .start_run(
                "no-such-workflow",
                NewRun::ForceSync { sync_id: "s" },
                now,
                1.0
            )
            .await
            .unwrap(),
        None
    );
}

pub async fn running_workflows_are_the_unfinished_oldest_first(store: &Store, clock: &ManualClock) {
    let first = created(store, clock).await;
    clock.advance(SECOND);
    let second = created(store, clock).await;
    clock.advance(SECOND);
    let finished = created(store, clock).await;
    for agent in AgentId::ALL {
        record(store, clock, &failed(finished.id(), agent)).await;
    }
    assert_eq!(
        workflow_of(store, finished.id()).await.status(),
        WorkflowStatus::Failed
    );
    let mine = [first.id(), second.id(), finished.id()];
    let running: Vec<String> = store
        .running_workflows(10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id().to_owned())
        .filter(|id| mine.contains(&id.as_str()))
        .collect();
    assert_eq!(running, vec![first.id().to_owned(), second.id().to_owned()]);
}
