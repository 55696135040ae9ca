//! Bounded label values: raw input never becomes a label.

use super::*;

/// The webhook family's `processing_time_range`: a handful of ranges, not a number.
pub fn processing_time_range(ms: u128) -> &'static str {
    match ms {
        0..100 => "lt_100ms",
        100..500 => "100ms_500ms",
        500..1000 => "500ms_1s",
        1000..5000 => "1s_5s",
        _ => "gte_5s",
    }
}

/// A user agent reduced to a family, never the raw header.
pub fn user_agent_family(header: Option<&str>) -> &'static str {
    let Some(ua) = header.map(str::to_ascii_lowercase) else {
        return "none";
    };
    if ua.contains("bot") || ua.contains("spider") || ua.contains("crawl") {
        "bot"
    } else if ua.starts_with("curl/") || ua.starts_with("wget/") || ua.starts_with("httpie/") {
        "cli"
    } else if ua.contains("mozilla/") {
        "browser"
    } else if ua.contains("prometheus") || ua.contains("grafana") {
        "monitoring"
    } else if ua.contains("aws-sdk") || ua.contains("python") || ua.contains("reqwest") {
        "sdk"
    } else {
        "other"
    }
}

/// A confidence in 0..=1 as `low`, `medium` or `high`.
pub fn confidence_level(confidence: Option<f64>) -> &'static str {
    match confidence {
        Some(c) if c >= 0.8 => "high",
        Some(c) if c >= 0.5 => "medium",
        Some(_) => "low",
        None => "unknown",
    }
}

/// `recommendation_type` of a ranked recommendation: its roadmap phase, which
/// its effort decides (`quick_wins` low, `build_momentum` medium,
/// `strategic_bets` high), or `backlog` when its phase was full.
pub const fn recommendation_type(phase: Option<u8>) -> &'static str {
    match phase {
        Some(1) => "quick_wins",
        Some(2) => "build_momentum",
        Some(3) => "strategic_bets",
        _ => "backlog",
    }
}

/// `osal_strategy_recommendations_total` for one finished workflow's strategy:
/// one count per recommendation, by type, confidence level and the intake's
/// industry (`user_segment`), grouped into one increment per series.
pub fn strategy_recommendations(
    recommendations: &[crate::synthesis::Recommendation],
    user_segment: &str,
) -> Result<Vec<Observation>, MetricsError> {
    let mut counts: BTreeMap<Series, u64> = BTreeMap::new();
    for r in recommendations {
        let series = Series::new(
            Family::StrategyRecommendationsTotal,
            &[
                recommendation_type(r.phase),
                confidence_level(Some(r.confidence)),
                user_segment,
            ],
        )?;
        *counts.entry(series).or_default() += 1;
    }
    Ok(counts
        .into_iter()
        .map(|(series, by)| Observation::Inc { series, by })
        .collect())
}
