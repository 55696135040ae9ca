//! Observations as one set of cell changes per series: what a store writes
//! when it applies many observations at once (DynamoDB refuses two operations
//! on one item in a transaction, and each series is one item).

use super::{Field, Observation, Op, Series};

/// One series' cells and what happens to each.
pub type SeriesUpdate = (Series, Vec<(Field, Op)>);

/// Every observation's cell updates, merged per series in first-seen order:
/// additions to one cell are summed, a gauge's last value wins.
pub fn merged(observations: &[Observation]) -> Vec<SeriesUpdate> {
    let mut by_series: Vec<SeriesUpdate> = Vec::new();
    for observation in observations {
        for u in observation.updates() {
            match by_series.iter_mut().find(|(s, _)| *s == u.series) {
                Some((_, cells)) => match cells.iter_mut().find(|(f, _)| *f == u.field) {
                    Some((_, Op::Add(n))) => {
                        if let Op::Add(m) = u.op {
                            *n = n.plus(m);
                        }
                    }
                    Some((_, op)) => *op = u.op,
                    None => cells.push((u.field, u.op)),
                },
                None => by_series.push((u.series, vec![(u.field, u.op)])),
            }
        }
    }
    by_series
}

#[cfg(test)]
mod tests {
    use super::super::{Family, Number};
    use super::*;

    #[test]
    fn one_entry_per_series_with_cells_summed() {
        let inc = |labels: &[&str]| {
            Observation::inc(Family::AgentOverAllowanceTotal, labels).expect("valid")
        };
        let seen = merged(&[inc(&["a"]), inc(&["b"]), inc(&["a"])]);
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0, *inc(&["a"]).series());
        assert_eq!(seen[0].1, vec![(Field::Value, Op::Add(Number::Int(2)))]);
        assert_eq!(seen[1].1, vec![(Field::Value, Op::Add(Number::Int(1)))]);
    }
}
