//! The layout of `shared/src` as a checked rule, not a hope (docs/architecture.md):
//!
//! - no import cycle between any two files;
//! - every dependency points down the layers:
//!   `domain` → `ports` → `config` → `adapters` | `app` → `http` → `bootstrap`.
//!   A layer may use itself and the layers before it, never one after it, and
//!   `app` and `adapters` never use each other.
//!
//! It reads the sources as text: every `crate::…` path and every `use super::…`
//! names a module, which is resolved to the file that holds it. Unit tests at the
//! end of a file (`#[cfg(test)] mod tests`) are left out: they may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first, and what each may use besides itself.
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("ports", &["domain"]),
    ("config", &["domain", "ports"]),
    ("adapters", &["domain", "ports", "config"]),
    ("app", &["domain", "ports", "config"]),
    ("http", &["domain", "ports", "config", "app"]),
    (
        "bootstrap",
        &["domain", "ports", "config", "app", "adapters", "http"],
    ),
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
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

/// file → the files it uses.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut known = BTreeMap::new();
    modules(&src_dir(), &[], &mut known);
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
fn no_file_of_shared_src_takes_part_in_an_import_cycle() {
    let edges = graph();
    assert!(edges.len() > 40, "the sources were not found");
    let found = cycles(&edges);
    assert!(
        found.is_empty(),
        "import cycles between files of shared/src:\n{}",
        found
            .iter()
            .map(|c| format!("  {}", c.join(" <-> ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_dependency_points_down_the_layers() {
    let allowed: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut wrong = Vec::new();
    for (module, uses) in graph() {
        let from = layer_of(&module);
        let Some(may) = allowed.get(from) else {
            if !module.is_empty() {
                wrong.push(format!("{module}: not in any layer"));
            }
            continue;
        };
        for target in uses {
            let to = layer_of(&target);
            if to != from && !may.contains(&to) {
                wrong.push(format!("{module} uses {target}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies that point up or sideways:\n  {}",
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
