//! The scripts the README and docs/ name run as written: each exists, is
//! executable and starts with a bash shebang (they use bash features, and a
//! script without a shebang runs under `sh`). And the moto section of
//! docs/operations.md: `./infra/moto.sh`, run directly, prints the exports of a
//! live endpoint, keeps it up until stopped, and stops it when it is.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

/// Every `infra/....sh` path the text names (with or without a leading `./`).
fn named_scripts(text: &str) -> BTreeSet<String> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    text.match_indices("infra/")
        .filter(|(at, _)| {
            // The start of a path, not the middle of another word.
            text[..*at]
                .chars()
                .next_back()
                .is_none_or(|c| !is_path_char(c) || c == '/')
        })
        .map(|(at, _)| {
            let rest = &text[at..];
            let end = rest.find(|c| !is_path_char(c)).unwrap_or(rest.len());
            rest[..end].trim_end_matches('.').to_owned()
        })
        .filter(|path| path.ends_with(".sh"))
        .collect()
}

/// Why `path` cannot be run as `./path`, if it cannot.
fn not_runnable(root: &Path, script: &str) -> Option<String> {
    let path = root.join(script);
    let Ok(metadata) = std::fs::metadata(&path) else {
        return Some(format!("{script}: no such file"));
    };
    if metadata.permissions().mode() & 0o111 == 0 {
        return Some(format!("{script}: not executable (chmod +x)"));
    }
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let first = text.lines().next().unwrap_or("");
    if !(first.starts_with("#!") && first.contains("bash")) {
        return Some(format!(
            "{script}: first line {first:?} is not a bash shebang (#!/usr/bin/env bash)"
        ));
    }
    None
}

#[test]
fn the_paths_of_scripts_are_found_in_text() {
    let text = "Run `./infra/test.sh`, then infra/load.sh 20 64; source infra/moto.sh.\n\
                infra/grafana/osa-operations.json is no script; nor is my-infra/x.sh.";
    let found: Vec<_> = named_scripts(text).into_iter().collect();
    assert_eq!(found, ["infra/load.sh", "infra/moto.sh", "infra/test.sh"]);
}

#[test]
fn every_script_the_readme_names_is_executable_with_a_bash_shebang() {
    let root = workspace_root();
    // The README and the docs/ pages it leads to.
    let mut readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    for page in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = page.expect("an entry").path();
        if path.extension().is_some_and(|ext| ext == "md") {
            readme.push('\n');
            readme += &std::fs::read_to_string(&path).expect("a docs/ page");
        }
    }
    let named = named_scripts(&readme);
    for expected in ["infra/test.sh", "infra/moto.sh", "infra/sam-build.sh"] {
        assert!(
            named.contains(expected),
            "the README and docs/ no longer name {expected}: {named:?}"
        );
    }
    // Scripts the README and docs/ do not name are run by those they do.
    let mut all = named.clone();
    for entry in std::fs::read_dir(root.join("infra")).expect("infra/") {
        let name = entry.expect("an entry").file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".sh") {
            all.insert(format!("infra/{name}"));
        }
    }
    let problems: Vec<_> = all
        .iter()
        .filter_map(|script| not_runnable(&root, script))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `./infra/moto.sh` in its own process group, which is killed on drop.
struct Script(Child);

impl Drop for Script {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

#[test]
fn moto_sh_run_directly_prints_the_exports_and_serves_until_stopped() {
    // It installs moto on first use (from PyPI): run where the test command has.
    if std::env::var("OSA_TEST_AWS_ENDPOINT").is_err() {
        println!("scripts: SKIPPED, no OSA_TEST_AWS_ENDPOINT (infra/test.sh sets it)");
        return;
    }
    let mut script = Script(
        Command::new(workspace_root().join("infra/moto.sh"))
            .current_dir(std::env::temp_dir())
            .env_remove("OSA_MOTO_PORT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("./infra/moto.sh starts"),
    );
    let stdout = script.0.stdout.take().expect("stdout");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut printed = Vec::new();
    let endpoint = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no AWS_ENDPOINT_URL export; it printed {printed:?}"));
        if let Some(url) = line.strip_prefix("export AWS_ENDPOINT_URL=") {
            break url.trim().to_owned();
        }
        printed.push(line);
    };
    let address = endpoint
        .strip_prefix("http://")
        .expect("an http:// endpoint")
        .to_owned();
    assert!(
        TcpStream::connect(&address).is_ok(),
        "nothing answers at {endpoint}"
    );
    // The script waits rather than exits: its output stays open.
    loop {
        match lines.recv_timeout(Duration::from_secs(1)) {
            Ok(_) => continue,
            Err(mpsc::RecvTimeoutError::Timeout) => break,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("moto.sh exited instead of waiting")
            }
        }
    }
    assert!(TcpStream::connect(&address).is_ok(), "moto stopped early");

    // Ctrl-C (here: TERM to the script alone) stops moto with it.
    let _ = Command::new("kill")
        .args(["-TERM", &script.0.id().to_string()])
        .status();
    let stopped_by = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(&address).is_ok() {
        assert!(
            Instant::now() < stopped_by,
            "moto still answers at {endpoint} after moto.sh was stopped"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
