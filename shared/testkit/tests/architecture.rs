//! The layout as checked rules, not hopes (docs/architecture.md). Cargo already
//! refuses a cycle between crates; this checks what it cannot:
//!
//! - the crate graph is the layer table: every `osa-*` crate depends only on
//!   the crates below it (`crate_edges_are_the_layer_table`);
//! - the domain crate depends on no I/O crate, and no Lambda function links
//!   SQLite (`what_a_crate_links`);
//! - inside each crate, no import cycle between files, and in `osa-app` the
//!   ports, the settings and the codec never use a use case.
//!
//! Sources are read as text: every `crate::…` path and every `use super::…`
//! names a module, which is resolved to the file that holds it. Unit tests at the
//! end of a file (`#[cfg(test)] mod tests`) are left out: they may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The layer crates, lowest first, and the `osa-*` crates each may depend on.
const LAYERS: &[(&str, &[&str])] = &[
    ("osa-domain", &[]),
    ("osa-app", &["osa-domain"]),
    ("osa-http", &["osa-domain", "osa-app"]),
    ("osa-net", &["osa-domain", "osa-app"]),
    ("osa-sqlite", &["osa-domain", "osa-app"]),
    ("osa-aws", &["osa-domain", "osa-app", "osa-net"]),
];

/// Crates whose presence means I/O: none may reach the domain.
const IO_CRATES: &[&str] = &[
    "tokio",
    "axum",
    "hyper",
    "reqwest",
    "rusqlite",
    "libsqlite3-sys",
    "aws-config",
    "aws-sdk-dynamodb",
    "aws-sdk-sqs",
    "aws-sdk-eventbridge",
    "aws-sdk-secretsmanager",
    "lambda_http",
    "lambda_runtime",
    "tracing",
];

/// The Lambda functions: what `template.yaml` deploys.
const FUNCTIONS: &[&str] = &[
    "intake",
    "opal-webhook",
    "status-api",
    "stream",
    "worker",
    "health-check",
    "alert-evaluator",
    "outbox-relay",
    "pre-traffic",
];

/// Folders whose sources are checked for import cycles.
const SOURCE_DIRS: &[&str] = &[
    "shared/domain/src",
    "shared/app/src",
    "shared/http/src",
    "shared/net/src",
    "shared/sqlite/src",
    "shared/aws/src",
    "shared/testkit/src",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// This machine's target triple, the platform a build here links for.
fn host() -> String {
    let out = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc -vV names the host")
}

/// `cargo metadata`: the packages and the graph resolved for this platform.
fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .args(["--filter-platform", &host()])
        .current_dir(workspace())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata answers JSON")
}

/// package name → the names of the packages it links (normal dependencies,
/// not dev or build ones).
fn normal_edges(meta: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let name_of: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let mut edges = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().into_iter().flatten() {
        let Some(from) = node["id"].as_str().and_then(|id| name_of.get(id)) else {
            continue;
        };
        let deps = node["deps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k["kind"].is_null())
            })
            .filter_map(|d| d["pkg"].as_str().and_then(|id| name_of.get(id)))
            .map(|n| (*n).to_owned());
        edges
            .entry((*from).to_owned())
            .or_insert_with(BTreeSet::new)
            .extend(deps);
    }
    edges
}

/// Everything `package` links, directly or not.
fn closure(edges: &BTreeMap<String, BTreeSet<String>>, package: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![package.to_owned()];
    while let Some(next) = todo.pop() {
        for dep in edges.get(&next).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                todo.push(dep.clone());
            }
        }
    }
    seen
}

#[test]
fn crate_edges_are_the_layer_table() {
    let edges = normal_edges(&metadata());
    let mut wrong = Vec::new();
    for (layer, may) in LAYERS {
        let Some(deps) = edges.get(*layer) else {
            wrong.push(format!("{layer}: not in the workspace"));
            continue;
        };
        for dep in deps.iter().filter(|d| d.starts_with("osa-")) {
            if !may.contains(&dep.as_str()) {
                wrong.push(format!("{layer} depends on {dep}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "edges off the layer table:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn what_a_crate_links() {
    let edges = normal_edges(&metadata());
    let domain = closure(&edges, "osa-domain");
    let io: Vec<_> = IO_CRATES.iter().filter(|c| domain.contains(**c)).collect();
    assert!(io.is_empty(), "the domain links I/O crates: {io:?}");
    for function in FUNCTIONS {
        let links = closure(&edges, function);
        assert!(
            links.contains("osa-aws"),
            "{function} is not in the workspace"
        );
        for embedded in ["rusqlite", "libsqlite3-sys", "osa-sqlite", "osa-testkit"] {
            assert!(
                !links.contains(embedded),
                "the {function} Lambda links {embedded}"
            );
        }
    }
}

/// Every `.rs` file under `dir` with its module path (`app::delivery` for
/// `app/delivery/mod.rs` or `app/delivery.rs`; `` for `lib.rs`).
fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if path.is_dir() {
            let mut next = prefix.to_vec();
            next.push(name);
            modules(&path, &next, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut module = prefix.to_vec();
            if name != "mod" && name != "lib" {
                module.push(name);
            }
            out.insert(module.join("::"), path);
        }
    }
}

/// The source without its trailing unit tests, comments and string literals.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") { "" } else { line }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Module paths a file names: `crate::a::b::C` and `super::x` (from `module`).
fn references(code: &str, module: &str) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    let own: Vec<String> = module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    // `super` is the parent module, whether the file is `x.rs` or `x/mod.rs`.
    let parent = own[..own.len().saturating_sub(1)].to_vec();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &code[i..];
        let (root, skip) = if rest.starts_with("crate::") && !preceded_by_ident(bytes, i) {
            (Some(Vec::new()), "crate::".len())
        } else if rest.starts_with("super::") && !preceded_by_ident(bytes, i) {
            (Some(parent.clone()), "super::".len())
        } else {
            (None, rest.chars().next().map_or(1, char::len_utf8))
        };
        i += skip;
        if let Some(mut path) = root {
            // Further `super::` hops.
            while code[i..].starts_with("super::") {
                path.pop();
                i += "super::".len();
            }
            for tail in expand(&code[i..]) {
                let mut full = path.clone();
                full.extend(tail);
                found.insert(full);
            }
        }
    }
    found
}

fn preceded_by_ident(bytes: &[u8], i: usize) -> bool {
    i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':')
}

/// The paths one `a::b::{c, d::e}` names, cut at the first non-path character.
fn expand(text: &str) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut current = String::new();
    while let Some(&(at, c)) = chars.peek() {
        if c.is_ascii_alphanumeric() || c == '_' {
            current.push(c);
            chars.next();
        } else if text[at..].starts_with("::") {
            segments.push(std::mem::take(&mut current));
            chars.next();
            chars.next();
        } else if c == '{' {
            // A group: each comma-separated item at depth 1 continues the path.
            let close = matching(&text[at..]).map(|end| at + end);
            let inner = close.map(|end| &text[at + 1..end]).unwrap_or("");
            let mut out = Vec::new();
            for item in split_top(inner) {
                for tail in expand(item.trim()) {
                    let mut full = segments.clone();
                    full.extend(tail);
                    out.push(full);
                }
            }
            return out;
        } else {
            break;
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    vec![segments]
}

fn matching(text: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn split_top(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The longest known module a path starts with.
fn resolve(path: &[String], known: &BTreeMap<String, PathBuf>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| known.contains_key(m))
}

fn layer_of(module: &str) -> &str {
    module.split("::").next().unwrap_or_default()
}

/// file → the files it uses, in the crate whose sources are in `dir`.
fn graph(dir: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut known = BTreeMap::new();
    modules(&workspace().join(dir), &[], &mut known);
    let mut edges = BTreeMap::new();
    for (module, path) in &known {
        let code = code_of(path);
        let mut uses = BTreeSet::new();
        for reference in references(&code, module) {
            if let Some(target) = resolve(&reference, &known)
                && &target != module
                && !target.is_empty()
                // A module using its own submodules is not a dependency between layers.
                && !target.starts_with(&format!("{module}::"))
            {
                uses.insert(target);
            }
        }
        edges.insert(module.clone(), uses);
    }
    edges
}

/// Strongly connected components with more than one file (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

#[test]
fn no_file_takes_part_in_an_import_cycle() {
    let mut found = Vec::new();
    for dir in SOURCE_DIRS {
        let edges = graph(dir);
        assert!(edges.len() > 2, "the sources of {dir} were not found");
        found.extend(
            cycles(&edges)
                .into_iter()
                .map(|c| format!("  {dir}: {}", c.join(" <-> "))),
        );
    }
    assert!(
        found.is_empty(),
        "import cycles between files:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_ports_the_settings_and_the_codec_use_no_use_case() {
    let below = |m: &str| ["ports", "config", "codec"].contains(&layer_of(m));
    let mut wrong = Vec::new();
    for (module, uses) in graph("shared/app/src") {
        if below(&module) {
            wrong.extend(
                uses.iter()
                    .filter(|t| !below(t))
                    .map(|t| format!("{module} uses {t}")),
            );
        }
    }
    assert!(
        wrong.is_empty(),
        "osa-app's lower modules use a use case:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn the_checker_sees_paths_in_groups_and_relative_paths() {
    let code = "use crate::domain::{audit::Attempt, record};\nuse super::Services;\nlet x = crate::ports::Clock::now;";
    let found = references(code, "app::webhook");
    let as_strings: BTreeSet<String> = found.iter().map(|p| p.join("::")).collect();
    assert!(
        as_strings.contains("domain::audit::Attempt"),
        "{as_strings:?}"
    );
    assert!(as_strings.contains("domain::record"), "{as_strings:?}");
    assert!(as_strings.contains("app::Services"), "{as_strings:?}");
    assert!(as_strings.contains("ports::Clock::now"), "{as_strings:?}");
}
