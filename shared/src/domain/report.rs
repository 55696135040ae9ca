//! The strategy report of a workflow: the synthesis over its stored results, as
//! JSON and as Markdown for export.

use serde::{Deserialize as _, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::agent_output::{AgentOutput, Level};
use super::agents::AgentId;
use super::intake::{FocusArea, Timeline};
use super::synthesis::{AgentInput, Strategy, SynthesisInput, synthesise};
use super::workflow::{AgentState, Workflow, WorkflowStatus};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub workflow_id: String,
    pub company_name: String,
    pub status: WorkflowStatus,
    /// The workflow has finished: no agent can change the strategy any more,
    /// except a late result, which is kept and marked.
    #[serde(rename = "final")]
    pub is_final: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    pub timeline: Timeline,
    pub focus_areas: Vec<FocusArea>,
    #[serde(flatten)]
    pub strategy: Strategy,
}

/// Builds the report. `results` are the stored `agent_data` documents by agent.
pub fn build_report(
    workflow: &Workflow,
    agents: &[AgentState],
    results: &[(AgentId, &Value)],
    now: OffsetDateTime,
) -> Report {
    let prefs = &workflow.analysis_preferences;
    let input = SynthesisInput {
        timeline: prefs.timeline,
        focus_areas: prefs.focus_areas.clone(),
        agents: agents
            .iter()
            .map(|a| AgentInput {
                agent: a.agent,
                status: a.status,
                confidence: a.confidence,
                // Validated when it arrived; stored after PII redaction, so read
                // it leniently: an unreadable document counts as no output.
                output: results
                    .iter()
                    .find(|(id, _)| *id == a.agent)
                    .and_then(|(_, data)| AgentOutput::deserialize(*data).ok()),
                late: a.late_result_at.is_some(),
            })
            .collect(),
    };
    Report {
        workflow_id: workflow.id.clone(),
        company_name: workflow.business_context.company_name.clone(),
        status: workflow.status,
        is_final: workflow.status.is_terminal(),
        generated_at: now,
        timeline: prefs.timeline,
        focus_areas: prefs.focus_areas.clone(),
        strategy: synthesise(&input),
    }
}

/// Markdown for a table cell or a list item: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.replace(['\n', '\r'], " ").replace('|', "\\|")
}

const fn level(l: Level) -> &'static str {
    match l {
        Level::High => "High",
        Level::Medium => "Medium",
        Level::Low => "Low",
    }
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{:.0}%", v * 100.0))
}

pub fn to_markdown(report: &Report) -> String {
    use std::fmt::Write as _;
    let s = &report.strategy;
    let mut md = String::new();
    let _ = writeln!(md, "# Strategy report: {}\n", cell(&report.company_name));
    let _ = writeln!(
        md,
        "Workflow `{}` · status **{}**{} · {}-day timeline · generated {}\n",
        report.workflow_id,
        report.status.as_str(),
        if report.is_final {
            ""
        } else {
            " (provisional)"
        },
        report.timeline.days(),
        report
            .generated_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    );
    let _ = writeln!(md, "> {}\n", cell(&s.summary.headline));
    let _ = writeln!(md, "## Summary\n");
    let _ = writeln!(
        md,
        "- Agents reporting: {} of {}",
        s.summary.agents_reporting, s.summary.agents_expected
    );
    let _ = writeln!(
        md,
        "- Overall confidence: {}",
        percent(s.summary.overall_confidence)
    );
    for point in &s.summary.key_points {
        let _ = writeln!(md, "- {}", cell(point));
    }
    if !s.warnings.is_empty() {
        let _ = writeln!(md, "\n## Warnings\n");
        for w in &s.warnings {
            let _ = writeln!(md, "- **{}**: {}", w.code, cell(&w.message));
        }
    }
    let _ = writeln!(md, "\n## Ranked recommendations\n");
    if s.recommendations.is_empty() {
        let _ = writeln!(md, "No recommendations yet.");
    } else {
        let _ = writeln!(
            md,
            "| # | Recommendation | Impact | Effort | Confidence | Score | Agents | Phase |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
        for r in &s.recommendations {
            let agents: Vec<&str> = r.supporting_agents.iter().map(|a| a.as_str()).collect();
            let _ = writeln!(
                md,
                "| {} | {}{} | {} | {} | {} | {:.1} | {} | {} |",
                r.rank,
                cell(&r.label),
                if r.disagreement { " ⚖" } else { "" },
                level(r.impact),
                level(r.effort),
                percent(Some(r.confidence)),
                r.score,
                agents.join(", "),
                r.phase
                    .map_or_else(|| "backlog".to_owned(), |p| p.to_string())
            );
        }
    }
    let _ = writeln!(md, "\n## Roadmap\n");
    for phase in &s.roadmap {
        let _ = writeln!(
            md,
            "### Phase {}: {} (days {}–{})\n",
            phase.phase, phase.name, phase.start_day, phase.end_day
        );
        if phase.recommendations.is_empty() {
            let _ = writeln!(md, "Nothing planned.\n");
            continue;
        }
        for rank in &phase.recommendations {
            if let Some(r) = s.recommendations.iter().find(|r| r.rank == *rank) {
                let _ = writeln!(
                    md,
                    "{}. {} (impact {}, effort {})",
                    rank,
                    cell(&r.label),
                    level(r.impact),
                    level(r.effort)
                );
            }
        }
        let _ = writeln!(md);
    }
    if !s.backlog.is_empty() {
        let ranks: Vec<String> = s.backlog.iter().map(|r| format!("#{r}")).collect();
        let _ = writeln!(md, "Backlog: {}\n", ranks.join(", "));
    }
    let _ = writeln!(md, "## Agent coverage\n");
    let _ = writeln!(
        md,
        "| Agent | Status | Confidence | Data quality | Recommendations | Late |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|");
    for c in &s.coverage {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            c.agent.as_str(),
            c.status.as_str(),
            percent(c.confidence),
            percent(c.data_quality),
            c.recommendations,
            if c.late { "yes" } else { "" }
        );
    }
    md
}
