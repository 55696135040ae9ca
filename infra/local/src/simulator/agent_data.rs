//! Realistic, schema-valid `agent_data` for the nine simulated OPAL agents.
//!
//! Every agent has a hand-written profile (its vocabulary, metrics, findings and
//! recommendations) in `infra/local/data/agents/<agent>.json`, with the wordings
//! several agents share in `shared_opportunities.json`; a small template language
//! fills in numbers and choices from a seeded PRNG, so the output is deterministic
//! for one (agent, company, seed). Each agent's findings end with per-item detail
//! (pages, segments, tests, ...) added until the JSON is about 15 KB, like a real
//! agent's long report.
//!
//! Template placeholders: `{c}` the company, `{e}` the current item,
//! `{n:a:b}` an integer in a..=b, `{p:a:b}` a percentage in a..b with one decimal,
//! `{x:one|two|three}` one of the options.

use std::sync::LazyLock;

use osa_domain::AgentId;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Serialised size the output aims for: a target is drawn from this range.
const TARGET_BYTES: (usize, usize) = (14_000, 15_600);

#[derive(Clone, Copy, Deserialize)]
enum Level {
    High,
    Medium,
    Low,
}

impl Level {
    const fn as_str(self) -> &'static str {
        match self {
            Level::High => "High",
            Level::Medium => "Medium",
            Level::Low => "Low",
        }
    }
}

use Level::{High, Low, Medium};

/// One agent's profile, as its data file has it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    tier: String,
    maturities: Vec<String>,
    title: String,
    promises: Vec<String>,
    metrics: Vec<MetricTpl>,
    confidence: Range,
    confidence_note: String,
    summary: Vec<String>,
    key_points: Vec<String>,
    insights: Vec<InsightTpl>,
    /// Per-item detail: title template, item names, description and bullet templates.
    item_title: String,
    items: Vec<String>,
    item_descriptions: Vec<String>,
    item_bullets: Vec<String>,
    opportunities: Vec<OpportunityTpl>,
    shared_opportunities: Vec<SharedUse>,
    next_steps: Vec<NextStepTpl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricTpl {
    label: String,
    value: String,
    hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Range {
    min: u32,
    max: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InsightTpl {
    title: String,
    description: String,
    bullets: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpportunityTpl {
    label: String,
    impact: Level,
    effort: Level,
}

/// An agent's use of a shared opportunity: which one, under which of its wordings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SharedUse {
    id: String,
    wording: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NextStepTpl {
    label: String,
    owner: String,
    timeframe: String,
}

/// An opportunity several agents find, each under its own wording; synthesis
/// merges them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SharedOpportunity {
    id: String,
    labels: Vec<String>,
    impact: Level,
    effort: Level,
}

/// An agent's data file, built into the binary.
fn profile_file(agent: AgentId) -> &'static str {
    match agent {
        AgentId::IntegrationHealth => include_str!("../../data/agents/integration_health.json"),
        AgentId::ContentReview => include_str!("../../data/agents/content_review.json"),
        AgentId::GeoAudit => include_str!("../../data/agents/geo_audit.json"),
        AgentId::AudienceSuggester => include_str!("../../data/agents/audience_suggester.json"),
        AgentId::ExperimentBlueprinter => {
            include_str!("../../data/agents/experiment_blueprinter.json")
        }
        AgentId::PersonalizationIdeaGenerator => {
            include_str!("../../data/agents/personalization_idea_generator.json")
        }
        AgentId::CustomerJourney => include_str!("../../data/agents/customer_journey.json"),
        AgentId::RoadmapGenerator => include_str!("../../data/agents/roadmap_generator.json"),
        AgentId::CmpOrganizer => include_str!("../../data/agents/cmp_organizer.json"),
    }
}

const SHARED_FILE: &str = include_str!("../../data/agents/shared_opportunities.json");

/// Every agent's profile and the opportunities they share.
struct Data {
    profiles: Vec<(AgentId, Profile)>,
    shared: Vec<SharedOpportunity>,
}

/// The data files, parsed once. They are part of the build, so one that does
/// not parse is a bug the simulator's tests catch, not an input error: it
/// panics naming the file.
static DATA: LazyLock<Data> = LazyLock::new(|| {
    let profiles = AgentId::ALL
        .iter()
        .map(|agent| {
            let profile = serde_json::from_str(profile_file(*agent))
                .unwrap_or_else(|e| panic!("infra/local/data/agents/{agent}.json: {e}"));
            (*agent, profile)
        })
        .collect();
    let shared = serde_json::from_str(SHARED_FILE)
        .unwrap_or_else(|e| panic!("infra/local/data/agents/shared_opportunities.json: {e}"));
    Data { profiles, shared }
});

fn profile(agent: AgentId) -> &'static Profile {
    match DATA.profiles.iter().find(|(a, _)| *a == agent) {
        Some((_, profile)) => profile,
        None => unreachable!("every agent in AgentId::ALL has a profile"),
    }
}

fn shared_opportunity(id: &str) -> Option<&'static SharedOpportunity> {
    DATA.shared.iter().find(|o| o.id == id)
}

/// Realistic, schema-valid `agent_data` for one agent, about 15 KB of JSON,
/// deterministic for a given (agent, company, seed).
pub fn agent_data(agent: AgentId, company: &str, seed: u64) -> Value {
    let company = clean_company(company);
    let mut rng = StdRng::seed_from_u64(mix(seed, agent, &company));
    let p = profile(agent);
    let f = |rng: &mut StdRng, t: &str| fill(t, rng, &company, "");

    let promise = {
        let t = pick(&mut rng, &p.promises);
        let text = f(&mut rng, t);
        truncate_chars(text, 200)
    };
    let metrics: Vec<Value> = p
        .metrics
        .iter()
        .map(|m| {
            let mut metric = json!({"label": m.label, "value": f(&mut rng, &m.value)});
            if let Some(h) = &m.hint {
                metric["hint"] = json!(f(&mut rng, h));
            }
            metric
        })
        .collect();
    let confidence = rng.random_range(p.confidence.min..=p.confidence.max);
    let hero = json!({
        "title": f(&mut rng, &p.title),
        "promise": promise,
        "metrics": metrics,
        "confidence": confidence,
        "confidenceNote": f(&mut rng, &p.confidence_note),
    });

    let summary = p
        .summary
        .iter()
        .map(|s| f(&mut rng, s))
        .collect::<Vec<_>>()
        .join(" ");
    let mut key_points: Vec<String> = p.key_points.iter().map(|k| f(&mut rng, k)).collect();
    key_points.shuffle(&mut rng);
    key_points.truncate(rng.random_range(3..=4).min(key_points.len()));
    let overview = json!({"summary": summary, "keyPoints": key_points});

    let mut insights: Vec<Value> = p
        .insights
        .iter()
        .map(|ins| {
            let bullets: Vec<String> = ins.bullets.iter().map(|b| f(&mut rng, b)).collect();
            json!({
                "title": f(&mut rng, &ins.title),
                "description": f(&mut rng, &ins.description),
                "bullets": bullets,
            })
        })
        .collect();

    let mut opportunities: Vec<Value> = p
        .opportunities
        .iter()
        .map(|o| {
            let label = f(&mut rng, &o.label);
            opportunity(&mut rng, &label, o.impact, o.effort)
        })
        .collect();
    for used in &p.shared_opportunities {
        if let Some(shared) = shared_opportunity(&used.id)
            && !shared.labels.is_empty()
        {
            let label = &shared.labels[used.wording % shared.labels.len()];
            opportunities.push(opportunity(&mut rng, label, shared.impact, shared.effort));
        }
    }
    opportunities.shuffle(&mut rng);

    let next_steps: Vec<Value> = p
        .next_steps
        .iter()
        .map(|s| {
            json!({"label": f(&mut rng, &s.label), "ownerHint": s.owner, "timeframeHint": s.timeframe})
        })
        .collect();

    let maturity = pick(&mut rng, &p.maturities);
    let meta = json!({
        "tier": p.tier,
        "agents": [agent.as_str()],
        "maturity": maturity,
        "lastUpdated": last_updated(&mut rng),
    });

    let mut out = json!({
        "hero": hero,
        "overview": overview,
        "insights": [],
        "opportunities": opportunities,
        "nextSteps": next_steps,
        "meta": meta,
    });

    // Per-item detail until the report reaches its target size.
    let target = rng.random_range(TARGET_BYTES.0..=TARGET_BYTES.1);
    let mut items: Vec<&str> = p.items.iter().map(String::as_str).collect();
    items.shuffle(&mut rng);
    let base_len = serialized_len(&out);
    let mut insights_len: usize =
        insights.iter().map(serialized_len).sum::<usize>() + insights.len();
    for item in items {
        if base_len + insights_len >= target {
            break;
        }
        let g = |rng: &mut StdRng, t: &str| fill(t, rng, &company, item);
        let mut bullets: Vec<&str> = p.item_bullets.iter().map(String::as_str).collect();
        bullets.shuffle(&mut rng);
        let n = rng.random_range(bullets.len().saturating_sub(2)..=bullets.len());
        let bullets: Vec<String> = bullets[..n].iter().map(|b| g(&mut rng, b)).collect();
        let mut descriptions: Vec<&str> = p.item_descriptions.iter().map(String::as_str).collect();
        descriptions.shuffle(&mut rng);
        let description = descriptions
            .iter()
            .take(2)
            .map(|d| g(&mut rng, d))
            .collect::<Vec<_>>()
            .join(" ");
        let insight = json!({
            "title": g(&mut rng, &p.item_title),
            "description": description,
            "bullets": bullets,
        });
        insights_len += serialized_len(&insight) + 1;
        insights.push(insight);
    }
    out["insights"] = Value::Array(insights);
    out
}

fn opportunity(rng: &mut StdRng, label: &str, impact: Level, effort: Level) -> Value {
    let confidence = match impact {
        High => rng.random_range(72..=93),
        Medium => rng.random_range(60..=86),
        Low => rng.random_range(50..=78),
    };
    json!({
        "label": label,
        "impactLevel": impact.as_str(),
        "effortLevel": effort.as_str(),
        "confidence": confidence,
    })
}

fn serialized_len(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(0, |b| b.len())
}

fn pick<'a>(rng: &mut StdRng, options: &'a [impl AsRef<str>]) -> &'a str {
    if options.is_empty() {
        return "";
    }
    options[rng.random_range(0..options.len())].as_ref()
}

fn truncate_chars(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// A printable company name of at most 80 characters.
fn clean_company(company: &str) -> String {
    let c: String = company
        .chars()
        .filter(|ch| !ch.is_control() && *ch != '{' && *ch != '}')
        .take(80)
        .collect();
    let c = c.trim();
    if c.is_empty() {
        "your company".to_owned()
    } else {
        c.to_owned()
    }
}

/// FNV-1a over the company name, mixed with the agent and the seed.
fn mix(seed: u64, agent: AgentId, company: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in company.bytes().chain(agent.as_str().bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// A plausible, seed-determined report time in 2026 (the simulator overwrites it with
/// the send time).
fn last_updated(rng: &mut StdRng) -> String {
    const BASE: i64 = 1_767_603_600; // 2026-01-05T09:00:00Z
    let offset = rng.random_range(0..200 * 86_400);
    OffsetDateTime::from_unix_timestamp(BASE + offset)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "2026-01-05T09:00:00Z".to_owned())
}

/// Expands the template placeholders described in the module docs.
fn fill(template: &str, rng: &mut StdRng, company: &str, item: &str) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let spec = &after[..close];
        match spec {
            "c" => out.push_str(company),
            "e" => out.push_str(item),
            _ => expand(spec, rng, &mut out),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn expand(spec: &str, rng: &mut StdRng, out: &mut String) {
    let Some((kind, args)) = spec.split_once(':') else {
        out.push_str(spec);
        return;
    };
    match kind {
        "n" => {
            let (lo, hi) = bounds::<u64>(args);
            let n = if lo < hi {
                rng.random_range(lo..=hi)
            } else {
                lo
            };
            out.push_str(&thousands(n));
        }
        "p" => {
            let (lo, hi) = bounds::<f64>(args);
            let x = if lo < hi {
                rng.random_range(lo..hi)
            } else {
                lo
            };
            out.push_str(&format!("{x:.1}%"));
        }
        "x" => {
            let options: Vec<&str> = args.split('|').collect();
            out.push_str(pick(rng, &options));
        }
        _ => out.push_str(spec),
    }
}

fn bounds<T: std::str::FromStr + Default>(args: &str) -> (T, T) {
    let (a, b) = args.split_once(':').unwrap_or((args, args));
    (a.parse().unwrap_or_default(), b.parse().unwrap_or_default())
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    if n < 10_000 {
        return digits;
    }
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unknown shared opportunity or wording would be skipped or wrapped
    /// silently at run time; here it fails.
    #[test]
    fn every_profile_parses_and_names_shared_opportunities_that_exist() {
        for agent in AgentId::ALL {
            for used in &profile(agent).shared_opportunities {
                let shared = shared_opportunity(&used.id)
                    .unwrap_or_else(|| panic!("{agent}: no shared opportunity {:?}", used.id));
                assert!(used.wording < shared.labels.len(), "{agent}: {:?}", used.id);
            }
        }
    }
}
