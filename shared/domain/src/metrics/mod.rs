//! Metrics: the `osal_*` families, their labels and histogram buckets, and how
//! an observation becomes additive cell updates (this module); the Prometheus
//! text exposition (`prometheus`), CloudWatch Embedded Metric Format lines
//! (`emf`) and the bounded label values (`labels`). Pure: no I/O.
//!
//! Storage model: a series (family + label values) has cells; a counter has one
//! (`v`), a gauge one (`v`, set rather than added), a histogram one per bucket
//! (`b0`..`bN`, *not* cumulative, `bN` being the overflow above the last bound)
//! plus `sum`. Every update is an addition to a cell, so a store can apply them
//! atomically and in any order from any number of instances (DynamoDB `ADD`,
//! SQLite `v = v + ?`) and spread one series over shards that a read sums. The
//! histogram count is the sum of its bucket cells, so it can never disagree with
//! the `+Inf` bucket.
//!
//! Label values are bounded by construction: they come from enums, the agent
//! catalogue, route templates and small families (`user_agent_family`), never from
//! raw input; [`Series::new`] refuses a wrong label count or an over-long value.

mod emf;
mod labels;
mod merge;
mod prometheus;
mod recorded;

use std::collections::BTreeMap;

pub use emf::emf_line;
pub use labels::*;
pub use merge::{SeriesUpdate, merged};
pub use prometheus::{escape_help, escape_label, format_float};
pub use recorded::{EventMetrics, WORKFLOW_TYPE, of_recorded, pii_observations};

/// `Content-Type` of the text exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The EMF namespace the Lambdas publish to.
pub const EMF_NAMESPACE: &str = "OSA";

/// Longest label value accepted.
pub const MAX_LABEL_LEN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

const AGENT_BUCKETS: &[f64] = &[0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
/// A workflow takes minutes (its agents up to six, the workflow at most 30):
/// bounds from 10 s to an hour, so a real one lands in a finite bucket.
const WORKFLOW_BUCKETS: &[f64] = &[
    10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0,
];

/// API requests take milliseconds; the slowest routes (a report, a Force Sync
/// waiting on Optimizely) seconds.
const API_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The metric families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    AgentExecutionTotal,
    AgentExecutionDurationSeconds,
    WorkflowProcessingDurationSeconds,
    PiiProtectionOperationsTotal,
    StrategyRecommendationsTotal,
    SystemHealthScore,
    WebhookProcessingTotal,
    ComplianceViolationsTotal,
    ApiRequestsTotal,
    ApiRequestDurationSeconds,
    DeliveriesDeadLetteredTotal,
    AgentOverAllowanceTotal,
}

impl Family {
    pub const ALL: [Family; 12] = [
        Family::AgentExecutionTotal,
        Family::AgentExecutionDurationSeconds,
        Family::WorkflowProcessingDurationSeconds,
        Family::PiiProtectionOperationsTotal,
        Family::StrategyRecommendationsTotal,
        Family::SystemHealthScore,
        Family::WebhookProcessingTotal,
        Family::ComplianceViolationsTotal,
        Family::ApiRequestsTotal,
        Family::ApiRequestDurationSeconds,
        Family::DeliveriesDeadLetteredTotal,
        Family::AgentOverAllowanceTotal,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Family::AgentExecutionTotal => "osal_agent_execution_total",
            Family::AgentExecutionDurationSeconds => "osal_agent_execution_duration_seconds",
            Family::WorkflowProcessingDurationSeconds => {
                "osal_workflow_processing_duration_seconds"
            }
            Family::PiiProtectionOperationsTotal => "osal_pii_protection_operations_total",
            Family::StrategyRecommendationsTotal => "osal_strategy_recommendations_total",
            Family::SystemHealthScore => "osal_system_health_score",
            Family::WebhookProcessingTotal => "osal_webhook_processing_total",
            Family::ComplianceViolationsTotal => "osal_compliance_violations_total",
            Family::ApiRequestsTotal => "osal_api_requests_total",
            Family::ApiRequestDurationSeconds => "osal_api_request_duration_seconds",
            Family::DeliveriesDeadLetteredTotal => "osal_deliveries_dead_lettered_total",
            Family::AgentOverAllowanceTotal => "osal_agent_over_allowance_total",
        }
    }

    pub const fn help(self) -> &'static str {
        match self {
            Family::AgentExecutionTotal => "Total number of OPAL agent executions by status",
            Family::AgentExecutionDurationSeconds => {
                "Duration of agent executions in seconds, by OSA's clock"
            }
            Family::WorkflowProcessingDurationSeconds => {
                "Duration of workflow processing operations"
            }
            Family::PiiProtectionOperationsTotal => {
                "Total PII protection operations by type and mode"
            }
            Family::StrategyRecommendationsTotal => "Total strategy recommendations generated",
            Family::SystemHealthScore => "Current system health score by component",
            Family::WebhookProcessingTotal => "Total webhook processing operations",
            Family::ComplianceViolationsTotal => {
                "Personal data stored unredacted (redaction mode none), by type"
            }
            Family::ApiRequestsTotal => "Total API requests processed",
            Family::ApiRequestDurationSeconds => {
                "Time from request to response head, by route, in seconds"
            }
            Family::DeliveriesDeadLetteredTotal => {
                "Outbound deliveries dead-lettered after their last attempt"
            }
            Family::AgentOverAllowanceTotal => {
                "Agents that ran past their own allowance, by OSA's clock"
            }
        }
    }

    pub const fn kind(self) -> Kind {
        match self {
            Family::AgentExecutionDurationSeconds
            | Family::WorkflowProcessingDurationSeconds
            | Family::ApiRequestDurationSeconds => Kind::Histogram,
            Family::SystemHealthScore => Kind::Gauge,
            _ => Kind::Counter,
        }
    }

    pub const fn labels(self) -> &'static [&'static str] {
        match self {
            Family::AgentExecutionTotal => &["agent_id", "status", "workflow_type"],
            Family::AgentExecutionDurationSeconds => &["agent_id", "workflow_type"],
            Family::WorkflowProcessingDurationSeconds => &["operation_type", "status"],
            Family::PiiProtectionOperationsTotal => {
                &["pii_type", "redaction_mode", "confidence_level"]
            }
            Family::StrategyRecommendationsTotal => {
                &["recommendation_type", "confidence_level", "user_segment"]
            }
            Family::SystemHealthScore => &["component", "environment"],
            Family::WebhookProcessingTotal => &[
                "agent_id",
                "status",
                "webhook_type",
                "processing_time_range",
            ],
            Family::ComplianceViolationsTotal => &["violation_type", "severity", "framework"],
            Family::ApiRequestsTotal => &["method", "endpoint", "status_code", "user_agent"],
            Family::ApiRequestDurationSeconds => &["method", "endpoint"],
            Family::AgentOverAllowanceTotal => &["agent_id"],
            // No labels: its EMF metric has no dimensions, as the template's alarm reads it.
            Family::DeliveriesDeadLetteredTotal => &[],
        }
    }

    /// Upper bounds of a histogram's buckets (without `+Inf`); empty otherwise.
    pub const fn buckets(self) -> &'static [f64] {
        match self {
            Family::AgentExecutionDurationSeconds => AGENT_BUCKETS,
            Family::WorkflowProcessingDurationSeconds => WORKFLOW_BUCKETS,
            Family::ApiRequestDurationSeconds => API_BUCKETS,
            _ => &[],
        }
    }

    /// The CloudWatch unit of a value of this family.
    pub const fn unit(self) -> &'static str {
        match self.kind() {
            Kind::Histogram => "Seconds",
            Kind::Gauge => "None",
            Kind::Counter => "Count",
        }
    }

    pub fn from_name(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    #[error("{family} takes {expected} label values, not {got}")]
    LabelCount {
        family: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("a label value of {0} is empty or longer than {MAX_LABEL_LEN} characters")]
    LabelValue(&'static str),
    #[error("stored series {0:?} is not readable")]
    Stored(String),
}

/// One series: a family and its label values, in the family's label order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Series {
    family: Family,
    values: Vec<String>,
}

impl Series {
    pub fn new(family: Family, values: &[&str]) -> Result<Series, MetricsError> {
        let expected = family.labels().len();
        if values.len() != expected {
            return Err(MetricsError::LabelCount {
                family: family.name(),
                expected,
                got: values.len(),
            });
        }
        if values
            .iter()
            .any(|v| v.is_empty() || v.chars().count() > MAX_LABEL_LEN)
        {
            return Err(MetricsError::LabelValue(family.name()));
        }
        Ok(Series {
            family,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        })
    }

    pub fn family(&self) -> Family {
        self.family
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// The label values as a JSON array: the stored form (with the family name).
    pub fn labels_json(&self) -> String {
        serde_json::to_string(&self.values).unwrap_or_else(|_| "[]".into())
    }

    /// The stored form back.
    pub fn from_stored(family: &str, labels_json: &str) -> Result<Series, MetricsError> {
        let stored = || MetricsError::Stored(format!("{family} {labels_json}"));
        let family = Family::from_name(family).ok_or_else(stored)?;
        let values: Vec<String> = serde_json::from_str(labels_json).map_err(|_| stored())?;
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        Series::new(family, &refs).map_err(|_| stored())
    }

    /// One string naming the series: `<family>|<labels json>`.
    pub fn key(&self) -> String {
        format!("{}|{}", self.family.name(), self.labels_json())
    }

    pub fn labels(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.family
            .labels()
            .iter()
            .copied()
            .zip(self.values.iter().map(String::as_str))
    }
}

/// A cell of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// A counter's or a gauge's value.
    Value,
    /// A histogram's sum of observations.
    Sum,
    /// A histogram bucket (not cumulative); index `buckets().len()` is the overflow.
    Bucket(usize),
}

impl Field {
    pub fn name(self) -> String {
        match self {
            Field::Value => "v".into(),
            Field::Sum => "sum".into(),
            Field::Bucket(i) => format!("b{i}"),
        }
    }

    pub fn parse(name: &str) -> Option<Field> {
        match name {
            "v" => Some(Field::Value),
            "sum" => Some(Field::Sum),
            _ => name.strip_prefix('b')?.parse().ok().map(Field::Bucket),
        }
    }
}

/// A stored number: integer counts stay exact integers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }

    pub fn plus(self, other: Number) -> Number {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Number::Int(a.saturating_add(b)),
            (a, b) => Number::Float(a.as_f64() + b.as_f64()),
        }
    }

    /// Parses a decimal as DynamoDB returns it.
    pub fn parse(text: &str) -> Option<Number> {
        text.parse::<i64>()
            .map(Number::Int)
            .ok()
            .or_else(|| text.parse::<f64>().ok().map(Number::Float))
    }
}

/// What an update does to its cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Add(Number),
    /// Gauges: the last write wins.
    Set(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CellUpdate {
    pub series: Series,
    pub field: Field,
    pub op: Op,
}

/// One thing that happened, as the application reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// A counter goes up by `by`.
    Inc { series: Series, by: u64 },
    /// A histogram observes `value` (seconds).
    Observe { series: Series, value: f64 },
    /// A gauge is now `value`.
    Set { series: Series, value: f64 },
}

impl Observation {
    pub fn inc(family: Family, labels: &[&str]) -> Result<Observation, MetricsError> {
        Ok(Observation::Inc {
            series: Series::new(family, labels)?,
            by: 1,
        })
    }

    pub fn observe(
        family: Family,
        labels: &[&str],
        value: f64,
    ) -> Result<Observation, MetricsError> {
        Ok(Observation::Observe {
            series: Series::new(family, labels)?,
            value,
        })
    }

    pub fn set(family: Family, labels: &[&str], value: f64) -> Result<Observation, MetricsError> {
        Ok(Observation::Set {
            series: Series::new(family, labels)?,
            value,
        })
    }

    pub fn series(&self) -> &Series {
        match self {
            Observation::Inc { series, .. }
            | Observation::Observe { series, .. }
            | Observation::Set { series, .. } => series,
        }
    }

    /// The additive cell updates this observation makes.
    pub fn updates(&self) -> Vec<CellUpdate> {
        let cell = |series: &Series, field, op| CellUpdate {
            series: series.clone(),
            field,
            op,
        };
        match self {
            Observation::Inc { series, by } => vec![cell(
                series,
                Field::Value,
                Op::Add(Number::Int(i64::try_from(*by).unwrap_or(i64::MAX))),
            )],
            Observation::Set { series, value } => vec![cell(series, Field::Value, Op::Set(*value))],
            Observation::Observe { series, value } => {
                let value = if value.is_finite() {
                    value.max(0.0)
                } else {
                    0.0
                };
                vec![
                    cell(
                        series,
                        Field::Bucket(bucket_index(series.family.buckets(), value)),
                        Op::Add(Number::Int(1)),
                    ),
                    cell(series, Field::Sum, Op::Add(Number::Float(value))),
                ]
            }
        }
    }
}

/// The first bucket whose bound holds `value`; `bounds.len()` above the last.
pub fn bucket_index(bounds: &[f64], value: f64) -> usize {
    bounds
        .iter()
        .position(|le| value <= *le)
        .unwrap_or(bounds.len())
}

/// One stored cell, as a store reads it back (shards already summed or not: the
/// snapshot sums whatever it is given).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCell {
    pub series: Series,
    pub field: Field,
    pub value: Number,
}

/// Every series' cells, summed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    cells: BTreeMap<Series, BTreeMap<Field, Number>>,
}

impl Snapshot {
    pub fn from_cells(cells: impl IntoIterator<Item = StoredCell>) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for cell in cells {
            let slot = snapshot
                .cells
                .entry(cell.series)
                .or_default()
                .entry(cell.field)
                .or_insert(Number::Int(0));
            *slot = slot.plus(cell.value);
        }
        snapshot
    }

    /// The snapshot of these observations alone (as if recorded into an empty
    /// store).
    pub fn of_observations(observations: &[Observation]) -> Snapshot {
        Snapshot::from_cells(observations.iter().flat_map(Observation::updates).map(|u| {
            StoredCell {
                series: u.series,
                field: u.field,
                value: match u.op {
                    Op::Add(n) => n,
                    Op::Set(f) => Number::Float(f),
                },
            }
        }))
    }

    /// A counter's or a gauge's value.
    pub fn value(&self, series: &Series) -> Option<Number> {
        self.cells.get(series)?.get(&Field::Value).copied()
    }

    /// A histogram's observation count.
    pub fn count(&self, series: &Series) -> u64 {
        self.cells.get(series).map_or(0, |cells| {
            cells
                .iter()
                .filter(|(f, _)| matches!(f, Field::Bucket(_)))
                .map(|(_, n)| n.as_f64().max(0.0) as u64)
                .sum()
        })
    }

    /// Sum of every series of `family` whose labels match `filter` (name, value).
    pub fn total(&self, family: Family, filter: &[(&str, &str)]) -> f64 {
        self.total_where(family, |s| {
            filter
                .iter()
                .all(|(name, value)| s.labels().any(|(n, v)| n == *name && v == *value))
        })
    }

    /// Sum of every series of `family` that `keep` keeps.
    pub fn total_where(&self, family: Family, keep: impl Fn(&Series) -> bool) -> f64 {
        self.cells
            .iter()
            .filter(|(s, _)| s.family == family && keep(s))
            .map(|(s, cells)| match family.kind() {
                Kind::Histogram => self.count(s) as f64,
                _ => cells.get(&Field::Value).map_or(0.0, |n| n.as_f64()),
            })
            .sum()
    }

    /// A histogram family's bucket counts (not cumulative, the overflow last),
    /// summed over every series whose labels match `filter`.
    pub fn bucket_counts(&self, family: Family, filter: &[(&str, &str)]) -> Vec<u64> {
        let mut counts = vec![0u64; family.buckets().len() + 1];
        for (series, cells) in self.cells.iter().filter(|(s, _)| s.family == family) {
            if !filter
                .iter()
                .all(|(name, value)| series.labels().any(|(n, v)| n == *name && v == *value))
            {
                continue;
            }
            for (i, slot) in counts.iter_mut().enumerate() {
                *slot = slot.saturating_add(bucket(cells, i).max(0) as u64);
            }
        }
        counts
    }

    /// A histogram family's sum of observations over the matching series.
    pub fn sum(&self, family: Family, filter: &[(&str, &str)]) -> f64 {
        self.cells
            .iter()
            .filter(|(s, _)| s.family == family)
            .filter(|(s, _)| {
                filter
                    .iter()
                    .all(|(name, value)| s.labels().any(|(n, v)| n == *name && v == *value))
            })
            .filter_map(|(_, cells)| cells.get(&Field::Sum).map(|n| n.as_f64()))
            .sum()
    }

    pub fn series(&self) -> impl Iterator<Item = &Series> {
        self.cells.keys()
    }
}

/// A histogram's count in bucket `i` (not cumulative).
fn bucket(cells: &BTreeMap<Field, Number>, i: usize) -> i64 {
    match cells.get(&Field::Bucket(i)) {
        Some(Number::Int(n)) => *n,
        Some(Number::Float(f)) => *f as i64,
        None => 0,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_dead_letter_is_an_emf_metric_without_dimensions() {
        let observation = Observation::inc(Family::DeliveriesDeadLetteredTotal, &[]).unwrap();
        let line: serde_json::Value =
            serde_json::from_str(&emf_line(EMF_NAMESPACE, &observation, 1_000)).unwrap();
        let metric = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metric["Namespace"], "OSA");
        assert_eq!(metric["Dimensions"], serde_json::json!([[]]));
        assert_eq!(
            metric["Metrics"][0]["Name"],
            "osal_deliveries_dead_lettered_total"
        );
        assert_eq!(line["osal_deliveries_dead_lettered_total"], 1);
    }
    use super::*;

    fn recommendation(
        rank: u32,
        phase: Option<u8>,
        confidence: f64,
    ) -> crate::synthesis::Recommendation {
        use crate::agent_output::Level;
        crate::synthesis::Recommendation {
            rank,
            label: format!("r{rank}"),
            key: format!("r{rank}"),
            impact: Level::High,
            effort: Level::Low,
            confidence,
            score: 50.0,
            score_breakdown: crate::synthesis::score_breakdown(crate::synthesis::ScoreAxes {
                impact: 1.0,
                ease: 1.0,
                confidence,
                reliability: 0.0,
                support: 0.0,
                focus: 0.0,
            }),
            supporting_agents: vec![],
            also_reported_as: vec![],
            assessments: vec![],
            disagreement: false,
            settlement: None,
            evidence: vec![],
            depends_on: vec![],
            prerequisite_for: vec![],
            phase,
        }
    }

    #[test]
    fn strategy_recommendations_are_counted_by_phase_confidence_and_segment() {
        let recs = [
            recommendation(1, Some(1), 0.9),
            recommendation(2, Some(1), 0.85),
            recommendation(3, Some(1), 0.6),
            recommendation(4, Some(3), 0.2),
            recommendation(5, None, 0.9),
        ];
        let observations = strategy_recommendations(&recs, "media").expect("bounded labels");
        let got: Vec<(Vec<String>, u64)> = observations
            .iter()
            .map(|o| match o {
                Observation::Inc { series, by } => (series.values().to_vec(), *by),
                other => panic!("not a counter: {other:?}"),
            })
            .collect();
        let want =
            |t: &str, c: &str, n: u64| (vec![t.to_owned(), c.to_owned(), "media".to_owned()], n);
        assert_eq!(got.len(), 4, "{got:?}");
        for w in [
            want("quick_wins", "high", 2),
            want("quick_wins", "medium", 1),
            want("strategic_bets", "low", 1),
            want("backlog", "high", 1),
        ] {
            assert!(got.contains(&w), "{w:?} in {got:?}");
        }
        assert!(
            strategy_recommendations(&[], "media")
                .expect("none")
                .is_empty()
        );
        assert!(
            strategy_recommendations(&recs, "").is_err(),
            "labels are checked"
        );
        assert_eq!(recommendation_type(Some(2)), "build_momentum");
    }

    fn series(family: Family, values: &[&str]) -> Series {
        Series::new(family, values).expect("valid series")
    }

    #[test]
    fn every_family_has_the_spec_shape() {
        for family in Family::ALL {
            assert!(family.name().starts_with("osal_"));
            assert_eq!(Family::from_name(family.name()), Some(family));
            assert_eq!(
                family.kind() == Kind::Histogram,
                !family.buckets().is_empty(),
                "{}",
                family.name()
            );
            assert!(family.buckets().windows(2).all(|w| w[0] < w[1]));
        }
        assert_eq!(
            Family::AgentExecutionDurationSeconds.buckets(),
            &[0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0]
        );
        // The source system's 0.1–30 s put every real workflow in +Inf.
        assert_eq!(
            Family::WorkflowProcessingDurationSeconds.buckets(),
            &[
                10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0
            ]
        );
    }

    #[test]
    fn series_refuse_unbounded_labels() {
        assert!(matches!(
            Series::new(Family::AgentExecutionTotal, &["a", "b"]),
            Err(MetricsError::LabelCount { expected: 3, .. })
        ));
        let long = "x".repeat(MAX_LABEL_LEN + 1);
        assert!(Series::new(Family::AgentOverAllowanceTotal, &[&long]).is_err());
        assert!(Series::new(Family::AgentOverAllowanceTotal, &[""]).is_err());
        let s = series(Family::AgentOverAllowanceTotal, &["q\"uote"]);
        assert_eq!(
            Series::from_stored(s.family().name(), &s.labels_json()).ok(),
            Some(s)
        );
        assert!(Series::from_stored("osal_nope", "[]").is_err());
        assert!(Series::from_stored("osal_agent_over_allowance_total", "[1]").is_err());
    }

    #[test]
    fn a_real_workflows_duration_lands_in_a_finite_bucket() {
        let bounds = Family::WorkflowProcessingDurationSeconds.buckets();
        for minutes in [1.0, 4.5, 12.0, 29.0] {
            let i = bucket_index(bounds, minutes * 60.0);
            assert!(i < bounds.len(), "{minutes} min in +Inf");
        }
        // Minutes apart stay apart: a p95 can tell 2 minutes from 12.
        assert_ne!(bucket_index(bounds, 120.0), bucket_index(bounds, 720.0));
    }

    #[test]
    fn buckets_take_the_first_bound_that_holds_the_value() {
        let b = Family::AgentExecutionDurationSeconds.buckets();
        assert_eq!(bucket_index(b, 0.0), 0);
        assert_eq!(bucket_index(b, 0.1), 0);
        assert_eq!(bucket_index(b, 0.100001), 1);
        assert_eq!(bucket_index(b, 300.0), 9);
        assert_eq!(bucket_index(b, 300.5), 10);
        for f in [
            Field::Value,
            Field::Sum,
            Field::Bucket(0),
            Field::Bucket(10),
        ] {
            assert_eq!(Field::parse(&f.name()), Some(f));
        }
        assert_eq!(Field::parse("bx"), None);
    }

    #[test]
    fn the_exposition_is_cumulative_and_escaped() {
        let h = Family::WorkflowProcessingDurationSeconds;
        let obs = vec![
            Observation::observe(h, &["workflow", "completed"], 5.0).expect("obs"),
            Observation::observe(h, &["workflow", "completed"], 45.0).expect("obs"),
            Observation::observe(h, &["workflow", "completed"], 4000.5).expect("obs"),
            Observation::inc(
                Family::AgentExecutionTotal,
                &["content_review", "completed", "strategy"],
            )
            .expect("obs"),
            Observation::inc(
                Family::AgentExecutionTotal,
                &["content_review", "completed", "strategy"],
            )
            .expect("obs"),
            Observation::set(Family::SystemHealthScore, &["a\\b\"c\nd", "local"], 0.5)
                .expect("obs"),
        ];
        let snapshot = Snapshot::of_observations(&obs);
        let text = snapshot.render();
        assert!(text.contains("# TYPE osal_workflow_processing_duration_seconds histogram\n"));
        assert!(text.contains(
            "osal_workflow_processing_duration_seconds_bucket{operation_type=\"workflow\",status=\"completed\",le=\"10\"} 1\n"
        ));
        assert!(text.contains(
            "osal_workflow_processing_duration_seconds_bucket{operation_type=\"workflow\",status=\"completed\",le=\"60\"} 2\n"
        ));
        assert!(text.contains(
            "osal_workflow_processing_duration_seconds_bucket{operation_type=\"workflow\",status=\"completed\",le=\"3600\"} 2\n"
        ));
        assert!(text.contains(
            "osal_workflow_processing_duration_seconds_bucket{operation_type=\"workflow\",status=\"completed\",le=\"+Inf\"} 3\n"
        ));
        assert!(text.contains(
            "osal_workflow_processing_duration_seconds_sum{operation_type=\"workflow\",status=\"completed\"} 4050.5\n"
        ));
        assert!(text.contains(
            "osal_workflow_processing_duration_seconds_count{operation_type=\"workflow\",status=\"completed\"} 3\n"
        ));
        assert!(text.contains(
            "osal_agent_execution_total{agent_id=\"content_review\",status=\"completed\",workflow_type=\"strategy\"} 2\n"
        ));
        assert!(text.contains(
            "osal_system_health_score{component=\"a\\\\b\\\"c\\nd\",environment=\"local\"} 0.5\n"
        ));
        // Every family is announced once, and each series appears once, under
        // its own family.
        assert_eq!(text.matches("# HELP ").count(), Family::ALL.len());
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples.len(),
            11 + 2 + 1 + 1,
            "10 buckets and +Inf, sum, count; a counter; a gauge"
        );
        assert_eq!(text.matches("osal_system_health_score{").count(), 1);
        assert_eq!(text.matches("osal_agent_execution_total{").count(), 1);
        assert_eq!(
            snapshot.total(Family::AgentExecutionTotal, &[("status", "completed")]),
            2.0
        );
        assert_eq!(snapshot.total(h, &[]), 3.0);
    }

    #[test]
    fn shards_sum_exactly() {
        let s = series(Family::ApiRequestsTotal, &["GET", "/x", "200", "cli"]);
        let cells = (0..1000).map(|i| StoredCell {
            series: s.clone(),
            field: Field::Value,
            value: Number::Int(i % 3),
        });
        let snapshot = Snapshot::from_cells(cells);
        assert_eq!(snapshot.value(&s), Some(Number::Int(999)));
    }

    #[test]
    fn emf_lines_name_the_metric_and_its_dimensions() {
        let obs = Observation::observe(
            Family::AgentExecutionDurationSeconds,
            &["audience_suggester", "strategy"],
            4.2,
        )
        .expect("obs");
        let line: serde_json::Value =
            serde_json::from_str(&emf_line(EMF_NAMESPACE, &obs, 1_700_000_000_000)).expect("json");
        let meta = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(meta["Namespace"], "OSA");
        assert_eq!(
            meta["Dimensions"][0],
            serde_json::json!(["agent_id", "workflow_type"])
        );
        assert_eq!(
            meta["Metrics"][0]["Name"],
            "osal_agent_execution_duration_seconds"
        );
        assert_eq!(meta["Metrics"][0]["Unit"], "Seconds");
        assert_eq!(line["agent_id"], "audience_suggester");
        assert_eq!(line["osal_agent_execution_duration_seconds"], 4.2);
        let inc = Observation::inc(
            Family::PiiProtectionOperationsTotal,
            &["email", "mask", "high"],
        )
        .expect("obs");
        let line: serde_json::Value =
            serde_json::from_str(&emf_line("OSA", &inc, 0)).expect("json");
        assert_eq!(line["osal_pii_protection_operations_total"], 1);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Count"
        );
    }

    #[test]
    fn bounded_label_helpers() {
        assert_eq!(user_agent_family(None), "none");
        assert_eq!(user_agent_family(Some("curl/8.5.0")), "cli");
        assert_eq!(user_agent_family(Some("Mozilla/5.0 (X11)")), "browser");
        assert_eq!(user_agent_family(Some("Googlebot/2.1")), "bot");
        assert_eq!(user_agent_family(Some("Prometheus/2.45")), "monitoring");
        assert_eq!(user_agent_family(Some("whatever")), "other");
        assert_eq!(processing_time_range(99), "lt_100ms");
        assert_eq!(processing_time_range(100), "100ms_500ms");
        assert_eq!(processing_time_range(60_000), "gte_5s");
        assert_eq!(confidence_level(Some(0.9)), "high");
        assert_eq!(confidence_level(Some(0.5)), "medium");
        assert_eq!(confidence_level(Some(0.1)), "low");
    }
}
