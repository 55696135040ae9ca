//! Arbitrary sequences of every transition, checking after each step what
//! must always hold of a workflow and its agents.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::audit::Attempt;
use crate::event::{AgentEvent, EventKind};
use crate::events::DomainEvent;
use crate::record;
use crate::run::NewRun;

const DELIVERIES: [&str; 2] = [
    "00000000-0000-4000-8000-000000000001",
    "00000000-0000-4000-8000-000000000002",
];
const SYNCS: [&str; 3] = ["sync-0", "sync-1", "sync-2"];

#[derive(Clone, Debug)]
enum Op {
    Record {
        agent: usize,
        kind: usize,
        execution: Option<u8>,
        with_data: bool,
        refused: bool,
    },
    AcceptTrigger {
        delivery: usize,
        attempts: u32,
    },
    DeadLetterTrigger {
        delivery: usize,
        attempts: u32,
    },
    NoteTriggerRetry {
        attempts: u32,
    },
    Expire,
    Pause,
    RefusedAgain,
    Resume,
    ForceSyncRun {
        sync: usize,
    },
    ResumeRun,
    RequestForceSync {
        sync: usize,
    },
    ClaimRetrigger {
        agent: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..9usize, 0..5usize, proptest::option::of(0..3u8), any::<bool>(), prop::bool::weighted(0.3))
            .prop_map(|(agent, kind, execution, with_data, refused)| Op::Record {
                agent, kind, execution, with_data, refused
            }),
        2 => (0..2usize, 1..8u32).prop_map(|(delivery, attempts)| Op::AcceptTrigger { delivery, attempts }),
        2 => (0..2usize, 1..8u32).prop_map(|(delivery, attempts)| Op::DeadLetterTrigger { delivery, attempts }),
        1 => (1..8u32).prop_map(|attempts| Op::NoteTriggerRetry { attempts }),
        1 => Just(Op::Expire),
        1 => Just(Op::Pause),
        1 => Just(Op::RefusedAgain),
        1 => Just(Op::Resume),
        1 => (0..3usize).prop_map(|sync| Op::ForceSyncRun { sync }),
        1 => Just(Op::ResumeRun),
        1 => (0..3usize).prop_map(|sync| Op::RequestForceSync { sync }),
        1 => (0..9usize).prop_map(|agent| Op::ClaimRetrigger { agent }),
    ]
}

fn refused() -> Vec<RefusedService> {
    vec![RefusedService {
        service: "odp".into(),
        status: 401,
    }]
}

fn event(
    agent: AgentId,
    kind: usize,
    execution: Option<u8>,
    data: bool,
    refused: bool,
) -> AgentEvent {
    let kinds = [
        EventKind::Started,
        EventKind::Progress,
        EventKind::Completed,
        EventKind::Failed,
        EventKind::TimedOut,
    ];
    let mut e = AgentEvent::deadline_expired("w", agent, 0, 0);
    e.kind = kinds[kind];
    e.dedup_key = "webhook".into();
    e.error = None;
    e.execution_id = execution.map(|n| format!("exec-{n}"));
    e.agent_data = (data && e.kind == EventKind::Completed).then(|| Arc::new(json!({})));
    // Only a failed execution may say Optimizely refused its key.
    e.optimizely_refused = (refused && e.kind == EventKind::Failed).then(|| RefusedService {
        service: "experimentation".into(),
        status: 403,
    });
    e
}

/// What a step told other systems and whether it may leave a terminal status.
struct Step {
    events: Vec<DomainEvent>,
    may_reopen: bool,
}

fn apply(op: &Op, w: &mut Workflow, agents: &mut [AgentState], now: OffsetDateTime) -> Step {
    let told = |t: Option<Transition>| Step {
        events: t.map(|t| t.events).unwrap_or_default(),
        may_reopen: false,
    };
    let quiet = Step {
        events: Vec::new(),
        may_reopen: false,
    };
    match op {
        Op::Record {
            agent,
            kind,
            execution,
            with_data,
            refused,
        } => {
            let e = event(
                AgentId::ALL[*agent],
                *kind,
                *execution,
                *with_data,
                *refused,
            );
            let recording = record::apply(&e, &Attempt::internal(now, None), w, agents)
                .expect("all nine agents");
            told(None).with(recording.outcome.domain_events(&e, now))
        }
        Op::AcceptTrigger { delivery, attempts } => {
            let id = DELIVERIES[*delivery];
            // A redriven trigger revives a workflow that failed to start.
            let revives = w.status == WorkflowStatus::Failed
                && w.trigger.dead_lettered_delivery_id.as_deref() == Some(id);
            Step {
                may_reopen: revives,
                ..told(w.accept_trigger(id, *attempts, agents, now))
            }
        }
        Op::DeadLetterTrigger { delivery, attempts } => {
            told(w.dead_letter_trigger(DELIVERIES[*delivery], *attempts, "gone", now))
        }
        Op::NoteTriggerRetry { attempts } => {
            w.note_trigger_retry(*attempts, "503", now);
            quiet
        }
        Op::Expire => told(w.expire(now, 1.0)),
        Op::Pause => told(w.pause_for_credentials(refused(), agents, now)),
        Op::RefusedAgain => {
            w.note_refused_again(&refused(), now);
            quiet
        }
        Op::Resume => told(w.resume(agents, now)),
        Op::ForceSyncRun { sync } => {
            let why = NewRun::ForceSync {
                sync_id: SYNCS[*sync],
            };
            w.start_run(agents, why, now, 1.0);
            Step {
                may_reopen: true,
                ..quiet
            }
        }
        Op::ResumeRun => {
            w.start_run(agents, NewRun::Resume, now, 1.0);
            Step {
                may_reopen: true,
                ..quiet
            }
        }
        Op::RequestForceSync { sync } => {
            let request = ForceSyncRequest {
                sync_id: SYNCS[*sync].into(),
                sync_scope: None,
                include_rag_update: false,
                triggered_by: None,
            };
            w.request_force_sync(&request, now);
            quiet
        }
        Op::ClaimRetrigger { agent } => {
            w.claim_retrigger(AgentId::ALL[*agent]);
            quiet
        }
    }
}

impl Step {
    fn with(mut self, events: Vec<DomainEvent>) -> Step {
        self.events.extend(events);
        self
    }
}

/// A workflow created from a valid intake at `now` (the unit tests use it too).
pub(super) fn new_workflow(now: OffsetDateTime) -> (Workflow, Vec<AgentState>) {
    let body = json!({
        "business_context": {"company_name": "Acme", "industry": "retail", "goals": ["Grow"],
                             "target_audience": "Outdoor enthusiasts in North America"},
        "optimizely_config": {"project_id": "42",
                              "workspace_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
        "analysis_preferences": {"analysis_depth": "standard", "focus_areas": ["content"],
                                 "timeline": "90d"}
    });
    let intake = crate::intake::parse_intake(body.to_string().as_bytes()).expect("intake");
    Workflow::create(&intake, "w".into(), "c".into(), now, 1.0)
}

/// The invariants of a workflow and its agents, whatever happened before.
fn check(w: &Workflow, agents: &[AgentState]) -> Result<(), TestCaseError> {
    let progress = Progress::of(agents);
    // The status is what the aggregate rule makes of the agents.
    prop_assert_eq!(
        progress.workflow_status(w.status),
        w.status,
        "status vs agents"
    );
    let percent = if w.status.is_terminal() {
        100
    } else {
        progress.percent()
    };
    prop_assert_eq!(w.progress_percent, percent, "progress");
    prop_assert_eq!(
        w.finished_at.is_some(),
        w.status.is_terminal(),
        "finished_at"
    );
    if w.status == WorkflowStatus::CredentialsInvalid {
        prop_assert!(w.credentials_pause.is_some(), "a pause says why");
    }
    // The live stream ends where the workflow stands.
    let last = w.history.iter().rev().find_map(|c| match c {
        Change::Workflow { status, .. } => Some(*status),
        _ => None,
    });
    prop_assert_eq!(last.unwrap_or(WorkflowStatus::Pending), w.status, "history");
    prop_assert!(
        agents.iter().all(|a| a.run <= w.run),
        "agents of a later run"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn every_sequence_of_transitions_keeps_the_workflow_consistent(
        steps in proptest::collection::vec((op(), 0..400i64), 1..100)
    ) {
        let mut now = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        let (mut w, mut agents) = new_workflow(now);
        check(&w, &agents)?;
        for (op, secs) in &steps {
            now += Duration::seconds(*secs);
            let before = w.clone();
            let step = apply(op, &mut w, &mut agents, now);
            check(&w, &agents).map_err(|e| TestCaseError::fail(format!("after {op:?}: {e}")))?;
            if before.status.is_terminal() && !step.may_reopen {
                prop_assert_eq!(w.status, before.status, "terminal is final: {:?}", op);
            }
            // The history only grows.
            prop_assert!(w.history.starts_with(&before.history), "history rewritten by {:?}", op);
            // The end is told once, exactly when a step ends the workflow.
            let ended = w.status.is_terminal() && w.status != before.status;
            let finished: Vec<WorkflowStatus> = step.events.iter().filter_map(|e| match e {
                DomainEvent::WorkflowFinished { status, .. } => Some(*status),
                _ => None,
            }).collect();
            let expected = if ended { vec![w.status] } else { Vec::new() };
            prop_assert_eq!(finished, expected, "finished events of {:?}", op);
        }
    }
}
