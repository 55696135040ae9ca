//! Monitoring read models over a window of recent workflows:
//! confidence statistics (`/api/admin/monitoring/confidence-metrics`) and how
//! often OSA fell back (`/api/admin/monitoring/fallback-stats`). Pure: the
//! caller reads the workflows and their agents.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use super::agents::AgentId;
use super::metrics::confidence_level;
use super::synthesis::unify_confidence;
use super::workflow::{AgentState, AgentStatus, Workflow, WorkflowStatus};

/// One workflow of the window, with its agents.
#[derive(Debug, Clone)]
pub struct Run {
    pub workflow: Workflow,
    pub agents: Vec<AgentState>,
}

/// The workflows the statistics cover.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Window {
    /// How many workflows were asked for.
    pub limit: usize,
    /// How many there were.
    pub workflows: usize,
    /// Creation time of the oldest and the newest workflow in the window.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub from: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub to: Option<OffsetDateTime>,
}

impl Window {
    pub fn of(runs: &[Run], limit: usize) -> Window {
        Window {
            limit,
            workflows: runs.len(),
            from: runs.iter().map(|r| r.workflow.created_at).min(),
            to: runs.iter().map(|r| r.workflow.created_at).max(),
        }
    }
}

// ---- confidence ---------------------------------------------------------------

/// Results by confidence level (see [`confidence_level`]); `unknown`: a result
/// without a confidence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Levels {
    pub low: u64,
    pub medium: u64,
    pub high: u64,
    pub unknown: u64,
}

/// Confidence statistics of a set of agent results. Confidence is unified to
/// 0–1; mean, min and max are over the results that carry one (`None` when none do).
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ConfidenceStats {
    /// Results delivered: completed agents, and late results kept.
    pub results: u64,
    /// Of those, how many carry a confidence.
    pub with_confidence: u64,
    pub mean: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub levels: Levels,
    #[serde(skip)]
    sum: f64,
}

impl ConfidenceStats {
    fn add(&mut self, confidence: Option<f64>) {
        self.results += 1;
        let confidence = confidence.map(unify_confidence);
        match confidence_level(confidence) {
            "high" => self.levels.high += 1,
            "medium" => self.levels.medium += 1,
            "low" => self.levels.low += 1,
            _ => self.levels.unknown += 1,
        }
        if let Some(c) = confidence {
            self.with_confidence += 1;
            self.sum += c;
            self.min = Some(self.min.map_or(c, |m| m.min(c)));
            self.max = Some(self.max.map_or(c, |m| m.max(c)));
            self.mean = Some(round4(self.sum / self.with_confidence as f64));
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AgentConfidence {
    pub agent_id: AgentId,
    #[serde(flatten)]
    pub stats: ConfidenceStats,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ConfidenceMetrics {
    pub window: Window,
    pub overall: ConfidenceStats,
    /// Every agent of the catalogue, in catalogue order (zeros when it has none).
    pub agents: Vec<AgentConfidence>,
}

/// An agent delivered a result: it completed, or its result came late and was kept.
fn delivered(a: &AgentState) -> bool {
    a.status == AgentStatus::Completed || a.late_result_at.is_some()
}

pub fn confidence_metrics(runs: &[Run], limit: usize) -> ConfidenceMetrics {
    let mut overall = ConfidenceStats::default();
    let mut by_agent: BTreeMap<AgentId, ConfidenceStats> = AgentId::ALL
        .into_iter()
        .map(|a| (a, ConfidenceStats::default()))
        .collect();
    for a in runs.iter().flat_map(|r| &r.agents).filter(|a| delivered(a)) {
        overall.add(a.confidence);
        by_agent.entry(a.agent).or_default().add(a.confidence);
    }
    ConfidenceMetrics {
        window: Window::of(runs, limit),
        overall,
        agents: AgentId::ALL
            .into_iter()
            .map(|agent_id| AgentConfidence {
                agent_id,
                stats: by_agent.remove(&agent_id).unwrap_or_default(),
            })
            .collect(),
    }
}

// ---- fallbacks ----------------------------------------------------------------

/// How often agents fell back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AgentFallbacks {
    /// Agent executions in the window.
    pub executions: u64,
    /// Timed out without a result (in time).
    pub timed_out: u64,
    pub failed: u64,
    /// Results that came after the timeout and were kept, marked late.
    pub late_results_kept: u64,
    /// Agents OSA re-triggered.
    pub retriggered: u64,
    /// (timed out + failed) / executions; `None` without executions.
    pub fallback_rate: Option<f64>,
}

impl AgentFallbacks {
    fn add(&mut self, a: &AgentState, retriggered: bool) {
        self.executions += 1;
        match a.status {
            AgentStatus::TimedOut => self.timed_out += 1,
            AgentStatus::Failed => self.failed += 1,
            _ => {}
        }
        if a.late_result_at.is_some() {
            self.late_results_kept += 1;
        }
        if retriggered {
            self.retriggered += 1;
        }
        self.fallback_rate = Some(round4(
            (self.timed_out + self.failed) as f64 / self.executions as f64,
        ));
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AgentFallbackRow {
    pub agent_id: AgentId,
    #[serde(flatten)]
    pub stats: AgentFallbacks,
}

/// Workflows by how they ended (or stand).
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct WorkflowOutcomes {
    pub total: u64,
    pub completed: u64,
    pub partial: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub credentials_invalid: u64,
    /// Pending or running.
    pub in_progress: u64,
    /// Finished workflows that did not complete: (partial + failed + timed out) /
    /// finished; `None` when none finished.
    pub degraded_rate: Option<f64>,
}

/// The OPAL trigger.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TriggerFallbacks {
    /// Triggers that needed more than one attempt.
    pub retried: u64,
    /// Triggers whose delivery is dead-lettered (the workflow failed to start).
    pub dead_lettered: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FallbackStats {
    pub window: Window,
    pub workflows: WorkflowOutcomes,
    pub agents: AgentFallbacks,
    pub by_agent: Vec<AgentFallbackRow>,
    pub opal_triggers: TriggerFallbacks,
}

pub fn fallback_stats(runs: &[Run], limit: usize) -> FallbackStats {
    let mut workflows = WorkflowOutcomes::default();
    let mut agents = AgentFallbacks::default();
    let mut by_agent: BTreeMap<AgentId, AgentFallbacks> = AgentId::ALL
        .into_iter()
        .map(|a| (a, AgentFallbacks::default()))
        .collect();
    let mut opal_triggers = TriggerFallbacks::default();
    for run in runs {
        let w = &run.workflow;
        workflows.total += 1;
        match w.status {
            WorkflowStatus::Completed => workflows.completed += 1,
            WorkflowStatus::Partial => workflows.partial += 1,
            WorkflowStatus::Failed => workflows.failed += 1,
            WorkflowStatus::TimedOut => workflows.timed_out += 1,
            WorkflowStatus::CredentialsInvalid => workflows.credentials_invalid += 1,
            WorkflowStatus::Pending | WorkflowStatus::Running => workflows.in_progress += 1,
        }
        if w.trigger.attempts > 1 {
            opal_triggers.retried += 1;
        }
        if w.trigger.dead_lettered_delivery_id.is_some() {
            opal_triggers.dead_lettered += 1;
        }
        // Agents of a run OPAL never started (its trigger dead-lettered, or paused
        // for credentials before it) did not execute: the failure is the
        // trigger's, counted above, not nine agents' at a 0 % fallback rate.
        let started = w.agents_could_start_at().is_some();
        for a in run
            .agents
            .iter()
            .filter(|a| started || a.status != AgentStatus::Pending)
        {
            let retriggered = w.retriggered_agents.contains(&a.agent);
            agents.add(a, retriggered);
            by_agent.entry(a.agent).or_default().add(a, retriggered);
        }
    }
    let finished = workflows.completed + workflows.partial + workflows.failed + workflows.timed_out;
    workflows.degraded_rate = (finished > 0).then(|| {
        round4(
            (workflows.partial + workflows.failed + workflows.timed_out) as f64 / finished as f64,
        )
    });
    FallbackStats {
        window: Window::of(runs, limit),
        workflows,
        agents,
        by_agent: AgentId::ALL
            .into_iter()
            .map(|agent_id| AgentFallbackRow {
                agent_id,
                stats: by_agent.remove(&agent_id).unwrap_or_default(),
            })
            .collect(),
        opal_triggers,
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::parse_intake;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2025-11-03 10:00 UTC);

    fn run(minutes: i64) -> Run {
        let intake = parse_intake(
            serde_json::json!({
                "business_context": {"company_name": "Acme", "industry": "media", "goals": ["Grow"],
                                     "target_audience": "Readers of long-form journalism"},
                "optimizely_config": {"project_id": "42", "workspace_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
                "analysis_preferences": {"analysis_depth": "standard", "focus_areas": ["content"], "timeline": "30d"}
            })
            .to_string()
            .as_bytes(),
        )
        .expect("intake");
        let at = T0 + time::Duration::minutes(minutes);
        let (mut workflow, agents) =
            Workflow::create(&intake, format!("wf-{minutes}"), "corr".into(), at, 1.0);
        workflow.trigger.accepted_at = Some(at);
        Run { workflow, agents }
    }

    fn set(run: &mut Run, agent: AgentId, status: AgentStatus, confidence: Option<f64>) {
        let a = run
            .agents
            .iter_mut()
            .find(|a| a.agent == agent)
            .expect("agent");
        a.status = status;
        a.confidence = confidence;
    }

    #[test]
    fn confidence_over_results_only_per_agent_and_overall() {
        let [a, b, ..] = AgentId::ALL;
        let mut first = run(0);
        set(&mut first, a, AgentStatus::Completed, Some(0.9));
        set(&mut first, b, AgentStatus::Completed, Some(0.5));
        // A failed agent's confidence is no result's.
        set(&mut first, AgentId::ALL[2], AgentStatus::Failed, Some(0.1));
        let mut second = run(5);
        // 0–100 scale is unified.
        set(&mut second, a, AgentStatus::Completed, Some(30.0));
        set(&mut second, b, AgentStatus::Completed, None);
        // A late result kept counts.
        set(
            &mut second,
            AgentId::ALL[3],
            AgentStatus::TimedOut,
            Some(0.79),
        );
        second.agents[3].late_result_at = Some(T0);

        let m = confidence_metrics(&[second, first], 50);
        assert_eq!(m.window.workflows, 2);
        assert_eq!(m.window.limit, 50);
        assert_eq!(m.window.from, Some(T0));
        assert_eq!(m.window.to, Some(T0 + time::Duration::minutes(5)));
        assert_eq!(m.overall.results, 5);
        assert_eq!(m.overall.with_confidence, 4);
        assert_eq!(m.overall.min, Some(0.3));
        assert_eq!(m.overall.max, Some(0.9));
        assert_eq!(m.overall.mean, Some(round4((0.9 + 0.5 + 0.3 + 0.79) / 4.0)));
        assert_eq!(
            m.overall.levels,
            Levels {
                low: 1,
                medium: 2,
                high: 1,
                unknown: 1
            }
        );
        assert_eq!(m.agents.len(), 9);
        let first_agent = &m.agents[0];
        assert_eq!(first_agent.agent_id, a);
        assert_eq!(first_agent.stats.results, 2);
        assert_eq!(first_agent.stats.mean, Some(0.6));
        assert_eq!(m.agents[1].stats.levels.unknown, 1);
        assert_eq!(m.agents[2].stats.results, 0, "failed: no result");
        assert_eq!(m.agents[2].stats.mean, None);
        assert_eq!(m.agents[3].stats.levels.medium, 1);
    }

    #[test]
    fn confidence_of_an_empty_window() {
        let m = confidence_metrics(&[], 10);
        assert_eq!(m.overall, ConfidenceStats::default());
        assert_eq!(m.window.from, None);
        assert_eq!(m.agents.len(), 9);
        let json = serde_json::to_value(&m).expect("json");
        assert_eq!(json["overall"]["mean"], serde_json::Value::Null);
        assert!(json["overall"].get("sum").is_none());
        assert_eq!(json["agents"][0]["results"], 0);
    }

    #[test]
    fn fallbacks_count_agents_workflows_and_triggers() {
        let [a, b, c, ..] = AgentId::ALL;
        let mut partial = run(0);
        set(&mut partial, a, AgentStatus::TimedOut, None);
        partial.agents[0].late_result_at = Some(T0);
        set(&mut partial, b, AgentStatus::Failed, None);
        set(&mut partial, c, AgentStatus::Completed, Some(0.8));
        partial.workflow.retriggered_agents = vec![b];
        partial.workflow.status = WorkflowStatus::Partial;
        partial.workflow.trigger.attempts = 3;
        let mut dead = run(1);
        dead.workflow.status = WorkflowStatus::Failed;
        dead.workflow.trigger.attempts = 5;
        dead.workflow.trigger.dead_lettered_delivery_id = Some("d-1".into());
        dead.workflow.trigger.accepted_at = None;
        let mut paused = run(2);
        paused.workflow.status = WorkflowStatus::CredentialsInvalid;
        paused.workflow.trigger.accepted_at = None;
        let mut done = run(3);
        done.workflow.status = WorkflowStatus::Completed;
        done.workflow.trigger.attempts = 1;
        let mut late = run(4);
        late.workflow.status = WorkflowStatus::TimedOut;
        set(&mut late, a, AgentStatus::TimedOut, None);
        let running = run(5);

        let s = fallback_stats(&[partial, dead, paused, done, late, running], 50);
        assert_eq!(
            s.workflows,
            WorkflowOutcomes {
                total: 6,
                completed: 1,
                partial: 1,
                failed: 1,
                timed_out: 1,
                credentials_invalid: 1,
                in_progress: 1,
                degraded_rate: Some(0.75),
            }
        );
        // Four runs started (the dead-lettered and the paused one did not).
        assert_eq!(s.agents.executions, 36);
        assert_eq!(s.agents.timed_out, 2);
        assert_eq!(s.agents.failed, 1);
        assert_eq!(s.agents.late_results_kept, 1);
        assert_eq!(s.agents.retriggered, 1);
        assert_eq!(s.agents.fallback_rate, Some(round4(3.0 / 36.0)));
        let first = &s.by_agent[0];
        assert_eq!(first.agent_id, a);
        assert_eq!(first.stats.timed_out, 2);
        assert_eq!(first.stats.late_results_kept, 1);
        assert_eq!(first.stats.fallback_rate, Some(round4(2.0 / 4.0)));
        assert_eq!(s.by_agent[1].stats.retriggered, 1);
        assert_eq!(s.by_agent[2].stats.fallback_rate, Some(0.0));
        assert_eq!(
            s.opal_triggers,
            TriggerFallbacks {
                retried: 2,
                dead_lettered: 1
            }
        );
    }

    #[test]
    fn a_dead_lettered_trigger_is_a_failed_trigger_not_nine_agent_executions() {
        let mut dead = run(0);
        dead.workflow.status = WorkflowStatus::Failed;
        dead.workflow.trigger.attempts = 5;
        dead.workflow.trigger.accepted_at = None;
        dead.workflow.trigger.dead_lettered_delivery_id = Some("d-1".into());
        let s = fallback_stats(&[dead], 50);
        assert_eq!(s.workflows.failed, 1);
        assert_eq!(s.opal_triggers.dead_lettered, 1);
        assert_eq!(s.agents.executions, 0);
        assert_eq!(s.agents.fallback_rate, None);
        assert!(s.by_agent.iter().all(|row| row.stats.executions == 0));
    }

    #[test]
    fn fallbacks_of_an_empty_window() {
        let s = fallback_stats(&[], 50);
        assert_eq!(s.workflows.total, 0);
        assert_eq!(s.workflows.degraded_rate, None);
        assert_eq!(s.agents.fallback_rate, None);
        assert_eq!(s.by_agent.len(), 9);
    }
}
