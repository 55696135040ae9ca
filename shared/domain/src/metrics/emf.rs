//! CloudWatch Embedded Metric Format: one JSON log line per observation.

use super::*;

/// One EMF log line for an observation: CloudWatch turns it into a metric named
/// after the family, with the labels as dimensions. Counters report their
/// increment (Count), histograms the observed value (Seconds), gauges the value.
pub fn emf_line(namespace: &str, observation: &Observation, at_ms: i64) -> String {
    let series = observation.series();
    let family = series.family();
    let value = match observation {
        Observation::Inc { by, .. } => serde_json::json!(by),
        Observation::Observe { value, .. } | Observation::Set { value, .. } => {
            if value.is_finite() {
                serde_json::json!(value)
            } else {
                serde_json::json!(0)
            }
        }
    };
    let dimensions: Vec<&str> = family.labels().to_vec();
    let mut line = serde_json::Map::new();
    line.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": at_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dimensions],
                "Metrics": [{"Name": family.name(), "Unit": family.unit()}],
            }],
        }),
    );
    for (name, v) in series.labels() {
        line.insert(name.into(), serde_json::Value::String(v.to_owned()));
    }
    line.insert(family.name().into(), value);
    serde_json::Value::Object(line).to_string()
}
