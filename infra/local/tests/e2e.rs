//! End to end: the real `osa` binary on a free port, driven over HTTP.

mod support;

use support::Osa;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn unique_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "osa-e2e-{name}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ))
}

/// `osa serve` on a free port over `data_dir`, its address read from stdout.
fn serve_command(data_dir: &std::path::Path, extra: &[&str]) -> Command {
    let mut serve = Command::new(env!("CARGO_BIN_EXE_osa"));
    serve
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped());
    serve
}

impl Osa {
    fn start(name: &str, extra: &[&str]) -> Osa {
        Osa::start_with_env(name, extra, &[])
    }

    fn start_with_env(name: &str, extra: &[&str], env: &[(&str, &str)]) -> Osa {
        Osa::start_logging(name, extra, env, None)
    }

    /// `log`: a file that gets everything `osa` logs (JSON, info and up).
    fn start_logging(
        name: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> Osa {
        let data_dir = unique_dir(name);
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
            None => Stdio::inherit(),
        };
        let mut serve = serve_command(&data_dir, extra);
        let mut child = serve
            .envs(env.iter().copied())
            .env("RUST_LOG", if log.is_some() { "info" } else { "warn" })
            .stderr(stderr)
            .spawn()
            .expect("osa starts");
        let base = support::listening_url(&mut child);
        let out = Command::new(env!("CARGO_BIN_EXE_osa"))
            .args(["token", "--data-dir"])
            .arg(&data_dir)
            .output()
            .expect("osa token runs");
        assert!(
            out.status.success(),
            "osa token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout)
            .expect("utf-8 token")
            .trim()
            .to_owned();
        Osa {
            child,
            base,
            token,
            data_dir,
            http: reqwest::Client::new(),
        }
    }

    /// Starts `osa serve` again on the same data dir, once the last one has
    /// exited, with the same arguments `extra`.
    fn restart(&mut self, extra: &[&str]) {
        let _ = self.child.wait();
        let mut child = serve_command(&self.data_dir, extra)
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("osa starts again");
        self.base = support::listening_url(&mut child);
        self.child = child;
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post_intake(&self, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/api/strategy/intake"))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("intake request");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("post");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("get");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Polls the workflow until `done` holds or the deadline passes.
    async fn wait_for(&self, id: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let (status, body) = self.get(&format!("/api/strategy/workflows/{id}")).await;
            assert_eq!(status, 200, "{body}");
            if done(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "workflow did not get there in {within:?}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn sign(&self, body: &[u8]) -> String {
        let file = self.data_dir.join("to-sign.json");
        std::fs::write(&file, body).expect("write body");
        let out = Command::new(env!("CARGO_BIN_EXE_osa"))
            .args(["sign", "--data-dir"])
            .arg(&self.data_dir)
            .arg(&file)
            .output()
            .expect("osa sign runs");
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    async fn webhook(&self, body: &[u8], signature: Option<&str>) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.url("/api/webhooks/opal-workflow"))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(sig) = signature {
            req = req.header("x-osa-signature", sig);
        }
        let r = req.send().await.expect("webhook request");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

fn intake(id: &str) -> Value {
    json!({
        "workflow_id": id,
        "business_context": {
            "company_name": "Acme Outdoor",
            "industry": "retail",
            "goals": ["Grow repeat purchases", "Lift mobile conversion"],
            "target_audience": "Outdoor enthusiasts aged 25-45 in North America"
        },
        "optimizely_config": {
            "project_id": "123456",
            "workspace_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "api_credentials": {"odp_key": "odp-live-key-do-not-leak"}
        },
        "analysis_preferences": {
            "analysis_depth": "standard",
            "focus_areas": ["content", "experimentation"],
            "timeline": "90d"
        }
    })
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intake_becomes_a_completed_workflow_with_nine_results() {
    let osa = Osa::start("happy", &["--sim-spread-ms", "1500"]);
    intake_to_nine_results(&osa).await;
}

/// SIGTERM (what `kill`, systemd and container runtimes send) stops the server
/// cleanly, with the store's write-ahead log in the database file: the next
/// start has no log to read, and what was acknowledged is there.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_with_its_log_in_the_database() {
    let mut osa = Osa::start(
        "sigterm",
        &[
            "--no-simulator",
            "--opal-url",
            "http://127.0.0.1:9/opal-unreachable",
        ],
    );
    let id = new_id();
    let (status, _) = osa.post_intake(&intake(&id)).await;
    assert_eq!(status, 202);
    let log = osa.data_dir.join("osa.db-wal");
    assert!(
        std::fs::metadata(&log).is_ok_and(|m| m.len() > 0),
        "the intake is in the log first"
    );

    let pid = libc::pid_t::try_from(osa.child.id()).expect("a pid");
    // SAFETY: kill(2) with a child's pid and a signal number touches no memory.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let exited = loop {
        if let Some(status) = osa.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "osa did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exited.success(), "osa exited with {exited}");
    assert!(
        std::fs::metadata(&log).map_or(true, |m| m.len() == 0),
        "the log was left for the next start to read"
    );
    let db = rusqlite::Connection::open(osa.data_dir.join("osa.db")).expect("the database");
    let stored: i64 = db
        .query_row("SELECT COUNT(*) FROM workflows WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .expect("the workflows table");
    assert_eq!(stored, 1);
}

/// kill -9 loses nothing acknowledged: 64 connections send webhooks at once,
/// the server is killed mid-stream, and after a restart on the same data dir
/// every event that was answered 2xx before the kill is known (sent again, it
/// is a duplicate). Events in flight at the kill may or may not have been kept.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_webhook() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const CONNECTIONS: usize = 64;
    const EVENTS: usize = 320;
    const KILL_AFTER: usize = 120;
    let args = [
        "--no-simulator",
        "--opal-url",
        "http://127.0.0.1:9/opal-unreachable",
    ];
    let mut osa = Osa::start("sigkill", &args);
    let mut workflows = Vec::new();
    for _ in 0..2 {
        let id = new_id();
        assert_eq!(osa.post_intake(&intake(&id)).await.0, 202);
        workflows.push(id);
    }
    let agents = osa_domain::AgentId::ALL;
    let bodies: Vec<Vec<u8>> = (0..EVENTS)
        .map(|i| {
            serde_json::to_vec(&json!({
                "workflow_id": workflows[i % workflows.len()],
                "agent_id": agents[i % agents.len()].as_str(),
                "execution_status": "started",
                "execution_id": format!("kill-9-{i}"),
            }))
            .expect("a body")
        })
        .collect();
    let requests: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        bodies
            .into_iter()
            .map(|body| {
                let signature = osa.sign(&body);
                (body, signature)
            })
            .collect(),
    );

    let url = osa.url("/api/webhooks/opal-workflow");
    let pid = libc::pid_t::try_from(osa.child.id()).expect("a pid");
    let next = Arc::new(AtomicUsize::new(0));
    let acknowledged_count = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (requests, next, count) = (
                Arc::clone(&requests),
                Arc::clone(&next),
                Arc::clone(&acknowledged_count),
            );
            let (http, url) = (reqwest::Client::new(), url.clone());
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((body, signature)) = requests.get(i) else {
                        return acknowledged;
                    };
                    let sent = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-osa-signature", signature)
                        .body(body.clone())
                        .send()
                        .await;
                    match sent {
                        Ok(reply) if reply.status().is_success() => {
                            acknowledged.push(i);
                            // Killed by the sender that sees the KILL_AFTER-th
                            // answer, with the other connections mid-request.
                            if count.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                                // SAFETY: kill(2) with a child's pid touches no memory.
                                assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
                            }
                        }
                        Ok(reply) => panic!("event {i} answered {}", reply.status()),
                        // The server is gone: what was not answered is not owed.
                        Err(_) => return acknowledged,
                    }
                }
            })
        })
        .collect();

    let mut acknowledged = Vec::new();
    for sender in senders {
        acknowledged.extend(sender.await.expect("a sender"));
    }
    assert!(acknowledged.len() >= KILL_AFTER);
    assert!(
        acknowledged.len() < EVENTS,
        "the kill came after the last event: nothing was in flight"
    );

    osa.restart(&args);
    for i in acknowledged {
        let (body, _) = &requests[i];
        let (status, reply) = osa.webhook(body, Some(&osa.sign(body))).await;
        assert_eq!(
            (status, &reply["duplicate"]),
            (200, &json!(true)),
            "acknowledged event {i} was lost: {reply}"
        );
    }
}

/// The same run on DynamoDB, SQS and EventBridge at the local AWS-compatible
/// endpoint that `infra/test.sh` starts (`OSA_TEST_AWS_ENDPOINT`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intake_completes_on_the_aws_backend() {
    let Some(endpoint) = osa_testkit::aws::endpoint("an_intake_completes_on_the_aws_backend")
    else {
        return;
    };
    // One name for both: a table and a queue never clash.
    let table = osa_testkit::aws::unique_name("e2e");
    let queue = table.clone();
    let osa = Osa::start_with_env(
        "aws",
        &[
            "--sim-spread-ms",
            "1500",
            "--backend",
            "aws",
            "--table",
            &table,
            "--queue",
            &queue,
        ],
        &[
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    intake_to_nine_results(&osa).await;
    functions_run_elsewhere_can_use_the_local_keys(&osa, &endpoint).await;
}

/// What `sam local invoke` with events/env.local.json relies on: the dev key's
/// JWKS verifies the dev tokens, and the endpoint holds the data dir's webhook
/// secret and OPAL key under the names the file gives.
async fn functions_run_elsewhere_can_use_the_local_keys(osa: &Osa, endpoint: &str) {
    let jwks = osa
        .http
        .get(osa.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks request")
        .text()
        .await
        .expect("jwks body");
    let verifier = osa_net::jwt::JwtVerifier::from_jwks(&jwks, "osa-local", "osa-api")
        .expect("a JWKS with the dev key");
    assert!(
        verifier.verify(&osa.token).await.is_ok(),
        "the served JWKS does not verify a dev token"
    );

    let env: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/env.local.json"),
        )
        .expect("events/env.local.json"),
    )
    .expect("JSON");
    let secrets = aws_sdk_secretsmanager::Client::new(&osa_aws::load_config(Some(endpoint)).await);
    let expected = [
        (
            "OpalWebhookFunction",
            "OSA_WEBHOOK_SECRETS_ARN",
            "webhook-secret",
        ),
        ("WorkerFunction", "OPAL_API_KEY_SECRET_ARN", "opal-api-key"),
    ];
    for (function, variable, file) in expected {
        let name = env[function][variable].as_str().expect("a secret name");
        let stored = secrets
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("secret {name}: {e}"));
        let expected = std::fs::read_to_string(osa.data_dir.join(file)).expect("data dir secret");
        assert_eq!(
            stored.secret_string(),
            Some(expected.trim()),
            "secret {name} does not hold the data dir's {file}"
        );
    }
}

async fn intake_to_nine_results(osa: &Osa) {
    let id = new_id();
    let (status, reply) = osa.post_intake(&intake(&id)).await;
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["success"], true);
    assert_eq!(reply["workflow_id"], id.as_str());
    assert!(reply["status_check_url"].as_str().unwrap().ends_with(&id));
    let minutes = reply["estimated_completion_minutes"].as_u64().unwrap();
    assert!((1..=30).contains(&minutes));
    assert!(
        !reply.to_string().contains("odp-live-key"),
        "credentials never echo"
    );

    let done = osa
        .wait_for(&id, Duration::from_secs(60), |w| w["status"] == "completed")
        .await;
    assert_eq!(done["progress_percent"], 100);
    assert_eq!(done["results"].as_array().unwrap().len(), 9);
    let agents = done["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 9);
    assert!(
        agents.iter().all(|a| a["status"] == "completed"),
        "{agents:?}"
    );
    assert!(done["confidence"].as_f64().unwrap() > 0.0);
    assert!(!done.to_string().contains("odp-live-key"));

    // The strategy: a short ranked list, all of it scheduled, the rest in a
    // backlog ranked below it; what several agents said is listed once.
    let (status, report) = osa
        .get(&format!("/api/strategy/workflows/{id}/report"))
        .await;
    assert_eq!(status, 200, "{report}");
    let ranked = report["recommendations"].as_array().unwrap();
    assert!((1..=25).contains(&ranked.len()), "{}", ranked.len());
    assert!(ranked.iter().all(|r| r["phase"].is_u64()));
    let worst_scheduled = ranked.iter().filter_map(|r| r["rank"].as_u64()).max();
    let backlog = report["backlog"].as_array().unwrap();
    assert!(
        backlog
            .iter()
            .all(|r| r["phase"].is_null() && r["rank"].as_u64() > worst_scheduled)
    );
    let merged = ranked
        .iter()
        .chain(backlog)
        .filter(|r| r["supporting_agents"].as_array().unwrap().len() > 1)
        .count();
    assert!(
        merged >= 5,
        "near-duplicates across agents are merged: {report}"
    );
    let summary = report["summary"]["executive_summary"].as_array().unwrap();
    assert!((3..=5).contains(&summary.len()), "{summary:?}");

    // Resubmitting the same intake answers with the same workflow; a different body conflicts.
    let (status, again) = osa.post_intake(&intake(&id)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["workflow_id"], id.as_str());
    let mut changed = intake(&id);
    changed["business_context"]["company_name"] = json!("Someone Else");
    let (status, conflict) = osa.post_intake(&changed).await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(conflict["error"]["code"], "workflow_conflict");

    let (status, recent) = osa.get("/api/admin/osa/recent-status").await;
    assert_eq!(status, 200);
    assert_eq!(recent["lastWorkflowStatus"], "completed");
    assert!(recent["lastWebhookAt"].is_string());
    assert!(recent["lastAgentDataAt"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_faults_end_partial_and_change_nothing_twice() {
    let osa = Osa::start(
        "faults",
        &[
            "--sim-spread-ms",
            "1500",
            "--sim-fail",
            "cmp_organizer",
            "--sim-duplicates",
            "--sim-out-of-order",
        ],
    );
    let id = new_id();
    let (status, _) = osa.post_intake(&intake(&id)).await;
    assert_eq!(status, 202);
    let done = osa
        .wait_for(&id, Duration::from_secs(60), |w| w["status"] == "partial")
        .await;
    assert_eq!(done["results"].as_array().unwrap().len(), 8);
    let cmp = done["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "cmp_organizer")
        .unwrap()
        .clone();
    assert_eq!(cmp["status"], "failed");
    // Out-of-order start events arrived after the results and moved nothing back.
    assert!(
        done["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["status"] != "running")
    );

    // Every attempt is in the audit trail; each event was sent twice and stored once.
    // (The simulator may still be sending its last duplicates, so wait for all 36.)
    let deadline = Instant::now() + Duration::from_secs(30);
    let events = loop {
        let (status, audit) = osa
            .get(&format!("/api/admin/webhook-events?workflow_id={id}"))
            .await;
        assert_eq!(status, 200, "{audit}");
        let events = audit["events"].as_array().unwrap().clone();
        if events.len() >= 36 || Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let count = |outcome: &str| events.iter().filter(|e| e["outcome"] == outcome).count();
    assert_eq!(events.len(), 36, "9 agents x (start + end) x 2");
    assert_eq!(count("accepted"), 18);
    assert_eq!(count("duplicate"), 18);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_force_sync_repairs_a_partial_workflow_with_fresher_data() {
    let osa = Osa::start(
        "resync",
        &[
            "--sim-spread-ms",
            "800",
            "--sim-fail-first-run",
            "geo_audit,cmp_organizer",
        ],
    );
    let id = new_id();
    let (status, _) = osa.post_intake(&intake(&id)).await;
    assert_eq!(status, 202);
    let partial = osa
        .wait_for(&id, Duration::from_secs(60), |w| w["status"] == "partial")
        .await;
    assert_eq!(partial["run"], 0);
    assert_eq!(partial["results"].as_array().map(Vec::len), Some(7));
    let (_, before) = osa
        .get(&format!("/api/strategy/workflows/{id}/report"))
        .await;
    let received = |report: &Value, agent: &str| {
        report["results_from"]
            .as_array()
            .and_then(|all| all.iter().find(|r| r["agent"] == agent))
            .cloned()
    };
    assert_eq!(received(&before, "geo_audit"), None, "no result yet");

    let (status, sync) = osa
        .post(
            "/api/opal/sync",
            &json!({"triggered_by": "e2e", "client_context": {"workflow_id": id}}),
        )
        .await;
    assert_eq!(status, 202, "{sync}");
    let done = osa
        .wait_for(&id, Duration::from_secs(60), |w| {
            w["run"] == 1 && w["status"] == "completed"
        })
        .await;
    assert_eq!(done["force_sync"]["state"], "completed", "{done}");
    assert_eq!(done["results"].as_array().map(Vec::len), Some(9));
    assert!(
        done["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["run"] == 1),
        "{done}"
    );
    let (status, after) = osa
        .get(&format!("/api/strategy/workflows/{id}/report"))
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["status"], "completed");
    assert_eq!(after["run"], 1);
    for agent in ["geo_audit", "cmp_organizer", "content_review"] {
        let source = received(&after, agent).unwrap_or_else(|| panic!("{agent}: {after}"));
        assert_eq!(source["run"], 1, "{agent}: fresher data");
    }
    let content_before = received(&before, "content_review").expect("a first result");
    let content_after = received(&after, "content_review").expect("a second result");
    assert!(
        content_after["received_at"].as_str() > content_before["received_at"].as_str(),
        "{content_before} then {content_after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_4xx_and_changes_nothing() {
    let osa = Osa::start("bad", &["--sim-spread-ms", "200"]);
    let id = new_id();
    assert_eq!(osa.post_intake(&intake(&id)).await.0, 202);
    let before = osa
        .wait_for(&id, Duration::from_secs(60), |w| w["status"] == "completed")
        .await;

    // Intake: no token, bad JSON, schema violations, wrong content type.
    let r = osa
        .http
        .post(osa.url("/api/strategy/intake"))
        .json(&intake(&new_id()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = osa
        .http
        .post(osa.url("/api/strategy/intake"))
        .bearer_auth(&osa.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let mut invalid = intake(&new_id());
    invalid["business_context"]["goals"] = json!([]);
    invalid["analysis_preferences"]["timeline"] = json!("7d");
    let (status, body) = osa.post_intake(&invalid).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"]["details"][0]["path"],
        "analysis_preferences.timeline"
    );
    let r = osa
        .http
        .post(osa.url("/api/strategy/intake"))
        .bearer_auth(&osa.token)
        .header("content-type", "text/plain")
        .body(intake(&new_id()).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);

    // Webhook: unsigned, badly signed, stale, unknown workflow, invalid, oversized.
    let event = json!({
        "workflow_id": id, "agent_id": "geo_audit", "execution_status": "failed",
        "execution_id": "late-exec"
    });
    let body = serde_json::to_vec(&event).unwrap();
    assert_eq!(osa.webhook(&body, None).await.0, 401);
    assert_eq!(osa.webhook(&body, Some("t=1,v1=00")).await.0, 401);
    let stale = format!("t=1000,v1={}", "0".repeat(64));
    assert_eq!(osa.webhook(&body, Some(&stale)).await.0, 401);
    let unknown = serde_json::to_vec(
        &json!({"workflow_id": new_id(), "agent_id": "geo_audit", "execution_status": "started"}),
    )
    .unwrap();
    assert_eq!(
        osa.webhook(&unknown, Some(&osa.sign(&unknown))).await.0,
        404
    );
    let invalid = serde_json::to_vec(
        &json!({"workflow_id": id, "agent_id": "nobody", "execution_status": "started"}),
    )
    .unwrap();
    let (status, err) = osa.webhook(&invalid, Some(&osa.sign(&invalid))).await;
    assert_eq!(status, 422);
    assert_eq!(err["error"]["details"][0]["path"], "agent_id");
    let huge = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(osa.webhook(&huge, Some("t=1,v1=00")).await.0, 413);

    // A late failure, correctly signed, is accepted but cannot move a completed agent.
    let (status, reply) = osa.webhook(&body, Some(&osa.sign(&body))).await;
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["state_changed"], false);
    let (status, dup) = osa.webhook(&body, Some(&osa.sign(&body))).await;
    assert_eq!(status, 200);
    assert_eq!(dup["duplicate"], true);
    assert_eq!(dup["event_id"], reply["event_id"]);

    let after = osa.get(&format!("/api/strategy/workflows/{id}")).await.1;
    assert_eq!(after["status"], before["status"]);
    assert_eq!(
        after["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| &a["status"])
            .collect::<Vec<_>>(),
        before["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| &a["status"])
            .collect::<Vec<_>>()
    );
    assert_eq!(after["results"], before["results"]);

    // The rejected attempts that named this workflow are audited with their reasons.
    let (_, audit) = osa
        .get(&format!("/api/admin/webhook-events?workflow_id={id}"))
        .await;
    let reasons: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    for reason in [
        "signature_missing",
        "signature_malformed",
        "signature_expired",
        "accepted",
        "duplicate",
    ] {
        assert!(
            reasons.contains(&reason),
            "{reason} missing from {reasons:?}"
        );
    }

    // Unknown routes and methods answer JSON too.
    let r = osa.http.get(osa.url("/api/nowhere")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["success"], false);
    let r = osa
        .http
        .get(osa.url("/api/webhooks/opal-workflow"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
}

/// Issue 5's walk-through: one agent silenced, one late, a short time scale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_agent_ends_the_workflow_partial_and_the_report_names_it() {
    let osa = Osa::start(
        "silent",
        &[
            "--sim-spread-ms",
            "1000",
            "--sim-silent",
            "geo_audit",
            "--sim-late",
            "integration_health",
            "--sim-late-ms",
            "6000",
            // geo_audit: 150 s x 0.05 = 7.5 s; integration_health: 3 s.
            "--deadline-scale",
            "0.05",
        ],
    );
    let id = new_id();
    assert_eq!(osa.post_intake(&intake(&id)).await.0, 202);
    let done = osa
        .wait_for(&id, Duration::from_secs(60), |w| w["status"] == "partial")
        .await;
    let status_of = |agent: &str| {
        done["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["agent"] == agent)
            .map(|a| a["status"].clone())
            .unwrap()
    };
    assert_eq!(status_of("geo_audit"), "timed_out");
    assert_eq!(status_of("integration_health"), "timed_out");

    // The late result arrives after the timeout and is kept, marked late.
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = loop {
        let (status, report) = osa
            .get(&format!("/api/strategy/workflows/{id}/report"))
            .await;
        assert_eq!(status, 200, "{report}");
        let late = report["coverage"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["agent"] == "integration_health" && c["late"] == true);
        if late {
            break report;
        }
        assert!(Instant::now() < deadline, "no late result: {report}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(report["final"], true);
    assert_eq!(report["status"], "partial");
    let warnings = report["warnings"].as_array().unwrap();
    assert_eq!(warnings[0]["code"], "partial_results");
    assert_eq!(warnings[0]["agents"], json!(["geo_audit"]));
    assert!(warnings.iter().any(|w| w["code"] == "late_results"));
    let recommendations = report["recommendations"].as_array().unwrap();
    assert!(!recommendations.is_empty());
    assert!(recommendations.iter().all(|r| {
        !r["supporting_agents"]
            .as_array()
            .unwrap()
            .contains(&json!("geo_audit"))
    }));
    assert_eq!(report["roadmap"].as_array().unwrap().len(), 3);

    let markdown = osa
        .http
        .get(osa.url(&format!(
            "/api/strategy/workflows/{id}/report?format=markdown"
        )))
        .bearer_auth(&osa.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(markdown.contains("## Ranked recommendations"), "{markdown}");
    assert!(markdown.contains("**partial_results**"), "{markdown}");
    assert!(markdown.contains("### Phase 1: Quick wins"), "{markdown}");
}

/// Issue 7: a whole run, logged at info as JSON, leaks no secret and no PII
/// from its inputs, and stores none unredacted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_stored_data_carry_no_secret_and_no_pii() {
    let log = std::env::temp_dir().join(format!(
        "osa-e2e-log-{}-{}.jsonl",
        std::process::id(),
        rand::random::<u32>()
    ));
    let osa = Osa::start_logging(
        "pii",
        &["--sim-spread-ms", "500", "--log-json"],
        &[],
        Some(&log),
    );
    let id = new_id();
    let mut body = intake(&id);
    body["business_context"]["current_challenges"] =
        json!(["Ask jane.doe@example.com or call +1 415 555 0134 about card 4111 1111 1111 1111"]);
    let (status, reply) = osa.post_intake(&body).await;
    assert_eq!(status, 202, "{reply}");
    osa.wait_for(&id, Duration::from_secs(60), |w| w["status"] == "completed")
        .await;

    // A late failure whose error text carries PII, correctly signed.
    let event = serde_json::to_vec(&json!({
        "workflow_id": id, "agent_id": "geo_audit", "execution_status": "failed",
        "execution_id": "pii-exec",
        "metadata": {"error": "crawler blocked for ops@acme-outdoor.com from 203.0.113.77"}
    }))
    .unwrap();
    assert_eq!(osa.webhook(&event, Some(&osa.sign(&event))).await.0, 202);
    let (_, view) = osa.get(&format!("/api/strategy/workflows/{id}")).await;

    let secret = std::fs::read_to_string(osa.data_dir.join("webhook-secret")).unwrap();
    let logs = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(logs.lines().count() > 10, "the run was logged: {logs}");
    for line in logs.lines().filter(|l| l.starts_with('{')) {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    let stored = view.to_string();
    for leak in [
        "odp-live-key-do-not-leak",
        secret.trim(),
        osa.token.as_str(),
        "jane.doe@example.com",
        "555 0134",
        "4111 1111 1111 1111",
        "ops@acme-outdoor.com",
        "203.0.113.77",
    ] {
        assert!(!logs.contains(leak), "the logs contain {leak:?}");
        assert!(
            !stored.contains(leak),
            "the stored workflow contains {leak:?}"
        );
    }
}

/// Scenario C as a user meets it: the simulated Optimizely refuses the intake's
/// key, the workflow pauses; a refreshed key resumes it and it completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_pause_and_refreshed_ones_resume_to_completion() {
    let osa = Osa::start(
        "credentials",
        &["--sim-spread-ms", "500", "--sim-reject-credentials=odp"],
    );
    let id = new_id();
    let (status, reply) = osa.post_intake(&intake(&id)).await;
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["status"], "credentials_invalid", "{reply}");
    assert_eq!(
        reply["credentials"]["refused"],
        json!([{"service": "odp", "status": 401}])
    );
    let (status, view) = osa.get(&format!("/api/strategy/workflows/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(view["status"], "credentials_invalid");
    assert!(view["trigger"]["accepted_at"].is_null(), "{view}");

    let post = |key: &'static str| {
        osa.http
            .post(osa.url(&format!("/api/strategy/workflows/{id}/credentials")))
            .bearer_auth(&osa.token)
            .json(&json!({"api_credentials": {"odp_key": key}}))
            .send()
    };
    // The same expired key again: still refused.
    let r = post("odp-live-key-do-not-leak").await.expect("request");
    assert_eq!(r.status().as_u16(), 422);
    let r = post("odp-refreshed-key").await.expect("request");
    assert_eq!(r.status().as_u16(), 200);

    let done = osa
        .wait_for(&id, Duration::from_secs(30), |v| v["status"] == "completed")
        .await;
    assert_eq!(done["results"].as_array().map(Vec::len), Some(9), "{done}");
    assert!(
        done["credentials_pause"]["resumed_at"].is_string(),
        "{done}"
    );
}

/// `osa serve` tells clients without a token apart by their address: one that
/// exceeds its allowance gets 429 with `Retry-After`, another is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenless_clients_are_limited_by_address() {
    let osa = Osa::start_with_env(
        "ratelimit",
        &["--no-simulator", "--opal-url", "http://127.0.0.1:9/"],
        &[
            // One a minute after a burst of two: no scheduling hiccup refills it.
            ("OSA_RATE_LIMIT_PER_MINUTE", "1"),
            ("OSA_RATE_LIMIT_BURST", "2"),
        ],
    );
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .expect("client")
    };
    let (a, b) = (from([127, 0, 0, 1]), from([127, 0, 0, 2]));
    let url = osa.url("/api/strategy/workflows/some-id");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(a.get(&url).send().await.expect("request").status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 429], "the third is over the burst");
    let limited = a.get(&url).send().await.expect("request");
    assert!(limited.headers().contains_key("retry-after"));
    let body: Value = limited.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(
        b.get(&url).send().await.expect("request").status().as_u16(),
        401,
        "another address has its own allowance"
    );
}
