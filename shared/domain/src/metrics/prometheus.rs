//! The Prometheus text exposition, format 0.0.4.

use std::fmt::Write as _;

use super::*;

impl Snapshot {
    /// The text exposition format (0.0.4) of every family, those without series
    /// included (HELP and TYPE only).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for family in Family::ALL {
            let name = family.name();
            let _ = writeln!(out, "# HELP {name} {}", escape_help(family.help()));
            let _ = writeln!(out, "# TYPE {name} {}", family.kind().as_str());
            let series_of_family = self
                .cells
                .range(family_start(family))
                .take_while(|(s, _)| s.family == family);
            for (series, cells) in series_of_family {
                let labels = render_labels(series, None);
                match family.kind() {
                    Kind::Counter | Kind::Gauge => {
                        let v = cells.get(&Field::Value).copied().unwrap_or(Number::Int(0));
                        let _ = writeln!(out, "{name}{labels} {}", format_number(v));
                    }
                    Kind::Histogram => {
                        let bounds = family.buckets();
                        let mut cumulative: i64 = 0;
                        for (i, le) in bounds.iter().enumerate() {
                            cumulative = cumulative.saturating_add(bucket(cells, i));
                            let labels = render_labels(series, Some(&format_float(*le)));
                            let _ = writeln!(out, "{name}_bucket{labels} {cumulative}");
                        }
                        cumulative = cumulative.saturating_add(bucket(cells, bounds.len()));
                        let inf = render_labels(series, Some("+Inf"));
                        let _ = writeln!(out, "{name}_bucket{inf} {cumulative}");
                        let sum = cells.get(&Field::Sum).copied().unwrap_or(Number::Int(0));
                        let _ = writeln!(out, "{name}_sum{labels} {}", format_number(sum));
                        let _ = writeln!(out, "{name}_count{labels} {cumulative}");
                    }
                }
            }
        }
        out
    }
}

/// Where `family`'s series start in the map (series sort by family first).
fn family_start(family: Family) -> std::ops::RangeFrom<Series> {
    Series {
        family,
        values: Vec::new(),
    }..
}

fn render_labels(series: &Series, le: Option<&str>) -> String {
    let mut parts: Vec<String> = series
        .labels()
        .map(|(n, v)| format!("{n}=\"{}\"", escape_label(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// Label values: backslash, double quote and line feed are escaped.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text: backslash and line feed are escaped.
pub fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

fn format_number(n: Number) -> String {
    match n {
        Number::Int(i) => i.to_string(),
        Number::Float(f) => format_float(f),
    }
}
