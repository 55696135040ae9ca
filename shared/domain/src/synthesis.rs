//! Cross-agent synthesis: one ranked strategy and a roadmap from the agents' outputs.
//!
//! Pure and deterministic: the same inputs always give the same strategy, in
//! whatever order the agents are given.
//!
//! 1. **Merge.** Every opportunity an agent reported is compared with every
//!    other by its wording ([`similarity`]); near-duplicates across agents become
//!    one recommendation with all its supporting agents, each agent's own rating,
//!    the findings that back it, and the strongest label (the most confident
//!    report that reads as an instruction). Impact and effort are settled by a
//!    confidence-weighted vote (a tie takes the more cautious rating), and a
//!    disagreement is shown.
//! 2. **Score** (0–100):
//!    `100 × (0.30·impact + 0.20·ease + 0.25·confidence + 0.10·reliability + 0.10·support + 0.05·focus)`
//!    where impact is High 1 / Medium 0.6 / Low 0.2, ease is the inverse of effort
//!    (Low 1 / Medium 0.6 / High 0.2), confidence the most confident report's
//!    (0–1), reliability the most reliable supporting agent's (data quality ×
//!    agent confidence), support `min(agents, 3) / 3`, and focus 1 when a
//!    supporting agent serves one of the intake's focus areas. Every weight is
//!    positive, so a recommendation at least as good on every axis never ranks
//!    below one it dominates, and another agent agreeing never lowers a score.
//! 3. **Rank** by score, except that a prerequisite an agent named ("fix tagging
//!    before the first experiments") moves up to just before the first
//!    recommendation that needs it.
//! 4. **Short list and roadmap.** The top [`SHORT_LIST_LEN`] of the ranking are
//!    the recommendations to act on; they fill the three phases of the timeline
//!    by effort and prerequisites ([`roadmap`]); the rest are the backlog, ranked
//!    after every scheduled one.

mod evidence;
mod merge;
mod rank;
mod roadmap;
mod similarity;
mod summary;
mod warnings;

use std::collections::BTreeMap;

use serde::Serialize;

use super::agent_output::{AgentOutput, Level};
use super::agents::AgentId;
use super::intake::{FocusArea, Timeline};
use super::workflow::AgentStatus;
use merge::Report;
use similarity::Terms;

pub use evidence::{Evidence, Kpi};
pub use roadmap::{PHASE_MIN_CAPACITY, Phase};
pub use similarity::{SAME_CONTAINMENT, SAME_JACCARD, same_recommendation};

/// Most recommendations the ranked list (and so the roadmap) holds; the rest
/// wait in the backlog.
pub const SHORT_LIST_LEN: usize = 20;

/// One agent as synthesis sees it.
#[derive(Debug, Clone)]
pub struct AgentInput {
    pub agent: AgentId,
    pub status: AgentStatus,
    /// Agent-level confidence on any scale (0–1 or 0–100).
    pub confidence: Option<f64>,
    pub output: Option<AgentOutput>,
    /// The result arrived after the agent had timed out.
    pub late: bool,
}

#[derive(Debug, Clone)]
pub struct SynthesisInput {
    pub timeline: Timeline,
    pub focus_areas: Vec<FocusArea>,
    pub agents: Vec<AgentInput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Strategy {
    pub summary: Summary,
    /// The ranked list to act on: at most [`SHORT_LIST_LEN`], all on the roadmap.
    pub recommendations: Vec<Recommendation>,
    pub roadmap: Vec<Phase>,
    /// Every other merged recommendation, ranked after the scheduled ones.
    pub backlog: Vec<Recommendation>,
    pub coverage: Vec<Coverage>,
    pub warnings: Vec<Warning>,
}

impl Strategy {
    /// The ranked list and the backlog, best first.
    pub fn all_recommendations(&self) -> Vec<Recommendation> {
        self.recommendations
            .iter()
            .chain(&self.backlog)
            .cloned()
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Summary {
    pub headline: String,
    /// Three to five sentences built from the strongest merged findings.
    pub executive_summary: Vec<String>,
    pub agents_expected: u8,
    pub agents_reporting: u8,
    /// Mean unified confidence of the reporting agents, 0–1.
    pub overall_confidence: Option<f64>,
    /// Opportunities the agents reported, before merging.
    pub opportunities_reported: u32,
    /// Distinct recommendations after merging (ranked list plus backlog).
    pub recommendations_merged: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Recommendation {
    pub rank: u32,
    pub label: String,
    /// The label's canonical terms, sorted.
    pub key: String,
    pub impact: Level,
    pub effort: Level,
    pub confidence: f64,
    pub score: f64,
    /// The score's parts: why this recommendation ranks where it does.
    pub score_breakdown: ScoreBreakdown,
    pub supporting_agents: Vec<AgentId>,
    /// Other labels the same recommendation was reported under.
    pub also_reported_as: Vec<String>,
    /// Each report merged into this recommendation, as its agent rated it.
    pub assessments: Vec<Assessment>,
    /// The reports disagreed on impact or effort.
    pub disagreement: bool,
    /// How the disagreement was settled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settlement: Option<String>,
    /// The supporting agents' findings behind it.
    pub evidence: Vec<Evidence>,
    /// What has to come first, as an agent said.
    pub depends_on: Vec<Dependency>,
    /// Ranks of the recommendations that need this one first; it ranks just
    /// above the best of them even when its own score is lower.
    pub prerequisite_for: Vec<u32>,
    /// The roadmap phase; `None` in the backlog.
    pub phase: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Assessment {
    pub agent: AgentId,
    pub label: String,
    pub impact: Level,
    pub effort: Level,
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Dependency {
    /// Rank of the recommendation that comes first.
    pub rank: u32,
    pub label: String,
    pub agent: AgentId,
    /// The agent's sentence that states the order.
    pub statement: String,
}

/// One axis of the score: its value (0–1), its weight, and the points it adds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ScorePart {
    pub value: f64,
    pub weight: f64,
    pub points: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ScoreBreakdown {
    pub impact: ScorePart,
    pub ease: ScorePart,
    pub confidence: ScorePart,
    pub reliability: ScorePart,
    pub support: ScorePart,
    pub focus: ScorePart,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Coverage {
    pub agent: AgentId,
    pub status: AgentStatus,
    pub confidence: Option<f64>,
    pub data_quality: Option<f64>,
    pub reliability: Option<f64>,
    pub late: bool,
    /// Merged recommendations (ranked or backlog) this agent supports.
    pub recommendations: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Warning {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<AgentId>,
}

/// 0–100 or 0–1 to 0–1.
pub fn unify_confidence(value: f64) -> f64 {
    if !value.is_finite() {
        return 0.0;
    }
    let v = if value > 1.0 { value / 100.0 } else { value };
    v.clamp(0.0, 1.0)
}

/// Completeness of an output beyond the schema's minimum, 0–1: the optional
/// fields a careful agent fills in.
pub fn data_quality(out: &AgentOutput) -> f64 {
    fn share<T>(items: &[T], has: impl Fn(&T) -> bool) -> f64 {
        if items.is_empty() {
            0.0
        } else {
            items.iter().filter(|i| has(i)).count() as f64 / items.len() as f64
        }
    }
    let checks = [
        f64::from(u8::from(out.hero.confidence_note.is_some())),
        share(&out.hero.metrics, |m| m.hint.is_some()),
        f64::from(u8::from(!out.insights.is_empty())),
        share(&out.insights, |i| !i.bullets.is_empty()),
        f64::from(u8::from(!out.opportunities.is_empty())),
        share(&out.next_steps, |s| s.owner_hint.is_some()),
        share(&out.next_steps, |s| s.timeframe_hint.is_some()),
        f64::from(u8::from(!out.meta.agents.is_empty())),
    ];
    checks.iter().sum::<f64>() / checks.len() as f64
}

/// The label's canonical terms, sorted: "Personalize the homepage hero" and
/// "Homepage hero personalization" both become `hero homepage personal`.
pub fn normalise_label(label: &str) -> String {
    Terms::parse(label).key()
}

const fn impact_value(level: Level) -> f64 {
    match level {
        Level::High => 1.0,
        Level::Medium => 0.6,
        Level::Low => 0.2,
    }
}

const fn ease_value(effort: Level) -> f64 {
    match effort {
        Level::Low => 1.0,
        Level::Medium => 0.6,
        Level::High => 0.2,
    }
}

const fn level_order(level: Level) -> u8 {
    match level {
        Level::Low => 0,
        Level::Medium => 1,
        Level::High => 2,
    }
}

/// Which focus area an agent mainly serves.
pub const fn agent_focus(agent: AgentId) -> Option<FocusArea> {
    match agent {
        AgentId::ContentReview | AgentId::GeoAudit | AgentId::CmpOrganizer => {
            Some(FocusArea::Content)
        }
        AgentId::AudienceSuggester | AgentId::CustomerJourney => Some(FocusArea::Audiences),
        AgentId::ExperimentBlueprinter => Some(FocusArea::Experimentation),
        AgentId::PersonalizationIdeaGenerator => Some(FocusArea::Personalization),
        AgentId::IntegrationHealth | AgentId::RoadmapGenerator => None,
    }
}

/// The inputs of the ranking score, each 0–1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreAxes {
    pub impact: f64,
    pub ease: f64,
    pub confidence: f64,
    pub reliability: f64,
    pub support: f64,
    pub focus: f64,
}

const WEIGHTS: [f64; 6] = [0.30, 0.20, 0.25, 0.10, 0.10, 0.05];

impl ScoreAxes {
    const fn values(self) -> [f64; 6] {
        [
            self.impact,
            self.ease,
            self.confidence,
            self.reliability,
            self.support,
            self.focus,
        ]
    }
}

pub fn score(a: ScoreAxes) -> f64 {
    let raw: f64 = a.values().iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    round1(raw * 100.0)
}

/// Each axis's share of the score, in points (they add up to the score, give
/// or take rounding).
pub fn score_breakdown(a: ScoreAxes) -> ScoreBreakdown {
    let part = |value: f64, weight: f64| ScorePart {
        value: round3(value),
        weight,
        points: round1(value * weight * 100.0),
    };
    let [i, e, c, r, s, f] = a.values();
    let [wi, we, wc, wr, ws, wf] = WEIGHTS;
    ScoreBreakdown {
        impact: part(i, wi),
        ease: part(e, we),
        confidence: part(c, wc),
        reliability: part(r, wr),
        support: part(s, ws),
        focus: part(f, wf),
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// What the reporting agents said: their outputs, every opportunity they
/// reported, their sentences, and how rare each term is across those sentences.
struct Said<'a> {
    outputs: Vec<(AgentId, &'a AgentOutput)>,
    reports: Vec<Report<'a>>,
    sentences: BTreeMap<AgentId, Vec<evidence::Sentence>>,
    rarity: evidence::Rarity,
}

/// The strategy from the agents' results, stage by stage as the module docs
/// describe them.
pub fn synthesise(input: &SynthesisInput) -> Strategy {
    let agents = in_catalogue_order(&input.agents);
    let mut coverage = coverage(&agents);
    let said = collect_evidence(&agents);
    let drafts = merge::merge_reports(
        &said.reports,
        &reliability(&coverage),
        &input.focus_areas,
        &said.sentences,
        &said.rarity,
    );
    let (mut short_list, backlog) = split_short_list(rank::rank(drafts, &said.sentences));
    let kpis = kpis(&said.outputs);
    let roadmap = build_roadmap(&mut short_list, input.timeline, &kpis);
    count_recommendations(&mut coverage, short_list.iter().chain(&backlog));
    let warnings = warnings::warnings(&coverage, short_list.iter().chain(&backlog));
    let lead_kpis = lead_kpis(&short_list, &kpis);
    let facts = summary::Facts {
        agents_reporting: coverage.iter().filter(|c| c.data_quality.is_some()).count(),
        opportunities_reported: said.reports.len(),
        short_list: &short_list,
        backlog: backlog.len(),
        roadmap: &roadmap,
        days: input.timeline.days(),
        warnings: &warnings,
        kpis: &lead_kpis,
    };
    let summary = summarise(&facts, &coverage);
    Strategy {
        summary,
        recommendations: short_list,
        roadmap,
        backlog,
        coverage,
        warnings,
    }
}

/// Catalogue order, whatever order the caller used.
fn in_catalogue_order(agents: &[AgentInput]) -> Vec<&AgentInput> {
    let mut agents: Vec<&AgentInput> = agents.iter().collect();
    agents.sort_by_key(|a| AgentId::ALL.iter().position(|x| *x == a.agent));
    agents
}

/// Each agent's confidence, data quality and reliability; its recommendations
/// are counted once they are merged.
fn coverage(agents: &[&AgentInput]) -> Vec<Coverage> {
    agents
        .iter()
        .map(|a| {
            let confidence = a
                .confidence
                .or_else(|| a.output.as_ref().map(|o| o.hero.confidence))
                .map(unify_confidence);
            let quality = a.output.as_ref().map(data_quality);
            Coverage {
                agent: a.agent,
                status: a.status,
                confidence,
                data_quality: quality,
                reliability: quality.map(|q| round3(q * confidence.unwrap_or(0.5))),
                late: a.late,
                recommendations: 0,
            }
        })
        .collect()
}

fn reliability(coverage: &[Coverage]) -> BTreeMap<AgentId, f64> {
    coverage
        .iter()
        .filter_map(|c| c.reliability.map(|r| (c.agent, r)))
        .collect()
}

/// The opportunities (those with any wording to compare) and the sentences of
/// every agent that has an output.
fn collect_evidence<'a>(agents: &[&'a AgentInput]) -> Said<'a> {
    let outputs: Vec<(AgentId, &AgentOutput)> = agents
        .iter()
        .filter_map(|a| a.output.as_ref().map(|o| (a.agent, o)))
        .collect();
    let reports: Vec<Report> = outputs
        .iter()
        .flat_map(|(agent, out)| {
            out.opportunities.iter().map(|o| Report {
                agent: *agent,
                label: &o.label,
                terms: Terms::parse(&o.label),
                impact: o.impact_level,
                effort: o.effort_level,
                confidence: unify_confidence(o.confidence),
            })
        })
        .filter(|r| !r.terms.is_empty())
        .collect();
    let sentences: BTreeMap<AgentId, Vec<evidence::Sentence>> = outputs
        .iter()
        .map(|(agent, out)| (*agent, evidence::sentences(out)))
        .collect();
    let rarity = evidence::Rarity::of(sentences.values().flatten());
    Said {
        outputs,
        reports,
        sentences,
        rarity,
    }
}

/// The top [`SHORT_LIST_LEN`] to act on, and the backlog after them.
fn split_short_list(mut ranked: Vec<Recommendation>) -> (Vec<Recommendation>, Vec<Recommendation>) {
    let backlog = ranked.split_off(ranked.len().min(SHORT_LIST_LEN));
    (ranked, backlog)
}

fn kpis(outputs: &[(AgentId, &AgentOutput)]) -> BTreeMap<AgentId, Vec<Kpi>> {
    outputs
        .iter()
        .map(|(agent, out)| (*agent, evidence::kpis(*agent, out)))
        .collect()
}

/// The phases of the timeline for the short list; sets each one's phase.
fn build_roadmap(
    short_list: &mut [Recommendation],
    timeline: Timeline,
    kpis: &BTreeMap<AgentId, Vec<Kpi>>,
) -> Vec<Phase> {
    // Prerequisites rank above what needs them, so they are in the short list too.
    let prerequisites: Vec<Vec<usize>> = short_list
        .iter()
        .map(|r| {
            r.depends_on
                .iter()
                .map(|d| d.rank as usize - 1)
                .filter(|&p| p < short_list.len())
                .collect()
        })
        .collect();
    roadmap::plan(short_list, &prerequisites, timeline, kpis)
}

/// How many merged recommendations (ranked or backlog) each agent supports.
fn count_recommendations<'a>(
    coverage: &mut [Coverage],
    recommendations: impl Iterator<Item = &'a Recommendation> + Clone,
) {
    for c in coverage {
        c.recommendations = recommendations
            .clone()
            .filter(|r| r.supporting_agents.contains(&c.agent))
            .count() as u32;
    }
}

/// The first KPI of each agent behind the short list, in rank order, once each.
fn lead_kpis(short_list: &[Recommendation], kpis: &BTreeMap<AgentId, Vec<Kpi>>) -> Vec<Kpi> {
    let mut seen = Vec::new();
    for r in short_list {
        for a in &r.supporting_agents {
            if let Some(k) = kpis.get(a).and_then(|k| k.first())
                && !seen.contains(k)
            {
                seen.push(k.clone());
            }
        }
    }
    seen
}

/// The headline, the executive summary and the counts behind them.
fn summarise(facts: &summary::Facts, coverage: &[Coverage]) -> Summary {
    let confidences: Vec<f64> = coverage
        .iter()
        .filter(|c| c.data_quality.is_some())
        .filter_map(|c| c.confidence)
        .collect();
    let overall_confidence = (!confidences.is_empty())
        .then(|| round3(confidences.iter().sum::<f64>() / confidences.len() as f64));
    Summary {
        headline: summary::headline(facts),
        executive_summary: summary::executive_summary(facts),
        agents_expected: 9,
        agents_reporting: facts.agents_reporting as u8,
        overall_confidence,
        opportunities_reported: facts.opportunities_reported as u32,
        recommendations_merged: (facts.short_list.len() + facts.backlog) as u32,
    }
}

/// The confidence-weighted median level: `cautious_high` takes the upper one on
/// a tie (for effort), otherwise the lower one (for impact). Another report
/// agreeing with the result never changes it.
fn settle(votes: &[(Level, f64)], cautious_high: bool) -> Level {
    let mut weight = [0.0f64; 3];
    for (level, w) in votes {
        weight[level_order(*level) as usize] += w.max(0.001);
    }
    let total: f64 = weight.iter().sum();
    let levels = [Level::Low, Level::Medium, Level::High];
    let mut cumulative = 0.0;
    if cautious_high {
        for i in (0..3).rev() {
            cumulative += weight[i];
            if cumulative >= total / 2.0 {
                return levels[i];
            }
        }
    } else {
        for i in 0..3 {
            cumulative += weight[i];
            if cumulative >= total / 2.0 {
                return levels[i];
            }
        }
    }
    Level::Medium
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent_output::{
        Hero, Insight, Maturity, Meta, Metric, NextStep, Opportunity, Overview, Tier,
    };
    use proptest::prelude::*;

    fn output(
        opportunities: &[(&str, Level, Level, f64)],
        confidence: f64,
        rich: bool,
    ) -> AgentOutput {
        AgentOutput {
            hero: Hero {
                title: "t".into(),
                promise: "p".into(),
                metrics: (0..3)
                    .map(|i| Metric {
                        label: if i == 0 {
                            "Conversion rate".into()
                        } else {
                            format!("m{i}")
                        },
                        value: if i == 0 { "2.4%".into() } else { "1".into() },
                        hint: rich.then(|| "h".into()),
                    })
                    .collect(),
                confidence,
                confidence_note: rich.then(|| "n".into()),
            },
            overview: Overview {
                summary: "s".into(),
                key_points: vec![format!("point from a {confidence} agent"), "b".into()],
            },
            insights: vec![Insight {
                title: "i".into(),
                description: "d".into(),
                bullets: if rich { vec!["b".into()] } else { vec![] },
            }],
            opportunities: opportunities
                .iter()
                .map(|(l, i, e, c)| Opportunity {
                    label: (*l).into(),
                    impact_level: *i,
                    effort_level: *e,
                    confidence: *c,
                })
                .collect(),
            next_steps: vec![
                NextStep {
                    label: "a".into(),
                    owner_hint: rich.then(|| "o".into()),
                    timeframe_hint: rich.then(|| "2w".into()),
                },
                NextStep {
                    label: "b".into(),
                    owner_hint: None,
                    timeframe_hint: None,
                },
            ],
            meta: Meta {
                tier: Tier::Strategy,
                agents: vec!["x".into()],
                maturity: Maturity::Walk,
                last_updated: "2026-11-25T00:00:00Z".into(),
            },
        }
    }

    /// The output with one more finding.
    fn saying(mut out: AgentOutput, finding: &str) -> AgentOutput {
        out.insights[0].bullets.push(finding.into());
        out
    }

    fn agent(agent: AgentId, out: Option<AgentOutput>) -> AgentInput {
        let status = if out.is_some() {
            AgentStatus::Completed
        } else {
            AgentStatus::TimedOut
        };
        AgentInput {
            agent,
            status,
            confidence: None,
            output: out,
            late: false,
        }
    }

    fn fixture() -> SynthesisInput {
        use Level::*;
        SynthesisInput {
            timeline: Timeline::Days90,
            focus_areas: vec![FocusArea::Personalization],
            agents: vec![
                agent(
                    AgentId::ContentReview,
                    Some(saying(
                        output(
                            &[
                                ("Rewrite top landing pages", High, Low, 80.0),
                                ("Personalize the homepage hero", Medium, Medium, 60.0),
                            ],
                            82.0,
                            true,
                        ),
                        "The homepage hero is the entry point for 31.5% of sessions.",
                    )),
                ),
                agent(
                    AgentId::PersonalizationIdeaGenerator,
                    Some(output(
                        &[
                            ("Homepage hero personalization", High, Medium, 85.0),
                            ("Launch a loyalty programme", High, High, 70.0),
                        ],
                        78.0,
                        true,
                    )),
                ),
                agent(
                    AgentId::ExperimentBlueprinter,
                    Some(output(
                        &[("A/B test checkout copy", Medium, Low, 75.0)],
                        90.0,
                        false,
                    )),
                ),
                agent(AgentId::GeoAudit, None),
            ],
        }
    }

    #[test]
    fn labels_normalise_across_wording() {
        assert_eq!(
            normalise_label("Personalize the homepage hero"),
            normalise_label("Homepage hero personalization")
        );
        assert_eq!(
            normalise_label("Optimize checkout"),
            normalise_label("checkout optimization!")
        );
        assert_ne!(
            normalise_label("Optimize checkout"),
            normalise_label("Optimize search")
        );
        assert_eq!(normalise_label("the of and"), "");
    }

    #[test]
    fn confidence_scales_are_unified() {
        assert_eq!(unify_confidence(82.0), 0.82);
        assert_eq!(unify_confidence(0.82), 0.82);
        assert_eq!(unify_confidence(1.0), 1.0);
        assert_eq!(unify_confidence(250.0), 1.0);
        assert_eq!(unify_confidence(-3.0), 0.0);
        assert_eq!(unify_confidence(f64::NAN), 0.0);
    }

    /// A golden test: fixed inputs, the exact strategy.
    #[test]
    fn golden_strategy() {
        let s = synthesise(&fixture());
        let ranked: Vec<(u32, &str, f64, Option<u8>)> = s
            .recommendations
            .iter()
            .map(|r| (r.rank, r.label.as_str(), r.score, r.phase))
            .collect();
        assert_eq!(
            ranked,
            vec![
                // 0.3·1 + 0.2·0.6 + 0.25·0.85 + 0.1·0.717 (the more reliable
                // agent) + 0.1·2/3 + 0.05 (focus)
                (1, "Personalize the homepage hero", 82.1, Some(2)),
                // 0.3·1 + 0.2·1 + 0.25·0.80 + 0.1·0.717 + 0.1·1/3
                (2, "Rewrite top landing pages", 80.5, Some(1)),
                (3, "Launch a loyalty programme", 66.7, Some(3)),
                // a thin output (data quality 3/8) costs reliability
                (4, "A/B test checkout copy", 63.5, Some(1)),
            ]
        );
        assert!(s.backlog.is_empty());
        let merged = &s.recommendations[0];
        assert_eq!(
            merged.supporting_agents,
            vec![
                AgentId::ContentReview,
                AgentId::PersonalizationIdeaGenerator
            ]
        );
        assert_eq!(
            merged.also_reported_as,
            vec!["Homepage hero personalization"],
            "the instruction is the stronger wording"
        );
        assert!(merged.disagreement, "Medium vs High impact");
        assert_eq!(
            (merged.impact, merged.effort, merged.confidence),
            (Level::High, Level::Medium, 0.85),
            "High carries more confidence (0.85 against 0.60)"
        );
        assert_eq!(
            merged.settlement.as_deref(),
            Some(
                "Impact High (personalization ideas) vs Medium (content review); kept High, by confidence-weighted vote."
            )
        );
        assert_eq!(
            merged.evidence,
            vec![Evidence {
                agent: AgentId::ContentReview,
                text: "The homepage hero is the entry point for 31.5% of sessions.".into()
            }]
        );
        let b = merged.score_breakdown;
        assert_eq!(
            [
                b.impact.points,
                b.ease.points,
                b.confidence.points,
                b.reliability.points,
                b.support.points,
                b.focus.points
            ],
            [30.0, 12.0, 21.3, 7.2, 6.7, 5.0]
        );
        assert_eq!((b.reliability.value, b.support.value), (0.717, 0.667));
        assert_eq!(
            s.roadmap
                .iter()
                .map(|p| (p.start_day, p.end_day, p.recommendations.clone()))
                .collect::<Vec<_>>(),
            vec![(1, 30, vec![2, 4]), (31, 60, vec![1]), (61, 90, vec![3])]
        );
        assert_eq!(
            s.roadmap[0].goal,
            "Land 2 quick wins in the first 30 days, led by \u{201c}Rewrite top landing pages\u{201d}."
        );
        assert_eq!(
            s.roadmap[0]
                .kpis
                .iter()
                .map(|k| (k.agent, k.name.as_str(), k.baseline.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (AgentId::ContentReview, "Conversion rate", "2.4%"),
                (AgentId::ExperimentBlueprinter, "Conversion rate", "2.4%")
            ]
        );
        assert_eq!(s.summary.agents_reporting, 3);
        assert_eq!(s.summary.overall_confidence, Some(0.833));
        assert_eq!(
            (
                s.summary.opportunities_reported,
                s.summary.recommendations_merged
            ),
            (5, 4)
        );
        let codes: Vec<&str> = s.warnings.iter().map(|w| w.code).collect();
        assert_eq!(codes, vec!["partial_results", "conflicting_assessments"]);
        assert_eq!(s.warnings[0].agents, vec![AgentId::GeoAudit]);
        assert!(s.warnings[0].message.contains("geo_audit"));
        assert_eq!(
            s.summary.headline,
            "4 recommendations to act on from 3 of 9 agents, led by \u{201c}Personalize the homepage hero\u{201d}."
        );
        assert_eq!(
            s.summary.executive_summary,
            vec![
                "3 of 9 agents reported 5 opportunities, which merge into 4 distinct recommendations; all of them are on the 90-day roadmap.",
                "The strongest recommendation is \u{201c}Personalize the homepage hero\u{201d}, raised independently by 2 agents (content review and personalization ideas), with high impact for medium effort at 85% confidence.",
                "Behind \u{201c}Personalize the homepage hero\u{201d}, the content review agent found: \u{201c}The homepage hero is the entry point for 31.5% of sessions\u{201d}.",
                "Days 1–30 bring 2 quick wins, starting with \u{201c}Rewrite top landing pages\u{201d}; 1 more follows in days 31–60 and 1 in days 61–90.",
                "The GEO audit agent did not report, so its findings are missing from this strategy.",
            ]
        );
        let c: Vec<(AgentId, u32)> = s
            .coverage
            .iter()
            .map(|c| (c.agent, c.recommendations))
            .collect();
        assert_eq!(
            c,
            vec![
                (AgentId::ContentReview, 2),
                (AgentId::GeoAudit, 0),
                (AgentId::ExperimentBlueprinter, 1),
                (AgentId::PersonalizationIdeaGenerator, 2)
            ]
        );
    }

    #[test]
    fn input_order_does_not_matter() {
        let a = synthesise(&fixture());
        let mut reversed = fixture();
        reversed.agents.reverse();
        for a in &mut reversed.agents {
            if let Some(out) = &mut a.output {
                out.opportunities.reverse();
            }
        }
        assert_eq!(a, synthesise(&reversed));
    }

    /// Distinct labels that share no specific word.
    const WORDS: [&str; 30] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
        "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "amber",
        "cobalt", "indigo", "scarlet",
    ];

    #[test]
    fn the_ranked_list_is_short_and_the_backlog_ranks_below_it() {
        let labels: Vec<String> = WORDS
            .iter()
            .map(|w| format!("Launch the {w} initiative"))
            .collect();
        let opportunities: Vec<(&str, Level, Level, f64)> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let effort = [Level::Low, Level::Medium, Level::High][i % 3];
                (l.as_str(), Level::High, effort, 90.0 - i as f64)
            })
            .collect();
        let input = SynthesisInput {
            timeline: Timeline::Days30,
            focus_areas: vec![],
            agents: vec![agent(
                AgentId::ContentReview,
                Some(output(&opportunities, 80.0, true)),
            )],
        };
        let s = synthesise(&input);
        assert_eq!(s.recommendations.len(), SHORT_LIST_LEN);
        assert_eq!(s.backlog.len(), 30 - SHORT_LIST_LEN);
        assert_eq!(
            (
                s.roadmap[0].start_day,
                s.roadmap[0].end_day,
                s.roadmap[2].end_day
            ),
            (1, 10, 30)
        );
        let sizes: Vec<usize> = s.roadmap.iter().map(|p| p.recommendations.len()).collect();
        assert_eq!(
            sizes.iter().sum::<usize>(),
            SHORT_LIST_LEN,
            "every ranked one is scheduled"
        );
        assert!(
            sizes[..2].iter().all(|n| *n <= 7),
            "a third at most before overflowing: {sizes:?}"
        );
        assert!(s.backlog.iter().all(|r| r.phase.is_none()));
        let worst_scheduled = s.recommendations.iter().map(|r| r.rank).max();
        let best_backlog = s.backlog.iter().map(|r| r.rank).min();
        assert!(worst_scheduled < best_backlog);
        // Lower effort first: no phase holds more effort than a later one.
        let effort = |rank: &u32| {
            let r = &s.recommendations[*rank as usize - 1];
            assert_eq!(r.rank, *rank);
            match r.effort {
                Level::Low => 0,
                Level::Medium => 1,
                Level::High => 2,
            }
        };
        for pair in s.roadmap.windows(2) {
            let most = pair[0].recommendations.iter().map(effort).max();
            let least = pair[1].recommendations.iter().map(effort).min();
            assert!(most <= least, "{:?}", s.roadmap);
        }
        assert!(
            s.roadmap[0]
                .goal
                .starts_with("Land 7 quick wins in the first 10 days")
        );
    }

    /// An agent says what has to come first; the prerequisite ranks and starts
    /// before what needs it.
    #[test]
    fn stated_prerequisites_come_first() {
        use Level::*;
        let roadmap = saying(
            output(
                &[
                    ("Fix tagging and event loss", Medium, Medium, 60.0),
                    ("Launch the first three experiments", High, Low, 90.0),
                    ("Publish a shared test calendar", Low, Low, 50.0),
                ],
                80.0,
                true,
            ),
            "Fix tagging and event loss before launching the first experiments, so that tests can be trusted.",
        );
        let s = synthesise(&SynthesisInput {
            timeline: Timeline::Days90,
            focus_areas: vec![],
            agents: vec![agent(AgentId::RoadmapGenerator, Some(roadmap))],
        });
        let order: Vec<(&str, Option<u8>)> = s
            .recommendations
            .iter()
            .map(|r| (r.label.as_str(), r.phase))
            .collect();
        assert_eq!(
            order,
            vec![
                ("Fix tagging and event loss", Some(2)),
                ("Launch the first three experiments", Some(2)),
                ("Publish a shared test calendar", Some(1)),
            ],
            "by score the experiments lead; the prerequisite moves up, and the \
             low-effort experiments wait for the medium-effort fix"
        );
        let experiments = &s.recommendations[1];
        assert_eq!(experiments.depends_on.len(), 1);
        assert_eq!(experiments.depends_on[0].rank, 1);
        assert_eq!(
            experiments.depends_on[0].label,
            "Fix tagging and event loss"
        );
        assert_eq!(experiments.depends_on[0].agent, AgentId::RoadmapGenerator);
        assert_eq!(
            s.roadmap
                .iter()
                .map(|p| p.recommendations.clone())
                .collect::<Vec<_>>(),
            vec![vec![3], vec![1, 2], vec![]]
        );
        assert_eq!(
            s.roadmap[1].goal,
            "Build on them with 2 changes by day 60, led by \u{201c}Fix tagging and event loss\u{201d}."
        );
        assert_eq!(
            s.roadmap[2].goal,
            "Nothing scheduled: measure what the earlier phases shipped and pick the next items from the backlog."
        );
    }

    #[test]
    fn a_few_quick_wins_start_together_and_a_stated_time_is_kept() {
        use Level::*;
        let out = output(
            &[
                ("Launch the alpha initiative", High, Low, 90.0),
                ("Launch the bravo initiative", High, Low, 80.0),
                ("Launch the charlie initiative", High, Low, 70.0),
                (
                    "Migrate the delta platform within 30 days",
                    Medium,
                    High,
                    60.0,
                ),
                ("Launch the echo initiative by day 75", Low, Low, 60.0),
            ],
            80.0,
            true,
        );
        let s = synthesise(&SynthesisInput {
            timeline: Timeline::Days90,
            focus_areas: vec![],
            agents: vec![agent(AgentId::ContentReview, Some(out))],
        });
        let phase = |label: &str| {
            s.recommendations
                .iter()
                .find(|r| r.label.starts_with(label))
                .and_then(|r| r.phase)
        };
        for quick in ["Launch the alpha", "Launch the bravo", "Launch the charlie"] {
            assert_eq!(phase(quick), Some(1), "{quick}");
        }
        assert_eq!(
            phase("Migrate the delta"),
            Some(1),
            "its wording says 30 days"
        );
        assert_eq!(phase("Launch the echo"), Some(3), "its wording says day 75");
    }

    #[test]
    fn nothing_to_rank_is_a_warning_not_an_error() {
        let s = synthesise(&SynthesisInput {
            timeline: Timeline::Days60,
            focus_areas: vec![],
            agents: vec![agent(AgentId::GeoAudit, None)],
        });
        assert!(s.recommendations.is_empty() && s.backlog.is_empty());
        assert!(s.warnings.iter().any(|w| w.code == "no_recommendations"));
        assert_eq!(s.summary.overall_confidence, None);
        assert_eq!(s.summary.executive_summary.len(), 1);
        assert_eq!(s.roadmap.len(), 3);
    }

    #[test]
    fn ties_settle_cautiously_and_agreement_never_moves_the_vote() {
        use Level::*;
        assert_eq!(settle(&[(High, 0.5), (Low, 0.5)], false), Low);
        assert_eq!(settle(&[(High, 0.5), (Low, 0.5)], true), High);
        assert_eq!(settle(&[(High, 0.9), (Low, 0.5)], false), High);
        assert_eq!(
            settle(&[(High, 0.4), (Medium, 0.3), (Low, 0.4)], false),
            Medium
        );
        assert_eq!(settle(&[(Medium, 0.0)], false), Medium);
    }

    fn level() -> impl proptest::strategy::Strategy<Value = Level> {
        prop_oneof![Just(Level::Low), Just(Level::Medium), Just(Level::High)]
    }

    fn better_or_equal_impact(a: Level, b: Level) -> bool {
        impact_value(a) >= impact_value(b)
    }

    /// Two wordings of the same recommendation (from the labelled pairs).
    const SAME: [[&str; 2]; 4] = [
        [
            "Recover abandoned carts",
            "Cart abandonment recovery journey",
        ],
        ["Reduce checkout friction", "Simplify the checkout flow"],
        ["Personalize homepage hero", "Homepage hero personalization"],
        [
            "Add product structured data",
            "Structured data for product pages",
        ],
    ];

    proptest! {
        // About one pair in five dominates, so 250 cases reject about 900 on
        // average: proptest's default limit (1,024) failed now and then.
        #![proptest_config(ProptestConfig {
            max_global_rejects: 20_000,
            ..ProptestConfig::default()
        })]

        /// An opportunity at least as good on every axis (and strictly better on
        /// one) ranks above the one it dominates.
        #[test]
        fn dominance_is_respected(
            i1 in level(), e1 in level(), c1 in 2.0f64..100.0,
            i2 in level(), e2 in level(), c2 in 2.0f64..100.0,
        ) {
            let dominates = better_or_equal_impact(i1, i2) && ease_value(e1) >= ease_value(e2) && c1 >= c2
                && (i1 != i2 || e1 != e2 || c1 > c2);
            prop_assume!(dominates);
            let input = SynthesisInput {
                timeline: Timeline::Days90,
                focus_areas: vec![],
                agents: vec![agent(AgentId::ContentReview, Some(output(&[("Alpha plan", i1, e1, c1), ("Beta plan", i2, e2, c2)], 80.0, true)))],
            };
            let s = synthesise(&input);
            let rank = |l: &str| s.recommendations.iter().find(|r| r.label == l).map(|r| r.rank);
            prop_assert!(rank("Alpha plan") < rank("Beta plan"), "{:?}", s.recommendations);
        }

        /// After merging: a recommendation several agents report, rated at least
        /// as well by each as another is rated by fewer agents, ranks above it.
        #[test]
        fn dominance_holds_after_merging(
            pair in 0usize..4, n1 in 1usize..5, n2 in 1usize..5,
            x1 in level(), y1 in level(), z1 in 2.0f64..100.0,
            x2 in level(), y2 in level(), z2 in 2.0f64..100.0,
        ) {
            // A takes the better value on every axis, B the worse.
            let (i1, i2) = if better_or_equal_impact(x1, x2) { (x1, x2) } else { (x2, x1) };
            let (e1, e2) = if ease_value(y1) >= ease_value(y2) { (y1, y2) } else { (y2, y1) };
            let (c1, c2) = (z1.max(z2), z1.min(z2));
            let (agents_a, agents_b) = (n1.max(n2), n1.min(n2));
            prop_assume!(i1 != i2 || e1 != e2 || c1 > c2 || agents_a.min(3) > agents_b.min(3));
            let other = SAME[(pair + 1) % 4];
            let input = SynthesisInput {
                timeline: Timeline::Days90,
                focus_areas: vec![],
                agents: AgentId::ALL.iter().take(agents_a.max(agents_b)).enumerate().map(|(n, id)| {
                    let mut opps = Vec::new();
                    if n < agents_a { opps.push((SAME[pair][n % 2], i1, e1, c1)); }
                    if n < agents_b { opps.push((other[n % 2], i2, e2, c2)); }
                    agent(*id, Some(output(&opps, 80.0, true)))
                }).collect(),
            };
            let s = synthesise(&input);
            prop_assert_eq!(s.recommendations.len(), 2, "{:?}", s.recommendations);
            let a = s.recommendations.iter().find(|r| same_recommendation(&r.label, SAME[pair][0])).map(|r| r.rank);
            let b = s.recommendations.iter().find(|r| same_recommendation(&r.label, other[0])).map(|r| r.rank);
            prop_assert!(a.is_some() && a < b, "{:?}", s.recommendations);
        }

        /// Another agent agreeing with a recommendation's settled rating, in its
        /// own words, never lowers its score or its rank.
        #[test]
        fn agreement_never_lowers_a_score(
            pair in 0usize..4, n in 1usize..4, c_new in 0.0f64..100.0,
            ratings in prop::collection::vec((level(), level(), 2.0f64..100.0), 4),
        ) {
            let agents: Vec<AgentInput> = (0..n).map(|k| {
                let (i, e, c) = ratings[k];
                let opps = vec![(SAME[pair][k % 2], i, e, c), (SAME[(pair + 1) % 4][0], ratings[3].0, ratings[3].1, ratings[3].2)];
                agent(AgentId::ALL[k], Some(output(&opps, 70.0 + k as f64 * 5.0, k % 2 == 0)))
            }).collect();
            let before = synthesise(&SynthesisInput { timeline: Timeline::Days90, focus_areas: vec![], agents: agents.clone() });
            let find = |s: &super::Strategy| s.all_recommendations().into_iter().find(|r| same_recommendation(&r.label, SAME[pair][0]));
            let old = find(&before).expect("merged");
            let mut more = agents;
            more.push(agent(AgentId::ALL[n], Some(output(&[(SAME[pair][1], old.impact, old.effort, c_new)], 75.0, true))));
            let after = synthesise(&SynthesisInput { timeline: Timeline::Days90, focus_areas: vec![], agents: more });
            let new = find(&after).expect("still merged");
            prop_assert_eq!(new.supporting_agents.len(), old.supporting_agents.len() + 1);
            prop_assert!(new.score >= old.score, "{} < {}", new.score, old.score);
            prop_assert!(new.rank <= old.rank);
        }

        /// Whatever the agents say: ranks are 1..n, the ranked list is short and
        /// all scheduled, the backlog ranks below it, prerequisites come first.
        #[test]
        fn the_plan_follows_the_ranking(
            picks in prop::collection::vec((0usize..12, level(), level(), 2.0f64..100.0), 1..40),
            timeline in prop_oneof![Just(Timeline::Days30), Just(Timeline::Days60), Just(Timeline::Days90)],
        ) {
            const LABELS: [&str; 12] = [
                "Fix tagging and event loss", "Launch the first three experiments",
                "Recover abandoned carts", "Cart abandonment recovery journey",
                "Test checkout trust badges", "Simplify the checkout flow",
                "Unify content taxonomy", "Plan personalization variants in the campaign brief",
                "Personalize homepage hero", "Activate real-time ODP segments",
                "Launch the alpha initiative", "Launch the bravo initiative",
            ];
            let agents: Vec<AgentInput> = picks.chunks(5).enumerate().map(|(k, chunk)| {
                let opps: Vec<(&str, Level, Level, f64)> = chunk.iter().map(|(l, i, e, c)| (LABELS[*l], *i, *e, *c)).collect();
                let out = saying(saying(output(&opps, 80.0, k % 2 == 0),
                    "Fix tagging and event loss before launching the first experiments."),
                    "Personalizing the homepage hero depends on activating the ODP segments in real time.");
                agent(AgentId::ALL[k % 9], Some(out))
            }).collect();
            let s = synthesise(&SynthesisInput { timeline, focus_areas: vec![], agents });
            let all = s.all_recommendations();
            prop_assert!(s.recommendations.len() <= SHORT_LIST_LEN);
            prop_assert!(s.backlog.is_empty() || s.recommendations.len() == SHORT_LIST_LEN);
            prop_assert_eq!(all.iter().map(|r| r.rank).collect::<Vec<_>>(), (1..=all.len() as u32).collect::<Vec<_>>());
            let mut scheduled: Vec<u32> = s.roadmap.iter().flat_map(|p| p.recommendations.clone()).collect();
            scheduled.sort_unstable();
            prop_assert_eq!(scheduled, s.recommendations.iter().map(|r| r.rank).collect::<Vec<_>>());
            for r in &all {
                for d in &r.depends_on {
                    prop_assert!(d.rank < r.rank);
                    let pre = &all[d.rank as usize - 1];
                    if let Some(p) = r.phase {
                        prop_assert!(pre.phase.is_some_and(|q| q <= p), "{:?} before {:?}", pre, r);
                    }
                }
            }
            for (i, a) in all.iter().enumerate() {
                for b in &all[i + 1..] {
                    prop_assert!(!same_recommendation(&a.label, &b.label), "{} / {}", a.label, b.label);
                }
            }
            prop_assert!((1..=5).contains(&s.summary.executive_summary.len()));
        }

        #[test]
        fn score_is_monotone_in_every_axis(base in prop::array::uniform6(0.0f64..1.0), axis in 0usize..6, bump in 0.01f64..1.0) {
            let mk = |v: [f64; 6]| ScoreAxes { impact: v[0], ease: v[1], confidence: v[2], reliability: v[3], support: v[4], focus: v[5] };
            let mut better = base;
            better[axis] = (better[axis] + bump).min(1.0);
            prop_assert!(score(mk(better)) >= score(mk(base)));
        }

        #[test]
        fn normalising_never_panics(label in "\\PC{0,80}") {
            let _ = normalise_label(&label);
            let _ = same_recommendation(&label, "Recover abandoned carts");
        }
    }
}
