//! The executive summary: three to five sentences from the strongest merged
//! findings, with the agents' own numbers.

use super::evidence::Kpi;
use super::roadmap::Phase;
use super::{Recommendation, Warning};
use crate::agent_output::Level;
use crate::agents::AgentId;

/// How an agent is named in prose.
pub(super) const fn agent_name(agent: AgentId) -> &'static str {
    match agent {
        AgentId::IntegrationHealth => "integration health",
        AgentId::ContentReview => "content review",
        AgentId::GeoAudit => "GEO audit",
        AgentId::AudienceSuggester => "audience",
        AgentId::ExperimentBlueprinter => "experiment blueprint",
        AgentId::PersonalizationIdeaGenerator => "personalization ideas",
        AgentId::CustomerJourney => "customer journey",
        AgentId::RoadmapGenerator => "roadmap",
        AgentId::CmpOrganizer => "CMP organizer",
    }
}

pub(super) const fn level_word(l: Level) -> &'static str {
    match l {
        Level::High => "high",
        Level::Medium => "medium",
        Level::Low => "low",
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "a", "a and b", "a, b and c".
pub(super) fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn quoted(label: &str) -> String {
    format!("\u{201c}{label}\u{201d}")
}

/// A metric label inside a sentence: lowercased unless it starts with an acronym.
fn in_sentence(label: &str) -> String {
    let mut chars = label.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && !second.is_uppercase() => {
            first.to_lowercase().chain(label.chars().skip(1)).collect()
        }
        _ => label.to_owned(),
    }
}

/// What the summary is built from.
pub(super) struct Facts<'a> {
    pub(super) agents_reporting: usize,
    pub(super) opportunities_reported: usize,
    pub(super) short_list: &'a [Recommendation],
    pub(super) backlog: usize,
    pub(super) roadmap: &'a [Phase],
    pub(super) days: u32,
    pub(super) warnings: &'a [Warning],
    pub(super) kpis: &'a [Kpi],
}

pub(super) fn headline(f: &Facts) -> String {
    match f.short_list.first() {
        Some(top) => format!(
            "{} to act on from {} of 9 agents{}, led by {}.",
            plural(f.short_list.len(), "recommendation", "recommendations"),
            f.agents_reporting,
            if f.backlog > 0 {
                format!(" ({} more in the backlog)", f.backlog)
            } else {
                String::new()
            },
            quoted(&top.label)
        ),
        None => format!(
            "No recommendations yet; {} of 9 agents reported.",
            f.agents_reporting
        ),
    }
}

pub(super) fn executive_summary(f: &Facts) -> Vec<String> {
    let Some(top) = f.short_list.first() else {
        return vec![format!(
            "{} of 9 agents reported, and none of them named an opportunity yet, so there is nothing to rank.",
            f.agents_reporting
        )];
    };
    let merged = f.short_list.len() + f.backlog;
    let mut out = vec![scope(f, merged)];
    out.push(strongest(top));
    if let Some(s) = numbers_behind(f.short_list) {
        out.push(s);
    }
    if let Some(s) = phases(f) {
        out.push(s);
    }
    if let Some(s) = caveat(f.warnings) {
        out.push(s);
    } else if let Some(s) = baselines(f.kpis) {
        out.push(s);
    }
    out.truncate(5);
    out
}

fn scope(f: &Facts, merged: usize) -> String {
    let reported = plural(f.opportunities_reported, "opportunity", "opportunities");
    let merged_text = if merged == f.opportunities_reported {
        format!("{reported}, all distinct")
    } else {
        format!(
            "{reported}, which merge into {}",
            plural(
                merged,
                "distinct recommendation",
                "distinct recommendations"
            )
        )
    };
    let plan = if f.backlog == 0 {
        format!("all of them are on the {}-day roadmap", f.days)
    } else {
        format!(
            "the {} strongest make up the {}-day roadmap and {} {} in the backlog",
            f.short_list.len(),
            f.days,
            f.backlog,
            if f.backlog == 1 { "waits" } else { "wait" }
        )
    };
    format!(
        "{} of 9 agents reported {merged_text}; {plan}.",
        f.agents_reporting
    )
}

fn strongest(top: &Recommendation) -> String {
    let support = match top.supporting_agents.as_slice() {
        [one] => format!("raised by the {} agent", agent_name(*one)),
        many => format!(
            "raised independently by {} agents ({})",
            many.len(),
            list(
                &many
                    .iter()
                    .map(|a| agent_name(*a).to_owned())
                    .collect::<Vec<_>>()
            )
        ),
    };
    format!(
        "The strongest recommendation is {}, {support}, with {} impact for {} effort at {:.0}% confidence.",
        quoted(&top.label),
        level_word(top.impact),
        level_word(top.effort),
        top.confidence * 100.0
    )
}

/// An agent's own sentence with a number, behind the highest-ranked
/// recommendation that has one.
fn numbers_behind(short_list: &[Recommendation]) -> Option<String> {
    short_list.iter().take(5).find_map(|r| {
        let e = r
            .evidence
            .iter()
            .find(|e| e.text.chars().any(|c| c.is_ascii_digit()))?;
        let text = e.text.trim_end_matches(['.', ' ']);
        Some(format!(
            "Behind {}, the {} agent found: {}.",
            quoted(&r.label),
            agent_name(e.agent),
            quoted(text)
        ))
    })
}

fn phases(f: &Facts) -> Option<String> {
    let first = f.roadmap.first()?;
    let lead = first
        .recommendations
        .first()
        .and_then(|rank| f.short_list.iter().find(|r| r.rank == *rank))?;
    let quick = first
        .recommendations
        .iter()
        .filter_map(|rank| f.short_list.iter().find(|r| r.rank == *rank))
        .all(|r| r.effort == Level::Low);
    let start = format!(
        "Days {}–{} bring {}, starting with {}",
        first.start_day,
        first.end_day,
        if quick {
            plural(first.recommendations.len(), "quick win", "quick wins")
        } else {
            plural(first.recommendations.len(), "change", "changes")
        },
        quoted(&lead.label)
    );
    let later: Vec<String> = f
        .roadmap
        .iter()
        .skip(1)
        .filter(|p| !p.recommendations.is_empty())
        .enumerate()
        .map(|(i, p)| {
            let n = p.recommendations.len();
            let days = format!("in days {}–{}", p.start_day, p.end_day);
            match (i, n) {
                (0, 1) => format!("1 more follows {days}"),
                (0, n) => format!("{n} more follow {days}"),
                (_, n) => format!("{n} {days}"),
            }
        })
        .collect();
    Some(if later.is_empty() {
        format!("{start}.")
    } else {
        format!("{start}; {}.", list(&later))
    })
}

fn caveat(warnings: &[Warning]) -> Option<String> {
    let names = |agents: &[AgentId]| -> String {
        list(
            &agents
                .iter()
                .map(|a| agent_name(*a).to_owned())
                .collect::<Vec<_>>(),
        )
    };
    let partial = warnings.iter().find(|w| w.code == "partial_results");
    let low = warnings.iter().find(|w| w.code == "low_confidence");
    match (partial, low) {
        (Some(p), _) => Some(format!(
            "The {} {} did not report, so {} findings are missing from this strategy.",
            names(&p.agents),
            if p.agents.len() == 1 {
                "agent"
            } else {
                "agents"
            },
            if p.agents.len() == 1 { "its" } else { "their" }
        )),
        (None, Some(l)) => Some(format!(
            "The {} {} reported with low confidence, so check {} findings before acting on them.",
            names(&l.agents),
            if l.agents.len() == 1 {
                "agent"
            } else {
                "agents"
            },
            if l.agents.len() == 1 { "its" } else { "their" }
        )),
        (None, None) => None,
    }
}

fn baselines(kpis: &[Kpi]) -> Option<String> {
    let items: Vec<String> = kpis
        .iter()
        .take(3)
        .map(|k| format!("{} {}", in_sentence(&k.name), k.baseline))
        .collect();
    (!items.is_empty()).then(|| format!("Baselines to move: {}.", list(&items)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_metric_names_read_as_prose() {
        assert_eq!(list(&[]), "");
        assert_eq!(list(&["a".into()]), "a");
        assert_eq!(list(&["a".into(), "b".into(), "c".into()]), "a, b and c");
        assert_eq!(in_sentence("Event loss"), "event loss");
        assert_eq!(in_sentence("ODP sync lag"), "ODP sync lag");
    }
}
