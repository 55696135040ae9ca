//! The embedded store's disk runs full, for real, and space comes back (issue
//! 14, item 3): the real `osa serve` binary on a free port with its own data
//! dir; mid-run its file-size limit (`RLIMIT_FSIZE`, set from outside with
//! `prlimit(2)`, no mount and no root needed) drops to one byte, so every write
//! SQLite makes fails (`EFBIG`; `osa` handles `SIGXFSZ` instead of dying of
//! it); then the limit is lifted.
//!
//! While full: every request that must write answers `503` with `Retry-After`
//! and the JSON error, reads go on answering from what is stored, the process
//! stays up (its writer thread and worker loop too), and nothing is
//! acknowledged that was not stored. After: service resumes by itself, the
//! refused webhook and intake are accepted as new, the run completes, and the
//! database passes `PRAGMA integrity_check` with every acknowledged webhook in
//! it exactly once.
#![cfg(target_os = "linux")]

mod support;

use support::Osa;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use osa_domain::AgentId;
use osa_testkit::samples::agent_event;
use serde_json::{Value, json};

/// Where the OPAL trigger goes: nothing listens there, so the built-in simulator
/// sends no webhook and the test sends each one itself.
const DEAD_OPAL_URL: &str = "http://127.0.0.1:9/opal-unreachable";

impl Osa {
    fn start() -> Osa {
        let data_dir = std::env::temp_dir().join(format!(
            "osa-faults-disk-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        // Its log goes to a file on the same "disk": while full, no log line
        // can be written either.
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let log = std::fs::File::create(data_dir.join("osa.log")).expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_osa"))
            .args(["serve", "--port", "0", "--opal-url", DEAD_OPAL_URL])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("osa starts");
        let base = support::listening_url(&mut child);
        let token = osa_output(&["token", "--data-dir"], &data_dir, None);
        Osa {
            child,
            base,
            token,
            data_dir,
            http: reqwest::Client::new(),
        }
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("a pid")
    }

    /// How the process ended, if it has.
    fn exit_status(&self) -> Option<String> {
        let status = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        Some(status.split_whitespace().nth(2)?.to_owned())
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn db(&self) -> PathBuf {
        self.data_dir.join("osa.db")
    }

    async fn request(&self, request: reqwest::RequestBuilder) -> Reply {
        let r = match request.send().await {
            Ok(r) => r,
            Err(e) => panic!("osa did not answer ({:?}): {e:?}", self.exit_status()),
        };
        let status = r.status().as_u16();
        let retry_after = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = r.json().await.unwrap_or(Value::Null);
        Reply {
            status,
            retry_after,
            body,
        }
    }

    async fn submit(&self, body: &Value) -> Reply {
        let url = format!("{}/api/strategy/intake", self.base);
        self.request(self.http.post(url).bearer_auth(&self.token).json(body))
            .await
    }

    async fn get(&self, path: &str) -> Reply {
        let url = format!("{}{path}", self.base);
        self.request(self.http.get(url).bearer_auth(&self.token))
            .await
    }

    async fn send(&self, event: &Value) -> Reply {
        let body = event.to_string();
        let signature = osa_output(&["sign", "--data-dir"], &self.data_dir, Some(&body));
        let url = format!("{}/api/webhooks/opal-workflow", self.base);
        let request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("x-osa-signature", signature)
            .body(body);
        self.request(request).await
    }
}

/// What `osa <args> <data dir> [file]` prints, trimmed.
fn osa_output(args: &[&str], data_dir: &Path, body: Option<&str>) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_osa"));
    command.args(args).arg(data_dir);
    if let Some(body) = body {
        let file = data_dir.join(format!("to-sign-{}.json", rand::random::<u32>()));
        std::fs::write(&file, body).expect("write body");
        command.arg(file);
    }
    let out = command.output().expect("osa runs");
    assert!(
        out.status.success(),
        "osa {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

struct Reply {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

fn assert_unavailable(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 503, "{what}: {}", reply.body);
    assert_eq!(
        reply.retry_after.as_deref(),
        Some("1"),
        "{what}: Retry-After"
    );
    assert_eq!(
        reply.body,
        json!({"success": false, "error": {
            "code": "service_unavailable",
            "message": "storage is temporarily unavailable; retry later",
            "details": [],
        }}),
        "{what}"
    );
}

/// Sets the soft file-size limit of process `pid` (the hard limit stays).
fn set_file_size_limit(pid: i32, bytes: Option<u64>) {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads the limit of a process of ours into a valid struct.
    let read = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, std::ptr::null(), &mut old) };
    assert_eq!(
        read,
        0,
        "prlimit (read): {}",
        std::io::Error::last_os_error()
    );
    let new = libc::rlimit {
        rlim_cur: bytes.unwrap_or(libc::RLIM_INFINITY).min(old.rlim_max),
        rlim_max: old.rlim_max,
    };
    // SAFETY: sets the soft limit of a process of ours from a valid struct.
    let set = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &new, std::ptr::null_mut()) };
    assert_eq!(set, 0, "prlimit (set): {}", std::io::Error::last_os_error());
}

/// The events the store de-duplicates by, per workflow, and its integrity check.
fn inspect(db: &Path, workflow_id: &str) -> (String, i64) {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the database");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    let events: i64 = conn
        .query_row(
            "SELECT count(*) FROM events WHERE workflow_id = ?1",
            [workflow_id],
            |r| r.get(0),
        )
        .expect("events");
    (check, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_acknowledges_nothing_and_recovers() {
    let mut osa = Osa::start();
    let id = uuid::Uuid::new_v4().to_string();
    let started = osa.submit(&osa_testkit::samples::intake_with_id(&id)).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let mut acknowledged = 0;
    for agent in AgentId::ALL {
        let reply = osa.send(&agent_event(&id, agent, "started")).await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        acknowledged += 1;
    }
    for agent in AgentId::ALL[..4].iter().copied() {
        let reply = osa.send(&agent_event(&id, agent, "completed")).await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        acknowledged += 1;
    }

    // The disk is full: no file of the process may grow past one byte.
    set_file_size_limit(osa.pid(), Some(1));
    let late = AgentId::ALL[4];
    let other = osa_testkit::samples::intake_with_id(&uuid::Uuid::new_v4().to_string());
    let mut refused = 0;
    for round in 0..3 {
        let intake = osa.submit(&other).await;
        assert_unavailable(&intake, &format!("intake, round {round}"));
        let hook = osa.send(&agent_event(&id, late, "completed")).await;
        assert_unavailable(&hook, &format!("webhook, round {round}"));
        refused += 2;
        // Reads answer from what is stored.
        let status = osa.get(&format!("/api/strategy/workflows/{id}")).await;
        assert_eq!(status.status, 200, "{}", status.body);
        assert!(osa.alive(), "osa exited while the disk was full");
    }
    let (check, events) = inspect(&osa.db(), &id);
    assert_eq!(check, "ok", "while full");
    assert_eq!(events, acknowledged, "while full");

    // Space comes back: service resumes by itself.
    set_file_size_limit(osa.pid(), None);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut tries = 0;
    let again = loop {
        tries += 1;
        let reply = osa.send(&agent_event(&id, late, "completed")).await;
        if reply.status != 503 || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        again.status, 202,
        "the refused webhook is new: {}",
        again.body
    );
    acknowledged += 1;
    let twice = osa.send(&agent_event(&id, late, "completed")).await;
    assert_eq!(twice.status, 200, "{}", twice.body);
    assert_eq!(twice.body["duplicate"], true);
    let created = osa.submit(&other).await;
    assert_eq!(created.status, 202, "{}", created.body);
    assert_eq!(
        created.body["created"], true,
        "the refused intake was not stored"
    );
    for agent in AgentId::ALL[5..].iter().copied() {
        let reply = osa.send(&agent_event(&id, agent, "completed")).await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        acknowledged += 1;
    }
    let done = osa.get(&format!("/api/strategy/workflows/{id}")).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["status"], "completed", "{}", done.body);
    let report = osa
        .get(&format!("/api/strategy/workflows/{id}/report"))
        .await;
    assert_eq!(report.status, 200, "{}", report.body);

    let (check, events) = inspect(&osa.db(), &id);
    assert_eq!(check, "ok");
    assert_eq!(events, acknowledged, "every acknowledged webhook, once");
    assert!(osa.alive());
    eprintln!(
        "disk full: {refused} writes answered 503, reads 200; {acknowledged} webhooks \
         acknowledged in all, {events} stored, 0 lost; resumed on try {tries}"
    );
}
