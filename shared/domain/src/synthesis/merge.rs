//! Merging: near-duplicate reports across agents become one recommendation,
//! scored, with its assessments, its evidence and how a disagreement was settled.

use std::collections::BTreeMap;

use super::similarity::{self, Terms};
use super::{
    Assessment, Evidence, Recommendation, ScoreAxes, agent_focus, ease_value, evidence,
    impact_value, level_order, round3, score, score_breakdown, settle, summary,
};
use crate::agent_output::Level;
use crate::agents::AgentId;
use crate::intake::FocusArea;

/// One opportunity as an agent reported it.
pub(super) struct Report<'a> {
    pub(super) agent: AgentId,
    pub(super) label: &'a str,
    pub(super) terms: Terms,
    pub(super) impact: Level,
    pub(super) effort: Level,
    pub(super) confidence: f64,
}

/// A merged recommendation before it is ranked.
pub(super) struct Draft {
    pub(super) rec: Recommendation,
    /// The wordings one by one, to match statements of order against.
    pub(super) wordings: Vec<Terms>,
}

/// Clusters the reports by wording and merges each cluster into one draft.
pub(super) fn merge_reports(
    reports: &[Report],
    reliability: &BTreeMap<AgentId, f64>,
    focus_areas: &[FocusArea],
    sentences: &BTreeMap<AgentId, Vec<evidence::Sentence>>,
    rarity: &evidence::Rarity,
) -> Vec<Draft> {
    let clusters =
        similarity::cluster(&reports.iter().map(|r| r.terms.clone()).collect::<Vec<_>>());
    clusters
        .iter()
        .map(|members| {
            let members: Vec<&Report> = members.iter().map(|&i| &reports[i]).collect();
            merge(&members, reliability, focus_areas, sentences, rarity)
        })
        .collect()
}

/// One recommendation from the reports of one cluster.
fn merge(
    reports: &[&Report],
    reliability: &BTreeMap<AgentId, f64>,
    focus_areas: &[FocusArea],
    sentences: &BTreeMap<AgentId, Vec<evidence::Sentence>>,
    rarity: &evidence::Rarity,
) -> Draft {
    // The strongest wording: an instruction first, then the most confident, then
    // the earlier agent, then alphabetical order.
    let strongest = reports
        .iter()
        .max_by(|a, b| {
            a.terms
                .imperative
                .cmp(&b.terms.imperative)
                .then(a.confidence.total_cmp(&b.confidence))
                .then(b.agent.cmp(&a.agent))
                .then(b.label.cmp(a.label))
        })
        .copied()
        .unwrap_or(reports[0]);
    let mut supporting: Vec<AgentId> = reports.iter().map(|r| r.agent).collect();
    supporting.sort();
    supporting.dedup();
    let impacts: Vec<(Level, f64)> = reports.iter().map(|r| (r.impact, r.confidence)).collect();
    let efforts: Vec<(Level, f64)> = reports.iter().map(|r| (r.effort, r.confidence)).collect();
    let impact = settle(&impacts, false);
    let effort = settle(&efforts, true);
    let confidence = reports.iter().map(|r| r.confidence).fold(0.0f64, f64::max);
    let disagreement = reports
        .iter()
        .any(|r| r.impact != reports[0].impact || r.effort != reports[0].effort);
    let settlement = disagreement.then(|| settlement_note(reports, impact, effort));
    let mut also: Vec<String> = reports
        .iter()
        .map(|r| r.label.to_owned())
        .filter(|l| l != strongest.label)
        .collect();
    also.sort();
    also.dedup();
    let rel = supporting
        .iter()
        .map(|a| reliability.get(a).copied().unwrap_or(0.0))
        .fold(0.0f64, f64::max);
    let focus = supporting
        .iter()
        .any(|a| agent_focus(*a).is_some_and(|f| focus_areas.contains(&f)));
    let axes = ScoreAxes {
        impact: impact_value(impact),
        ease: ease_value(effort),
        confidence,
        reliability: rel,
        support: supporting.len().min(3) as f64 / 3.0,
        focus: f64::from(u8::from(focus)),
    };
    let wordings: Vec<Terms> = reports.iter().map(|r| r.terms.clone()).collect();
    let mut found: Vec<(bool, f64, Evidence)> = supporting
        .iter()
        .filter_map(|a| {
            let (s, share) = evidence::best_evidence(sentences.get(a)?, &wordings, rarity)?;
            Some((
                s.has_number,
                share,
                Evidence {
                    agent: *a,
                    text: s.text.clone(),
                },
            ))
        })
        .collect();
    // With numbers first, then the best backing; ties in agent order.
    found.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)));
    let evidence: Vec<Evidence> = found.into_iter().take(3).map(|(_, _, e)| e).collect();
    let mut assessments: Vec<Assessment> = reports
        .iter()
        .map(|r| Assessment {
            agent: r.agent,
            label: r.label.to_owned(),
            impact: r.impact,
            effort: r.effort,
            confidence: round3(r.confidence),
        })
        .collect();
    assessments.sort_by(|a, b| a.agent.cmp(&b.agent).then_with(|| a.label.cmp(&b.label)));
    Draft {
        rec: Recommendation {
            rank: 0,
            label: strongest.label.to_owned(),
            key: strongest.terms.key(),
            impact,
            effort,
            confidence: round3(confidence),
            score: score(axes),
            score_breakdown: score_breakdown(axes),
            supporting_agents: supporting,
            also_reported_as: also,
            assessments,
            disagreement,
            settlement,
            evidence,
            depends_on: Vec::new(),
            prerequisite_for: Vec::new(),
            phase: None,
        },
        wordings,
    }
}

/// "Impact: High (content review, roadmap), Medium (audience); kept High."
fn settlement_note(reports: &[&Report], impact: Level, effort: Level) -> String {
    let axis = |name: &str, level_of: &dyn Fn(&Report) -> Level, kept: Level| -> Option<String> {
        let mut by_level: BTreeMap<u8, Vec<String>> = BTreeMap::new();
        for r in reports {
            let names = by_level.entry(2 - level_order(level_of(r))).or_default();
            let name = summary::agent_name(r.agent).to_owned();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        (by_level.len() > 1).then(|| {
            let parts: Vec<String> = by_level
                .iter()
                .map(|(order, names)| {
                    let level = [Level::High, Level::Medium, Level::Low][*order as usize];
                    format!("{} ({})", level_name(level), names.join(", "))
                })
                .collect();
            format!("{name} {}; kept {}", parts.join(" vs "), level_name(kept))
        })
    };
    let parts: Vec<String> = [
        axis("impact", &|r| r.impact, impact),
        axis("effort", &|r| r.effort, effort),
    ]
    .into_iter()
    .flatten()
    .collect();
    format!(
        "{}, by confidence-weighted vote.",
        capitalise(&parts.join("; "))
    )
}

const fn level_name(l: Level) -> &'static str {
    match l {
        Level::High => "High",
        Level::Medium => "Medium",
        Level::Low => "Low",
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
