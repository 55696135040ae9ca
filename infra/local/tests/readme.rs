//! The tables of metric families and alert rules in docs/operations.md list
//! exactly what the code exports and evaluates, and the README's deploy table
//! every parameter of template.yaml with its default.

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

/// `(name, default)` of every parameter of `template.yaml` (`None`: required).
fn template_parameters() -> Vec<(String, Option<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    let template = std::fs::read_to_string(path).expect("template.yaml");
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for line in template
        .lines()
        .skip_while(|l| *l != "Parameters:")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
    {
        let depth = line.len() - line.trim_start().len();
        if depth == 2 && !line.trim_start().starts_with('#') {
            out.push((line.trim().trim_end_matches(':').to_owned(), None));
        } else if depth == 4
            && let Some(default) = line.trim().strip_prefix("Default:")
            && let Some(last) = out.last_mut()
        {
            last.1 = Some(default.trim().trim_matches('"').to_owned());
        }
    }
    out
}

#[test]
fn the_readme_deploy_table_gives_every_parameter_with_its_default() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let rows: Vec<Vec<String>> = readme
        .lines()
        .skip_while(|l| l.trim() != "| parameter | default | meaning |")
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().trim_matches('`').to_owned())
                .collect()
        })
        .collect();
    let parameters = template_parameters();
    assert!(
        parameters.len() > 20,
        "parsed the parameters: {parameters:?}"
    );
    let listed: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let declared: Vec<&str> = parameters.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        listed, declared,
        "the README lists the parameters in the template's order"
    );
    for (row, (name, default)) in rows.iter().zip(&parameters) {
        let want = match default.as_deref() {
            None => "(required)",
            Some("") => "empty",
            Some(value) => value,
        };
        assert_eq!(row[1], want, "README default of {name}");
        assert!(row.len() == 3 && !row[2].is_empty(), "{name} has a meaning");
    }
}
