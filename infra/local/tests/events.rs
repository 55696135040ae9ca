//! Function tests driven by the Lambda event files in `events/` (the files
//! `sam local invoke -e` takes). Every entry of `events/manifest.json` is run, in
//! order, through `osa invoke` over one fresh data directory, and must answer with
//! the status code (or, for the worker, the number of batch item failures) it lists.
//! Every event file must be listed, so none goes stale unnoticed. The same files
//! rendered by `osa events render` (placeholders filled, as `sam local invoke -e`
//! needs them) answer the same.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use osa_testkit::events::{Entry, Expect, events_dir, manifest};
use serde_json::Value;

/// Event files under `events/`, relative and `/`-separated; the manifest itself,
/// the SAM-local environment and `samples/` (request bodies) excluded.
fn event_files(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry"))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        if entry.file_type().expect("a file type").is_dir() {
            if rel != "samples" {
                event_files(&entry.path(), &format!("{rel}/"), out);
            }
        } else if rel != "manifest.json" && rel != "env.local.json" {
            out.insert(rel);
        }
    }
}

#[test]
fn every_event_file_is_in_the_manifest_and_every_listed_file_exists() {
    let mut files = BTreeSet::new();
    event_files(&events_dir(), "", &mut files);
    let listed: BTreeSet<String> = manifest().into_iter().map(|e| e.event).collect();
    let unlisted: Vec<_> = files.difference(&listed).collect();
    let missing: Vec<_> = listed.difference(&files).collect();
    assert!(
        unlisted.is_empty(),
        "event files not in events/manifest.json: {unlisted:?}"
    );
    assert!(
        missing.is_empty(),
        "events/manifest.json lists files that do not exist: {missing:?}"
    );
    for file in &files {
        let text = std::fs::read_to_string(events_dir().join(file)).expect("readable event");
        serde_json::from_str::<Value>(&text)
            .unwrap_or_else(|e| panic!("events/{file} is not JSON: {e}"));
    }
}

/// Removes the data directory when the test ends, pass or fail.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `osa invoke` on the entry's event file as found under `events`.
fn invoke(entry: &Entry, events: &Path, data_dir: &Path) -> Result<Value, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_osa"))
        .args(["invoke", &entry.function, "--event"])
        .arg(events.join(&entry.event))
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .map_err(|e| format!("cannot run osa invoke: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "osa invoke failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "osa invoke printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Checks one Lambda response against the manifest; `Err` says how it differs.
fn check(entry: &Entry, response: &Value) -> Result<(), String> {
    match entry.expect {
        Expect::Ok if response["ok"] == Value::Bool(true) => Ok(()),
        Expect::Ok => Err(format!("no \"ok\": true in {response}")),
        Expect::Status(want) => {
            let got = response["statusCode"]
                .as_u64()
                .ok_or("no statusCode in the response")?;
            if got != u64::from(want) {
                return Err(format!(
                    "status {got}, want {want}; body {}",
                    response["body"]
                ));
            }
            // Every answer, success or error, is a JSON object saying which it is;
            // except an export asked for in another format (the Markdown report)
            // and the dashboard's page.
            let content_type = response["headers"]["content-type"].as_str().unwrap_or("");
            if want < 400 && content_type.starts_with("text/html") {
                return response["body"]
                    .as_str()
                    .filter(|b| b.starts_with("<!doctype html>"))
                    .map(|_| ())
                    .ok_or_else(|| format!("no HTML page: {}", response["body"]));
            }
            if want < 400 && content_type.starts_with("text/markdown") {
                return response["body"]
                    .as_str()
                    .filter(|b| b.starts_with('#'))
                    .map(|_| ())
                    .ok_or_else(|| format!("no Markdown document: {}", response["body"]));
            }
            let body: Value = serde_json::from_str(response["body"].as_str().unwrap_or(""))
                .map_err(|e| format!("body is not JSON ({e}): {}", response["body"]))?;
            if want < 400 && body.get("success") == Some(&Value::Bool(false)) {
                return Err(format!("a {want} answered success: false: {body}"));
            }
            if want >= 400 && body["error"]["code"].as_str().is_none() {
                return Err(format!("a {want} without an error code: {body}"));
            }
            Ok(())
        }
        Expect::Failures(want) => {
            let failures = response["batchItemFailures"]
                .as_array()
                .ok_or("no batchItemFailures in the response")?;
            if failures.len() != want {
                return Err(format!(
                    "{} batch item failures, want {want}: {response}",
                    failures.len()
                ));
            }
            let text = std::fs::read_to_string(events_dir().join(&entry.event))
                .map_err(|e| e.to_string())?;
            let event: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let ids: BTreeSet<&str> = event["Records"]
                .as_array()
                .into_iter()
                .flatten()
                // SQS names a message by its id, a DynamoDB stream a record
                // by its sequence number.
                .filter_map(|r| {
                    r["messageId"]
                        .as_str()
                        .or_else(|| r["dynamodb"]["SequenceNumber"].as_str())
                })
                .collect();
            match failures
                .iter()
                .find(|f| !ids.contains(f["itemIdentifier"].as_str().unwrap_or("")))
            {
                Some(f) => Err(format!("failure {f} names no message of the batch")),
                None => Ok(()),
            }
        }
    }
}

/// Runs every manifest entry, in order, on the event files under `events` over
/// one fresh data dir (`prepare` may set it up first); panics listing every
/// answer that differs.
fn run_manifest(events: &Path, prepare: impl FnOnce(&Path)) {
    let data_dir = TempDir(std::env::temp_dir().join(format!(
        "osa-events-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    )));
    prepare(&data_dir.0);
    let mut wrong = Vec::new();
    for (i, entry) in manifest().iter().enumerate() {
        let outcome =
            invoke(entry, events, &data_dir.0).and_then(|response| check(entry, &response));
        let label = format!("#{i} {} {}", entry.function, entry.event);
        match outcome {
            Ok(()) => println!("ok   {label} ({:?})", entry.expect),
            Err(why) => {
                println!("FAIL {label}: {why}");
                wrong.push(format!("{label}: {why}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} event(s) answered otherwise than events/manifest.json says:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_event_answers_as_the_manifest_says() {
    run_manifest(&events_dir(), |_| ());
}

#[test]
fn rendered_events_need_no_placeholders_and_answer_as_the_manifest_says() {
    let rendered = TempDir(std::env::temp_dir().join(format!(
        "osa-rendered-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    )));
    run_manifest(&rendered.0, |data_dir| {
        let out = Command::new(env!("CARGO_BIN_EXE_osa"))
            .args(["events", "render", "--events"])
            .arg(events_dir())
            .arg("--out")
            .arg(&rendered.0)
            .arg("--data-dir")
            .arg(data_dir)
            .output()
            .expect("osa events render runs");
        assert!(
            out.status.success(),
            "osa events render failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for entry in manifest() {
            let path = rendered.0.join(&entry.event);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{} was not rendered: {e}", path.display()));
            assert!(
                !text.contains("{{"),
                "{} still holds a placeholder",
                entry.event
            );
        }
    });
}
