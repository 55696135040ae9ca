//! The output schema every agent declares for a completed run's `agent_data`.

use serde::{Deserialize, Serialize};

use super::schema::NOT_BLANK;
use super::validation::{FieldError, Violations, from_value, objects_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Level {
    High,
    Medium,
    Low,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Strategy,
    Insights,
    Optimization,
    Dxptools,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Maturity {
    Crawl,
    Walk,
    Run,
    Fly,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentOutput {
    pub hero: Hero,
    pub overview: Overview,
    pub insights: Vec<Insight>,
    pub opportunities: Vec<Opportunity>,
    #[schemars(length(min = 2))]
    pub next_steps: Vec<NextStep>,
    pub meta: Meta,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Hero {
    #[schemars(length(min = 1, max = 200), pattern(NOT_BLANK))]
    pub title: String,
    #[schemars(length(min = 1, max = 200), pattern(NOT_BLANK))]
    pub promise: String,
    #[schemars(length(min = 3, max = 3))]
    pub metrics: Vec<Metric>,
    #[schemars(range(min = 0, max = 100))]
    pub confidence: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence_note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Metric {
    #[schemars(length(min = 1, max = 200), pattern(NOT_BLANK))]
    pub label: String,
    #[schemars(length(min = 1, max = 200), pattern(NOT_BLANK))]
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    #[schemars(length(min = 1, max = 5000), pattern(NOT_BLANK))]
    pub summary: String,
    #[schemars(length(min = 2, max = 4))]
    pub key_points: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Insight {
    #[schemars(length(min = 1, max = 300), pattern(NOT_BLANK))]
    pub title: String,
    pub description: String,
    pub bullets: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Opportunity {
    #[schemars(length(min = 1, max = 300), pattern(NOT_BLANK))]
    pub label: String,
    pub impact_level: Level,
    pub effort_level: Level,
    #[schemars(range(min = 0, max = 100))]
    pub confidence: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NextStep {
    #[schemars(length(min = 1, max = 300), pattern(NOT_BLANK))]
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeframe_hint: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub tier: Tier,
    pub agents: Vec<String>,
    pub maturity: Maturity,
    #[schemars(with = "super::schema::Timestamp")]
    pub last_updated: String,
}

/// Validates `agent_data` against the output schema. Paths start at `agent_data`.
pub fn validate_agent_output(data: &serde_json::Value) -> Result<AgentOutput, Vec<FieldError>> {
    let not_objects = objects_at(
        data,
        "agent_data",
        &[
            "",
            "hero",
            "hero.metrics[]",
            "overview",
            "insights[]",
            "opportunities[]",
            "nextSteps[]",
            "meta",
        ],
    );
    if !not_objects.is_empty() {
        return Err(not_objects);
    }
    let out: AgentOutput = from_value(data, "agent_data")?;
    let mut v = Violations::at("agent_data");
    v.text("hero.title", &out.hero.title, 1, 200);
    v.text("hero.promise", &out.hero.promise, 1, 200);
    v.count("hero.metrics", out.hero.metrics.len(), 3, 3);
    for (i, m) in out.hero.metrics.iter().enumerate() {
        v.text(&format!("hero.metrics[{i}].label"), &m.label, 1, 200);
        v.text(&format!("hero.metrics[{i}].value"), &m.value, 1, 200);
    }
    v.range("hero.confidence", out.hero.confidence, 0.0, 100.0);
    v.text("overview.summary", &out.overview.summary, 1, 5000);
    v.count("overview.keyPoints", out.overview.key_points.len(), 2, 4);
    for (i, ins) in out.insights.iter().enumerate() {
        v.text(&format!("insights[{i}].title"), &ins.title, 1, 300);
    }
    for (i, o) in out.opportunities.iter().enumerate() {
        v.text(&format!("opportunities[{i}].label"), &o.label, 1, 300);
        v.range(
            &format!("opportunities[{i}].confidence"),
            o.confidence,
            0.0,
            100.0,
        );
    }
    v.count("nextSteps", out.next_steps.len(), 2, usize::MAX);
    for (i, s) in out.next_steps.iter().enumerate() {
        v.text(&format!("nextSteps[{i}].label"), &s.label, 1, 300);
    }
    if time::OffsetDateTime::parse(
        &out.meta.last_updated,
        &time::format_description::well_known::Rfc3339,
    )
    .is_err()
    {
        v.push("meta.lastUpdated", "must be an RFC 3339 timestamp");
    }
    v.into_result(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};

    pub(crate) fn sample() -> Value {
        json!({
            "hero": {
                "title": "Content health",
                "promise": "Fix the ten pages that lose most visitors",
                "metrics": [
                    {"label": "Pages audited", "value": "412"},
                    {"label": "Thin pages", "value": "37", "hint": "under 300 words"},
                    {"label": "Avg. score", "value": "71/100"}
                ],
                "confidence": 82
            },
            "overview": {"summary": "Most traffic lands on a few pages.", "keyPoints": ["a", "b"]},
            "insights": [{"title": "Thin content", "description": "d", "bullets": ["x"]}],
            "opportunities": [
                {"label": "Rewrite top landing pages", "impactLevel": "High", "effortLevel": "Low", "confidence": 80}
            ],
            "nextSteps": [{"label": "Audit"}, {"label": "Rewrite", "ownerHint": "content team"}],
            "meta": {"tier": "insights", "agents": ["content_review"], "maturity": "walk",
                     "lastUpdated": "2026-11-25T10:00:00Z"}
        })
    }

    fn paths(v: &Value) -> Vec<String> {
        validate_agent_output(v)
            .unwrap_err()
            .into_iter()
            .map(|e| e.path)
            .collect()
    }

    #[test]
    fn the_sample_is_valid() {
        let out = validate_agent_output(&sample()).unwrap();
        assert_eq!(out.opportunities[0].impact_level, Level::High);
        assert_eq!(out.meta.tier, Tier::Insights);
    }

    #[test]
    fn metrics_must_be_exactly_three() {
        let mut v = sample();
        v["hero"]["metrics"].as_array_mut().unwrap().pop();
        assert_eq!(paths(&v), vec!["agent_data.hero.metrics"]);
    }

    #[test]
    fn ranges_and_counts_report_paths() {
        let mut v = sample();
        v["hero"]["confidence"] = json!(101);
        v["hero"]["promise"] = json!("p".repeat(201));
        v["overview"]["keyPoints"] = json!(["only one"]);
        v["opportunities"][0]["confidence"] = json!(-1);
        v["nextSteps"] = json!([{"label": "one"}]);
        v["meta"]["lastUpdated"] = json!("yesterday");
        assert_eq!(
            paths(&v),
            vec![
                "agent_data.hero.promise",
                "agent_data.hero.confidence",
                "agent_data.overview.keyPoints",
                "agent_data.opportunities[0].confidence",
                "agent_data.nextSteps",
                "agent_data.meta.lastUpdated",
            ]
        );
    }

    #[test]
    fn shape_errors_are_nested_under_agent_data() {
        let mut v = sample();
        v["opportunities"][0]["impactLevel"] = json!("Huge");
        assert_eq!(paths(&v), vec!["agent_data.opportunities[0].impactLevel"]);
        let mut v = sample();
        v["meta"].as_object_mut().unwrap().remove("tier");
        assert_eq!(paths(&v), vec!["agent_data.meta"]);
        assert_eq!(paths(&json!("text")), vec!["agent_data"]);
    }
}
