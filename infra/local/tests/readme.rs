//! The tables of metric families and alert rules in docs/operations.md list
//! exactly what the code exports and evaluates.

use std::collections::BTreeSet;
use std::path::Path;

use osa_domain::alerts::ALERT_RULES;
use osa_domain::metrics::Family;

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations.md");
    std::fs::read_to_string(path).expect("docs/operations.md")
}

/// The code spans that open the rows of the table under `header`.
fn first_cells(text: &str, header: &str) -> BTreeSet<String> {
    text.lines()
        .skip_while(|l| l.trim() != header)
        .skip(2) // the header and its rule
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.strip_prefix("| `")?.split_once('`'))
        .map(|(cell, _)| cell.to_owned())
        .collect()
}

#[test]
fn the_metric_table_lists_every_family_and_no_other() {
    let listed = first_cells(&readme(), "| family | what it counts |");
    let exported: BTreeSet<String> = Family::ALL.iter().map(|f| f.name().to_owned()).collect();
    assert_eq!(listed, exported);
}

#[test]
fn the_alert_table_lists_every_rule_and_no_other() {
    let listed = first_cells(&readme(), "| rule | fires when |");
    let evaluated: BTreeSet<String> = ALERT_RULES.iter().map(|r| r.rule_id.to_owned()).collect();
    assert_eq!(listed, evaluated);
}
