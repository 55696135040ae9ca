//! The warnings a strategy carries: what a reader should know about its inputs
//! (missing, late or unsure agents) and about its recommendations.

use super::{Coverage, Recommendation, Warning};
use crate::agents::AgentId;

fn agent_list(agents: &[AgentId]) -> String {
    agents
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn warnings<'a>(
    coverage: &[Coverage],
    recommendations: impl Iterator<Item = &'a Recommendation>,
) -> Vec<Warning> {
    let mut out = Vec::new();
    let missing: Vec<AgentId> = coverage
        .iter()
        .filter(|c| c.data_quality.is_none())
        .map(|c| c.agent)
        .collect();
    if !missing.is_empty() {
        out.push(Warning {
            code: "partial_results",
            message: format!(
                "Partial results: no output from {} of 9 agents ({}).",
                missing.len(),
                agent_list(&missing)
            ),
            agents: missing,
        });
    }
    let late: Vec<AgentId> = coverage
        .iter()
        .filter(|c| c.late)
        .map(|c| c.agent)
        .collect();
    if !late.is_empty() {
        out.push(Warning {
            code: "late_results",
            message: format!(
                "Arrived after their deadline and were included: {}.",
                agent_list(&late)
            ),
            agents: late,
        });
    }
    let low: Vec<AgentId> = coverage
        .iter()
        .filter(|c| c.data_quality.is_some() && c.confidence.is_some_and(|v| v < 0.5))
        .map(|c| c.agent)
        .collect();
    if !low.is_empty() {
        out.push(Warning {
            code: "low_confidence",
            message: format!("Low confidence (under 50%) from: {}.", agent_list(&low)),
            agents: low,
        });
    }
    let (mut total, mut disputed) = (0usize, 0usize);
    for r in recommendations {
        total += 1;
        disputed += usize::from(r.disagreement);
    }
    if disputed > 0 {
        out.push(Warning {
            code: "conflicting_assessments",
            message: format!(
                "{disputed} recommendation(s) were rated differently by different agents; a confidence-weighted vote settled each (see its settlement)."
            ),
            agents: vec![],
        });
    }
    if total == 0 {
        out.push(Warning {
            code: "no_recommendations",
            message: "No agent reported an opportunity, so there is nothing to rank yet.".into(),
            agents: vec![],
        });
    }
    out
}
