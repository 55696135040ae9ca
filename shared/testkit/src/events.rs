//! The Lambda event files in `events/` and `events/manifest.json`, which lists
//! them in the order to invoke them and what each must answer.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `events/` at the workspace root.
pub fn events_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    dir.canonicalize().unwrap_or(dir)
}

/// What an event must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// An HTTP function's status code.
    Status(u16),
    /// The worker's number of batch item failures.
    Failures(usize),
    /// A scheduled function's answer: `{"ok": true, ...}`.
    Ok,
}

/// One entry of the manifest: the function, its event file (relative to
/// `events/`) and what it must answer.
#[derive(Debug, Clone)]
pub struct Entry {
    pub function: String,
    pub event: String,
    pub expect: Expect,
}

/// The manifest's entries, in order; panics on an entry that is not
/// well-formed, or an empty manifest.
pub fn manifest() -> Vec<Entry> {
    let path = events_dir().join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let entries: Vec<Value> = serde_json::from_str(&text).expect("manifest.json is a JSON array");
    assert!(!entries.is_empty(), "manifest.json lists no events");
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let field = |name: &str| {
                e[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("manifest entry {i} has no string {name:?}: {e}"))
                    .to_owned()
            };
            let expect = match (e["status"].as_u64(), e["failures"].as_u64()) {
                (None, None) if e["ok"] == Value::Bool(true) => Expect::Ok,
                (Some(status), None) => {
                    Expect::Status(u16::try_from(status).expect("an HTTP status"))
                }
                (None, Some(failures)) => Expect::Failures(failures as usize),
                _ => panic!(
                    "manifest entry {i} needs exactly one of \"status\", \"failures\" or \"ok\": {e}"
                ),
            };
            Entry {
                function: field("function"),
                event: field("event"),
                expect,
            }
        })
        .collect()
}
