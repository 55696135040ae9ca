//! Cross-agent synthesis: one ranked strategy and a roadmap from the agents' outputs.
//!
//! Pure and deterministic: the same inputs always give the same strategy.
//!
//! **Ranking score** (0–100) of a recommendation:
//! `100 × (0.30·impact + 0.20·ease + 0.25·confidence + 0.10·reliability + 0.10·support + 0.05·focus)`
//! where impact is High 1 / Medium 0.6 / Low 0.2, ease is the inverse of effort
//! (Low 1 / Medium 0.6 / High 0.2), confidence is the winning report's (0–1),
//! reliability the mean of the supporting agents' reliability (data quality ×
//! agent confidence), support `min(agents, 3) / 3`, and focus 1 when a supporting
//! agent serves one of the intake's focus areas. Every weight is positive, so an
//! opportunity at least as good on every axis never ranks below one it dominates.

use std::collections::BTreeMap;

use serde::Serialize;

use super::agent_output::{AgentOutput, Level};
use super::agents::AgentId;
use super::intake::{FocusArea, Timeline};
use super::workflow::AgentStatus;

/// Recommendations per roadmap phase; the rest wait in the backlog.
pub const PHASE_CAPACITY: usize = 6;

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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Strategy {
    pub summary: Summary,
    pub recommendations: Vec<Recommendation>,
    pub roadmap: Vec<Phase>,
    pub backlog: Vec<u32>,
    pub coverage: Vec<Coverage>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub headline: String,
    pub agents_expected: u8,
    pub agents_reporting: u8,
    /// Mean unified confidence of the reporting agents, 0–1.
    pub overall_confidence: Option<f64>,
    pub key_points: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub rank: u32,
    pub label: String,
    /// The normalised label the reports were merged on.
    pub key: String,
    pub impact: Level,
    pub effort: Level,
    pub confidence: f64,
    pub score: f64,
    pub supporting_agents: Vec<AgentId>,
    /// Other labels the same opportunity was reported under.
    pub also_reported_as: Vec<String>,
    /// The reports disagreed on impact or effort; the most confident one won.
    pub disagreement: bool,
    pub phase: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub phase: u8,
    pub name: &'static str,
    pub start_day: u32,
    pub end_day: u32,
    /// Ranks of the recommendations in this phase, best first.
    pub recommendations: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    pub agent: AgentId,
    pub status: AgentStatus,
    pub confidence: Option<f64>,
    pub data_quality: Option<f64>,
    pub reliability: Option<f64>,
    pub late: bool,
    pub recommendations: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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

const STOPWORDS: [&str; 16] = [
    "a", "an", "and", "by", "for", "from", "in", "into", "of", "on", "or", "the", "to", "via",
    "with", "your",
];
const SUFFIXES: [&str; 14] = [
    "izations", "ization", "izing", "ized", "izes", "ize", "ations", "ation", "ings", "ing", "ed",
    "es", "s", "e",
];

fn stem(word: &str) -> String {
    for suffix in SUFFIXES {
        if let Some(stem) = word.strip_suffix(suffix)
            && stem.len() >= 4
        {
            return stem.to_owned();
        }
    }
    word.to_owned()
}

/// The label an opportunity is merged on: lowercase word stems, without
/// stopwords or punctuation, sorted. "Personalize the homepage hero" and
/// "Homepage hero personalization" both become `hero homepag personal`.
pub fn normalise_label(label: &str) -> String {
    let mut words: Vec<String> = label
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(w))
        .map(stem)
        .collect();
    words.sort();
    words.dedup();
    words.join(" ")
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

pub fn score(a: ScoreAxes) -> f64 {
    let raw = 0.30 * a.impact
        + 0.20 * a.ease
        + 0.25 * a.confidence
        + 0.10 * a.reliability
        + 0.10 * a.support
        + 0.05 * a.focus;
    (raw * 1000.0).round() / 10.0
}

struct Report<'a> {
    agent: AgentId,
    label: &'a str,
    impact: Level,
    effort: Level,
    confidence: f64,
}

pub fn synthesise(input: &SynthesisInput) -> Strategy {
    // Agent order is catalogue order whatever order the caller used.
    let mut agents: Vec<&AgentInput> = input.agents.iter().collect();
    agents.sort_by_key(|a| AgentId::ALL.iter().position(|x| *x == a.agent));

    let mut coverage: Vec<Coverage> = agents
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
        .collect();
    let reliability: BTreeMap<AgentId, f64> = coverage
        .iter()
        .filter_map(|c| c.reliability.map(|r| (c.agent, r)))
        .collect();

    // Group every reported opportunity by its normalised label, in a stable order.
    let mut groups: Vec<(String, Vec<Report>)> = Vec::new();
    for a in &agents {
        let Some(out) = &a.output else { continue };
        for o in &out.opportunities {
            let key = normalise_label(&o.label);
            if key.is_empty() {
                continue;
            }
            let report = Report {
                agent: a.agent,
                label: &o.label,
                impact: o.impact_level,
                effort: o.effort_level,
                confidence: unify_confidence(o.confidence),
            };
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, reports)) => reports.push(report),
                None => groups.push((key, vec![report])),
            }
        }
    }

    let mut recommendations: Vec<Recommendation> = groups
        .into_iter()
        .map(|(key, reports)| {
            // The most confident report decides; ties go to the earlier agent.
            let winner = reports
                .iter()
                .enumerate()
                .max_by(|(ia, a), (ib, b)| a.confidence.total_cmp(&b.confidence).then(ib.cmp(ia)))
                .map_or(&reports[0], |(_, r)| r);
            let mut supporting: Vec<AgentId> = reports.iter().map(|r| r.agent).collect();
            supporting.dedup();
            let disagreement = reports
                .iter()
                .any(|r| r.impact != winner.impact || r.effort != winner.effort);
            let mut also: Vec<String> = reports
                .iter()
                .map(|r| r.label.to_owned())
                .filter(|l| l != winner.label)
                .collect();
            also.sort();
            also.dedup();
            let rel = supporting
                .iter()
                .map(|a| reliability.get(a).copied().unwrap_or(0.0))
                .sum::<f64>()
                / supporting.len() as f64;
            let focus = supporting
                .iter()
                .any(|a| agent_focus(*a).is_some_and(|f| input.focus_areas.contains(&f)));
            let axes = ScoreAxes {
                impact: impact_value(winner.impact),
                ease: ease_value(winner.effort),
                confidence: winner.confidence,
                reliability: rel,
                support: supporting.len().min(3) as f64 / 3.0,
                focus: f64::from(u8::from(focus)),
            };
            Recommendation {
                rank: 0,
                label: winner.label.to_owned(),
                key,
                impact: winner.impact,
                effort: winner.effort,
                confidence: round3(winner.confidence),
                score: score(axes),
                supporting_agents: supporting,
                also_reported_as: also,
                disagreement,
                phase: None,
            }
        })
        .collect();
    recommendations.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.key.cmp(&b.key)));
    for (i, r) in recommendations.iter_mut().enumerate() {
        r.rank = i as u32 + 1;
    }

    let (roadmap, backlog) = plan_roadmap(&mut recommendations, input.timeline);
    for c in &mut coverage {
        c.recommendations = recommendations
            .iter()
            .filter(|r| r.supporting_agents.contains(&c.agent))
            .count() as u32;
    }
    let warnings = warnings(&coverage, &recommendations);
    let summary = summary(&agents, &coverage, &recommendations, &roadmap);
    Strategy {
        summary,
        recommendations,
        roadmap,
        backlog,
        coverage,
        warnings,
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Three phases over the timeline: quick wins (low effort) first, then medium
/// effort, then the strategic bets; each phase best score first, capped.
fn plan_roadmap(
    recommendations: &mut [Recommendation],
    timeline: Timeline,
) -> (Vec<Phase>, Vec<u32>) {
    let days = timeline.days();
    let third = days / 3;
    let mut phases = vec![
        Phase {
            phase: 1,
            name: "Quick wins",
            start_day: 1,
            end_day: third,
            recommendations: vec![],
        },
        Phase {
            phase: 2,
            name: "Build momentum",
            start_day: third + 1,
            end_day: 2 * third,
            recommendations: vec![],
        },
        Phase {
            phase: 3,
            name: "Strategic bets",
            start_day: 2 * third + 1,
            end_day: days,
            recommendations: vec![],
        },
    ];
    let mut backlog = Vec::new();
    for r in recommendations.iter_mut() {
        let index = match r.effort {
            Level::Low => 0,
            Level::Medium => 1,
            Level::High => 2,
        };
        if phases[index].recommendations.len() < PHASE_CAPACITY {
            phases[index].recommendations.push(r.rank);
            r.phase = Some(phases[index].phase);
        } else {
            backlog.push(r.rank);
        }
    }
    (phases, backlog)
}

fn warnings(coverage: &[Coverage], recommendations: &[Recommendation]) -> Vec<Warning> {
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
                missing
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
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
                late.iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
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
            message: format!(
                "Low confidence (under 50%) from: {}.",
                low.iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            agents: low,
        });
    }
    let disputed = recommendations.iter().filter(|r| r.disagreement).count();
    if disputed > 0 {
        out.push(Warning {
            code: "conflicting_assessments",
            message: format!(
                "{disputed} recommendation(s) were rated differently by different agents; the most confident rating was kept."
            ),
            agents: vec![],
        });
    }
    if recommendations.is_empty() {
        out.push(Warning {
            code: "no_recommendations",
            message: "No agent reported an opportunity, so there is nothing to rank yet.".into(),
            agents: vec![],
        });
    }
    out
}

fn summary(
    agents: &[&AgentInput],
    coverage: &[Coverage],
    recommendations: &[Recommendation],
    roadmap: &[Phase],
) -> Summary {
    let reporting = coverage.iter().filter(|c| c.data_quality.is_some()).count() as u8;
    let confidences: Vec<f64> = coverage
        .iter()
        .filter(|c| c.data_quality.is_some())
        .filter_map(|c| c.confidence)
        .collect();
    let overall = (!confidences.is_empty())
        .then(|| round3(confidences.iter().sum::<f64>() / confidences.len() as f64));
    let headline = match recommendations.first() {
        Some(top) => format!(
            "{} ranked recommendations from {reporting} of 9 agents; start with \u{201c}{}\u{201d} ({} quick win{}).",
            recommendations.len(),
            top.label,
            roadmap[0].recommendations.len(),
            if roadmap[0].recommendations.len() == 1 {
                ""
            } else {
                "s"
            }
        ),
        None => format!("No recommendations yet; {reporting} of 9 agents reported."),
    };
    // The first key point of the three most reliable agents.
    let mut ranked: Vec<(&Coverage, &AgentInput)> = coverage
        .iter()
        .zip(agents.iter().copied())
        .filter(|(c, _)| c.reliability.is_some())
        .collect();
    ranked.sort_by(|a, b| {
        b.0.reliability
            .unwrap_or(0.0)
            .total_cmp(&a.0.reliability.unwrap_or(0.0))
    });
    let key_points = ranked
        .iter()
        .filter_map(|(_, a)| {
            a.output
                .as_ref()
                .and_then(|o| o.overview.key_points.first().cloned())
        })
        .take(3)
        .collect();
    Summary {
        headline,
        agents_expected: 9,
        agents_reporting: reporting,
        overall_confidence: overall,
        key_points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::agent_output::{
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
                        label: format!("m{i}"),
                        value: "1".into(),
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
                    Some(output(
                        &[
                            ("Rewrite top landing pages", High, Low, 80.0),
                            ("Personalize the homepage hero", Medium, Medium, 60.0),
                        ],
                        82.0,
                        true,
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
                // 0.3·1 + 0.2·0.6 + 0.25·0.85 + 0.1·0.70 + 0.1·2/3 + 0.05 (focus)
                (1, "Homepage hero personalization", 81.9, Some(2)),
                // 0.3·1 + 0.2·1 + 0.25·0.80 + 0.1·0.718 + 0.1·1/3
                (2, "Rewrite top landing pages", 80.5, Some(1)),
                (3, "Launch a loyalty programme", 66.7, Some(3)),
                // a thin output (data quality 3/8) costs reliability
                (4, "A/B test checkout copy", 63.5, Some(1)),
            ]
        );
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
            vec!["Personalize the homepage hero"]
        );
        assert!(merged.disagreement, "Medium vs High impact");
        assert_eq!(
            (merged.impact, merged.effort),
            (Level::High, Level::Medium),
            "the more confident report wins"
        );
        assert_eq!(
            s.roadmap
                .iter()
                .map(|p| (p.start_day, p.end_day))
                .collect::<Vec<_>>(),
            vec![(1, 30), (31, 60), (61, 90)]
        );
        assert_eq!(s.roadmap[0].recommendations, vec![2, 4]);
        assert_eq!(s.summary.agents_reporting, 3);
        assert_eq!(s.summary.overall_confidence, Some(0.833));
        let codes: Vec<&str> = s.warnings.iter().map(|w| w.code).collect();
        assert_eq!(codes, vec!["partial_results", "conflicting_assessments"]);
        assert_eq!(s.warnings[0].agents, vec![AgentId::GeoAudit]);
        assert!(s.warnings[0].message.contains("geo_audit"));
        assert!(
            s.summary
                .headline
                .starts_with("4 ranked recommendations from 3 of 9 agents")
        );
    }

    #[test]
    fn input_order_does_not_matter() {
        let a = synthesise(&fixture());
        let mut reversed = fixture();
        reversed.agents.reverse();
        assert_eq!(a, synthesise(&reversed));
    }

    #[test]
    fn phases_scale_with_the_timeline_and_overflow_to_the_backlog() {
        let many: Vec<(String, Level, Level, f64)> = (0..8)
            .map(|i| {
                (
                    format!("Quick fix number {i}x"),
                    Level::High,
                    Level::Low,
                    50.0 + i as f64,
                )
            })
            .collect();
        let refs: Vec<(&str, Level, Level, f64)> = many
            .iter()
            .map(|(l, i, e, c)| (l.as_str(), *i, *e, *c))
            .collect();
        let input = SynthesisInput {
            timeline: Timeline::Days30,
            focus_areas: vec![],
            agents: vec![agent(
                AgentId::ContentReview,
                Some(output(&refs, 80.0, true)),
            )],
        };
        let s = synthesise(&input);
        assert_eq!(
            (
                s.roadmap[0].start_day,
                s.roadmap[0].end_day,
                s.roadmap[2].end_day
            ),
            (1, 10, 30)
        );
        assert_eq!(s.roadmap[0].recommendations.len(), PHASE_CAPACITY);
        assert_eq!(s.backlog, vec![7, 8]);
    }

    #[test]
    fn nothing_to_rank_is_a_warning_not_an_error() {
        let s = synthesise(&SynthesisInput {
            timeline: Timeline::Days60,
            focus_areas: vec![],
            agents: vec![agent(AgentId::GeoAudit, None)],
        });
        assert!(s.recommendations.is_empty());
        assert!(s.warnings.iter().any(|w| w.code == "no_recommendations"));
        assert_eq!(s.summary.overall_confidence, None);
    }

    fn level() -> impl proptest::strategy::Strategy<Value = Level> {
        prop_oneof![Just(Level::Low), Just(Level::Medium), Just(Level::High)]
    }

    fn better_or_equal_impact(a: Level, b: Level) -> bool {
        impact_value(a) >= impact_value(b)
    }

    proptest! {
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
        }
    }
}
