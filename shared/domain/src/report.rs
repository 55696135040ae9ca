//! The strategy report of a workflow: the synthesis over its stored results, as
//! JSON and as Markdown for export.

use serde::{Deserialize as _, Serialize};
use time::OffsetDateTime;

use super::agent_output::{AgentOutput, Level};
use super::agents::AgentId;
use super::intake::{FocusArea, Timeline};
use super::record::AgentResult;
use super::synthesis::{AgentInput, Recommendation, Strategy, SynthesisInput, synthesise};
use super::workflow::{AgentState, AgentStatus, Workflow, WorkflowStatus};

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub workflow_id: String,
    pub company_name: String,
    pub status: WorkflowStatus,
    /// The workflow has finished: no agent can change the strategy any more,
    /// except a late result, which is kept and marked.
    #[serde(rename = "final")]
    pub is_final: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub generated_at: OffsetDateTime,
    pub timeline: Timeline,
    pub focus_areas: Vec<FocusArea>,
    /// The workflow's current run (0: the first; each Force Sync starts one).
    pub run: u32,
    /// Which run each agent's result came from, and when it arrived.
    pub results_from: Vec<ResultSource>,
    #[serde(flatten)]
    pub strategy: Strategy,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ResultSource {
    pub agent: AgentId,
    pub run: u32,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub received_at: OffsetDateTime,
}

/// Builds the report from the stored results: the newest complete data of
/// each agent. An agent whose current run has not (or not yet) completed
/// counts with the result of an earlier run, if it has one.
pub fn build_report(
    workflow: &Workflow,
    agents: &[AgentState],
    results: &[AgentResult],
    now: OffsetDateTime,
) -> Report {
    let prefs = &workflow.analysis_preferences;
    let input = SynthesisInput {
        timeline: prefs.timeline,
        focus_areas: prefs.focus_areas.clone(),
        agents: agents
            .iter()
            .map(|a| {
                let result = results.iter().find(|r| r.agent == a.agent);
                let earlier =
                    result.filter(|_| a.completed_before && a.status != AgentStatus::Completed);
                AgentInput {
                    agent: a.agent,
                    status: if earlier.is_some() {
                        AgentStatus::Completed
                    } else {
                        a.status
                    },
                    confidence: earlier.map_or(a.confidence, |r| r.confidence),
                    // Validated when it arrived; stored after PII redaction, so read
                    // it leniently: an unreadable document counts as no output.
                    output: result.and_then(|r| AgentOutput::deserialize(&*r.agent_data).ok()),
                    late: earlier.is_none() && a.late_result_at.is_some(),
                }
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
        run: workflow.run,
        results_from: results
            .iter()
            .map(|r| ResultSource {
                agent: r.agent,
                run: r.run,
                received_at: r.received_at,
            })
            .collect(),
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

fn agents(list: &[AgentId]) -> String {
    list.iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted(text: &str) -> String {
    format!("\u{201c}{}\u{201d}", cell(text))
}

/// The table of ranked recommendations (or the backlog).
fn recommendation_table(md: &mut String, list: &[Recommendation], with_phase: bool) {
    use std::fmt::Write as _;
    let _ = writeln!(
        md,
        "| # | Recommendation | Impact | Effort | Confidence | Score | Agents |{}",
        if with_phase { " Phase |" } else { "" }
    );
    let _ = writeln!(
        md,
        "|---|---|---|---|---|---|---|{}",
        if with_phase { "---|" } else { "" }
    );
    for r in list {
        let phase = if with_phase {
            format!(
                " {} |",
                r.phase
                    .map_or_else(|| "backlog".to_owned(), |p| p.to_string())
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            md,
            "| {} | {}{}{} | {} | {} | {} | {:.1} | {} |{phase}",
            r.rank,
            cell(&r.label),
            if r.disagreement { " ⚖" } else { "" },
            if r.prerequisite_for.is_empty() {
                ""
            } else {
                " ↑"
            },
            level(r.impact),
            level(r.effort),
            percent(Some(r.confidence)),
            r.score,
            agents(&r.supporting_agents),
        );
    }
}

/// Why each recommendation ranks where it does: the score's parts in points.
fn breakdown_table(md: &mut String, list: &[Recommendation]) {
    use std::fmt::Write as _;
    let _ = writeln!(
        md,
        "| # | Score | Impact (30) | Ease (20) | Confidence (25) | Reliability (10) | Support (10) | Focus (5) |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for r in list {
        let b = &r.score_breakdown;
        let _ = writeln!(
            md,
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.rank,
            r.score,
            b.impact.points,
            b.ease.points,
            b.confidence.points,
            b.reliability.points,
            b.support.points,
            b.focus.points
        );
    }
}

/// Per recommendation: other wordings, each agent's rating, the settlement,
/// what comes first and the evidence.
fn details(md: &mut String, list: &[Recommendation]) {
    use std::fmt::Write as _;
    for r in list {
        let _ = writeln!(md, "**{}. {}**\n", r.rank, cell(&r.label));
        if !r.also_reported_as.is_empty() {
            let other: Vec<String> = r.also_reported_as.iter().map(|l| quoted(l)).collect();
            let _ = writeln!(md, "- Also reported as {}", other.join(", "));
        }
        let rated: Vec<String> = r
            .assessments
            .iter()
            .map(|a| {
                format!(
                    "{} ({} impact, {} effort, {})",
                    a.agent.as_str(),
                    level(a.impact),
                    level(a.effort),
                    percent(Some(a.confidence))
                )
            })
            .collect();
        let _ = writeln!(md, "- Rated by {}", rated.join("; "));
        if let Some(note) = &r.settlement {
            let _ = writeln!(md, "- Settled: {}", cell(note));
        }
        if !r.prerequisite_for.is_empty() {
            let ranks: Vec<String> = r.prerequisite_for.iter().map(|n| format!("#{n}")).collect();
            let _ = writeln!(
                md,
                "- Needed first by {}, so it ranks just above {}",
                ranks.join(", "),
                ranks[0]
            );
        }
        for d in &r.depends_on {
            let _ = writeln!(
                md,
                "- After #{} {} ({}: {})",
                d.rank,
                cell(&d.label),
                d.agent.as_str(),
                quoted(&d.statement)
            );
        }
        for e in &r.evidence {
            let _ = writeln!(md, "- Evidence ({}): {}", e.agent.as_str(), quoted(&e.text));
        }
        let _ = writeln!(md);
    }
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
        super::rfc3339(report.generated_at)
    );
    let _ = writeln!(md, "> {}\n", cell(&s.summary.headline));
    let _ = writeln!(md, "## Executive summary\n");
    let _ = writeln!(md, "{}\n", cell(&s.summary.executive_summary.join(" ")));
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
    let _ = writeln!(
        md,
        "- Opportunities reported: {}, merged into {} recommendations ({} ranked, {} in the backlog)",
        s.summary.opportunities_reported,
        s.summary.recommendations_merged,
        s.recommendations.len(),
        s.backlog.len()
    );
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
        recommendation_table(&mut md, &s.recommendations, true);
        let _ = writeln!(
            md,
            "\n⚖ the agents rated impact or effort differently; ↑ needed first by a recommendation below it. See the details.\n"
        );
        let _ = writeln!(md, "### Why this order\n");
        let _ = writeln!(
            md,
            "Points each part adds to the score (its weight in brackets). A recommendation an agent named as a prerequisite ranks just above the first one that needs it.\n"
        );
        breakdown_table(&mut md, &s.recommendations);
        let _ = writeln!(md, "\n### Details\n");
        details(&mut md, &s.recommendations);
    }
    let _ = writeln!(md, "## Roadmap\n");
    for phase in &s.roadmap {
        let _ = writeln!(
            md,
            "### Phase {}: {} (days {}–{})\n",
            phase.phase, phase.name, phase.start_day, phase.end_day
        );
        let _ = writeln!(md, "Goal: {}\n", cell(&phase.goal));
        for (i, rank) in phase.recommendations.iter().enumerate() {
            if let Some(r) = s.recommendations.iter().find(|r| r.rank == *rank) {
                let after: Vec<String> = r
                    .depends_on
                    .iter()
                    .map(|d| format!("#{}", d.rank))
                    .collect();
                let _ = writeln!(
                    md,
                    "{}. #{} {} (impact {}, effort {}){}",
                    i + 1,
                    rank,
                    cell(&r.label),
                    level(r.impact),
                    level(r.effort),
                    if after.is_empty() {
                        String::new()
                    } else {
                        format!(", after {}", after.join(", "))
                    }
                );
            }
        }
        if !phase.kpis.is_empty() {
            let kpis: Vec<String> = phase
                .kpis
                .iter()
                .map(|k| {
                    format!(
                        "{} {} today ({}{})",
                        cell(&k.name),
                        cell(&k.baseline),
                        k.agent.as_str(),
                        k.note
                            .as_ref()
                            .map_or_else(String::new, |n| format!("; {}", cell(n)))
                    )
                })
                .collect();
            let _ = writeln!(md, "\nKPIs: {}", kpis.join(" · "));
        }
        let _ = writeln!(md);
    }
    if !s.backlog.is_empty() {
        let _ = writeln!(md, "## Backlog\n");
        let _ = writeln!(
            md,
            "Ranked below every scheduled recommendation; pick from here as the roadmap frees capacity.\n"
        );
        recommendation_table(&mut md, &s.backlog, false);
        let _ = writeln!(md);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent_output::tests::sample;
    use crate::workflow::AgentStatus;

    /// A report over one agent with 22 distinct opportunities and a stated order.
    fn report() -> Report {
        const WORDS: [&str; 22] = [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
            "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
            "sierra", "tango", "uniform", "victor",
        ];
        let mut data = sample();
        data["opportunities"] = WORDS
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let impact = ["High", "Medium", "Low"][i % 3];
                let effort = ["Low", "Medium"][i % 2];
                serde_json::json!({
                    "label": format!("Launch the {w} initiative"),
                    "impactLevel": impact,
                    "effortLevel": effort,
                    "confidence": 90 - i
                })
            })
            .collect();
        data["insights"][0]["bullets"] = serde_json::json!([
            "Launch the victor initiative before launching the alpha initiative.",
            "The bravo initiative lifted conversion by 4.2% in a pilot."
        ]);
        let output = AgentOutput::deserialize(&data).expect("sample output");
        let strategy = synthesise(&SynthesisInput {
            timeline: Timeline::Days60,
            focus_areas: vec![FocusArea::Content],
            agents: vec![AgentInput {
                agent: AgentId::ContentReview,
                status: AgentStatus::Completed,
                confidence: None,
                output: Some(output),
                late: false,
            }],
        });
        Report {
            workflow_id: "wf-1".into(),
            company_name: "Acme | Outdoor".into(),
            status: WorkflowStatus::Completed,
            is_final: true,
            generated_at: OffsetDateTime::UNIX_EPOCH,
            timeline: Timeline::Days60,
            focus_areas: vec![FocusArea::Content],
            run: 0,
            results_from: Vec::new(),
            strategy,
        }
    }

    #[test]
    fn markdown_carries_the_ranked_list_its_reasons_the_roadmap_and_the_backlog() {
        let r = report();
        let md = to_markdown(&r);
        for section in [
            "# Strategy report: Acme \\| Outdoor",
            "## Executive summary",
            "### Why this order",
            "### Details",
            "### Phase 1: Quick wins (days 1–20)",
            "## Backlog",
            "## Agent coverage",
        ] {
            assert!(md.contains(section), "{section} in {md}");
        }
        let s = &r.strategy;
        assert_eq!(s.recommendations.len(), 20);
        assert_eq!(s.backlog.len(), 2);
        // Every recommendation is in exactly one table row of its own.
        for rec in s.recommendations.iter().chain(&s.backlog) {
            let row = format!("| {} | {}", rec.rank, rec.label);
            assert_eq!(md.matches(&row).count(), 1, "{row}");
        }
        // The prerequisite the agent named is ranked first and shown as such.
        let victor = &s.recommendations[0];
        assert_eq!(victor.label, "Launch the victor initiative");
        assert_eq!(victor.prerequisite_for, vec![2]);
        assert!(
            md.contains("| 1 | Launch the victor initiative ↑ |"),
            "{md}"
        );
        assert!(md.contains("- Needed first by #2, so it ranks just above #2"));
        assert!(md.contains("- After #1 Launch the victor initiative (content_review:"));
        assert!(md.contains(
            "- Evidence (content_review): “The bravo initiative lifted conversion by 4.2% in a pilot.”"
        ));
        let b = &s.recommendations[1].score_breakdown;
        assert!(md.contains(&format!(
            "| 2 | {:.1} | {:.1} | {:.1} |",
            s.recommendations[1].score, b.impact.points, b.ease.points
        )));
        for phase in &s.roadmap {
            assert!(md.contains(&format!("Goal: {}", phase.goal)));
        }
        assert!(
            md.contains("KPIs: Avg. score 71/100 today (content_review)"),
            "{md}"
        );
        for sentence in &s.summary.executive_summary {
            assert!(md.contains(sentence.as_str()));
        }
    }

    #[test]
    fn the_json_report_carries_the_same() {
        let json = serde_json::to_value(report()).expect("serialisable");
        assert_eq!(json["recommendations"].as_array().map(Vec::len), Some(20));
        assert_eq!(json["backlog"].as_array().map(Vec::len), Some(2));
        assert_eq!(json["backlog"][0]["phase"], serde_json::Value::Null);
        let first = &json["recommendations"][0];
        for field in [
            "score_breakdown",
            "assessments",
            "evidence",
            "depends_on",
            "prerequisite_for",
        ] {
            assert!(!first[field].is_null(), "{field}");
        }
        assert_eq!(first["score_breakdown"]["impact"]["weight"], 0.3);
        assert!(json["roadmap"][0]["goal"].is_string());
        assert!(json["roadmap"][0]["kpis"].is_array());
        assert!(json["summary"]["executive_summary"].is_array());
    }
}
