//! Metric items in the workflow table: how a series' cell changes become one
//! `UpdateItem` (or one update of a transaction), for the metrics store and for
//! `record_event`, which counts an event in the event's own transaction.
//!
//! | item | `pk` | `sk` |
//! |---|---|---|
//! | counter/histogram shard | `METRICS#<shard>` | `<family>\|<labels json>` |
//! | gauge | `METRICS#G` | `<family>\|<labels json>` |
//!
//! A counter or histogram update goes to a random one of the shards, `ADD`ing
//! to its cells (`v`, or a histogram's `b<i>` and `sum`); a gauge is `SET` in
//! its one partition. A read queries every shard partition and sums.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Update};

use crate::attr::{Item, build_error, string};
use osa_app::ports::StoreError;
use osa_domain::metrics::{
    EMF_NAMESPACE, Field, Number, Observation, Op, Series, SeriesUpdate, emf_line,
};

/// Partitions each counter and histogram series is spread over.
pub const DEFAULT_SHARDS: u16 = 16;

pub(crate) const GAUGE_PK: &str = "METRICS#G";

pub(crate) fn shard_pk(shard: u16) -> String {
    format!("METRICS#{shard:02}")
}

/// One series' update: its key and expression.
pub(crate) struct UpdateRequest {
    pub key: Item,
    pub expression: String,
    pub names: HashMap<String, String>,
    pub values: Item,
}

impl UpdateRequest {
    /// The series' cells changing as `cells` say, on a random one of `shards`
    /// (a gauge in its own partition).
    pub fn of(series: &Series, cells: &[(Field, Op)], shards: u16) -> UpdateRequest {
        let gauge = cells.iter().any(|(_, op)| matches!(op, Op::Set(_)));
        let pk = if gauge {
            GAUGE_PK.to_owned()
        } else {
            shard_pk(rand::random_range(0..shards.max(1)))
        };
        let mut names = HashMap::from([
            ("#fam".to_owned(), "family".to_owned()),
            ("#lab".to_owned(), "labels".to_owned()),
        ]);
        let mut values = HashMap::from([
            (":fam".to_owned(), string(series.family().name())),
            (":lab".to_owned(), string(series.labels_json())),
        ]);
        let mut sets = vec!["#fam = :fam".to_owned(), "#lab = :lab".to_owned()];
        let mut adds = Vec::new();
        for (i, (field, op)) in cells.iter().enumerate() {
            names.insert(format!("#c{i}"), field.name());
            match op {
                Op::Add(n) => {
                    values.insert(format!(":c{i}"), metric_number(*n));
                    adds.push(format!("#c{i} :c{i}"));
                }
                Op::Set(f) => {
                    values.insert(format!(":c{i}"), metric_number(Number::Float(*f)));
                    sets.push(format!("#c{i} = :c{i}"));
                }
            }
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !adds.is_empty() {
            expression.push_str(&format!(" ADD {}", adds.join(", ")));
        }
        UpdateRequest {
            key: HashMap::from([
                ("pk".to_owned(), string(pk)),
                ("sk".to_owned(), string(series.key())),
            ]),
            expression,
            names,
            values,
        }
    }

    /// As one update of a transaction on `table`.
    pub fn transact(self, table: &str) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(table)
            .set_key(Some(self.key))
            .update_expression(self.expression)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
            .build()
            .map_err(build_error)
    }
}

/// The transaction updates that apply `updates` (one per series: a
/// transaction refuses two operations on one item).
pub(crate) fn transact_updates(
    updates: &[SeriesUpdate],
    table: &str,
    shards: u16,
) -> Result<Vec<Update>, StoreError> {
    updates
        .iter()
        .map(|(series, cells)| UpdateRequest::of(series, cells, shards).transact(table))
        .collect()
}

/// Prints each observation as a CloudWatch Embedded Metric Format line (what
/// the Lambdas do, so CloudWatch has the metrics too).
pub(crate) fn print_emf(observations: &[Observation], at_ms: i64) {
    for observation in observations {
        println!("{}", emf_line(EMF_NAMESPACE, observation, at_ms));
    }
}

/// A DynamoDB number: integers as they are, reals to microseconds (well inside
/// DynamoDB's 38 significant digits, and never in exponent form).
pub(crate) fn metric_number(n: Number) -> AttributeValue {
    match n {
        Number::Int(i) => AttributeValue::N(i.to_string()),
        Number::Float(f) if f.is_finite() => {
            let text = format!("{f:.6}");
            let text = text.trim_end_matches('0').trim_end_matches('.');
            AttributeValue::N(if text.is_empty() || text == "-" {
                "0".into()
            } else {
                text.to_owned()
            })
        }
        Number::Float(_) => AttributeValue::N("0".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_plain_decimals() {
        let n = |x| match metric_number(x) {
            AttributeValue::N(v) => v,
            _ => String::new(),
        };
        assert_eq!(n(Number::Int(42)), "42");
        assert_eq!(n(Number::Float(0.1)), "0.1");
        assert_eq!(n(Number::Float(3.0)), "3");
        assert_eq!(n(Number::Float(1e-300)), "0");
        assert_eq!(n(Number::Float(f64::NAN)), "0");
        assert_eq!(Number::parse("3"), Some(Number::Int(3)));
        assert_eq!(Number::parse("0.5"), Some(Number::Float(0.5)));
    }
}
