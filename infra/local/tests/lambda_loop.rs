//! The real Lambda runtime loop: `cargo lambda watch` emulates the Lambda control
//! plane and runs the function binaries exactly as Lambda does (their `main.rs`,
//! `lambda_http::run` / `lambda_runtime::run`, configuration from the environment),
//! and `cargo lambda invoke` sends them the event files from `events/`, in the
//! order of `events/manifest.json`, over one embedded store.
//!
//! Needs `cargo-lambda` on PATH (`infra/lambda-loop.sh` installs it and runs this
//! test). Without it the test is skipped with a notice, unless
//! `OSA_REQUIRE_LAMBDA_LOOP=1`, which makes a missing cargo-lambda a failure.
//! `cargo lambda watch` compiles the functions itself (a debug build in the same
//! target dir), so the first invocations wait for that, within a deadline.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use osa_aws as aws;
use osa_testkit::events::{Expect, events_dir, manifest};
use serde_json::Value;

/// How long the functions may take to compile and answer their first event.
const WARM_UP_DEADLINE: Duration = Duration::from_secs(600);
/// How long one invocation of a warm function may take.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(120);
/// The issuer and audience `osa token` signs for (infra/local/src/local.rs).
const DEV_ISSUER: &str = "osa-local";
const DEV_AUDIENCE: &str = "osa-api";
/// Where the worker sends the OPAL trigger: nothing listens there.
const DEAD_OPAL_URL: &str = "http://127.0.0.1:9/opal-unreachable";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

fn cargo_lambda() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("cargo-lambda"))
        .find(|candidate| candidate.is_file())
}

// ---- the manifest (osa_testkit::events reads it) --------------------------------

fn check(expect: Expect, response: &Value) -> Result<(), String> {
    match expect {
        Expect::Ok if response["ok"] == Value::Bool(true) => Ok(()),
        Expect::Ok => Err(format!("no \"ok\": true in {response}")),
        Expect::Status(want) => match response["statusCode"].as_u64() {
            Some(got) if got == u64::from(want) => Ok(()),
            Some(got) => Err(format!(
                "status {got}, want {want}; body {}",
                response["body"]
            )),
            None => Err(format!("no statusCode in {response}")),
        },
        Expect::Failures(want) => match response["batchItemFailures"].as_array() {
            Some(f) if f.len() == want => Ok(()),
            Some(f) => Err(format!(
                "{} batch item failures, want {want}: {response}",
                f.len()
            )),
            None => Err(format!("no batchItemFailures in {response}")),
        },
    }
}

// ---- processes -----------------------------------------------------------------

/// Removes a directory when the test ends, pass or fail.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `cargo lambda watch` in its own process group, stopped with all its children
/// (cargo, the function binaries) on drop.
struct Watcher {
    child: Child,
    log: PathBuf,
}

impl Watcher {
    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }

    /// The last `bytes` of the watcher's output (cargo and the functions' logs).
    fn log_tail(&self, bytes: u64) -> String {
        let Ok(mut file) = File::open(&self.log) else {
            return String::new();
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = file.seek(SeekFrom::Start(len.saturating_sub(bytes)));
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        text
    }

    fn last_line(&self) -> String {
        self.log_tail(2000)
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_owned()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.signal_group("-TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Whatever is left of the group (a function binary, a cargo build).
        self.signal_group("-KILL");
        let _ = self.child.wait();
    }
}

/// Runs a command to completion within `timeout`, printing `progress` now and then.
fn run_bounded(
    mut command: Command,
    timeout: Duration,
    progress: &dyn Fn(Duration),
) -> Result<(String, String), String> {
    let dir = std::env::temp_dir().join(format!(
        "osa-lambda-loop-out-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let _cleanup = TempDir(dir.clone());
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).map_err(|e| e.to_string())?)
        .stderr(File::create(&err_path).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let started = Instant::now();
    let mut last_note = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", timeout.as_secs()));
        }
        if last_note.elapsed() >= Duration::from_secs(30) {
            progress(started.elapsed());
            last_note = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    if status.success() {
        Ok((stdout, stderr))
    } else {
        Err(format!("{status}: {}{}", stdout.trim(), stderr.trim()))
    }
}

fn osa(args: &[&str], data_dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_osa"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("osa runs");
    assert!(
        out.status.success(),
        "osa {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// Every event file with `{{dev_token}}` and `{{signature}}` filled in, as
/// `osa events render` writes them (signed with the data dir's dev key and
/// webhook secret), under `out`.
fn render_events(data_dir: &Path, out: &Path) -> PathBuf {
    let events = events_dir();
    let out_str = out.to_str().expect("utf-8 path");
    let events_str = events.to_str().expect("utf-8 path");
    osa(
        &["events", "render", "--events", events_str, "--out", out_str],
        data_dir,
    );
    out.to_owned()
}

fn invoke(
    cargo_lambda: &Path,
    port: u16,
    function: &str,
    event_file: &Path,
    timeout: Duration,
    progress: &dyn Fn(Duration),
) -> Result<Value, String> {
    let mut command = Command::new(cargo_lambda);
    command
        .args([
            "lambda",
            "invoke",
            function,
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(port.to_string())
        .arg("--data-file")
        .arg(event_file)
        .args(["--output-format", "json"]);
    let (stdout, _) = run_bounded(command, timeout, progress)?;
    serde_json::from_str(&stdout).map_err(|e| format!("no JSON response ({e}): {stdout}"))
}

/// A stand-in for CodeDeploy's one call the pre-traffic hook makes
/// (`PutLifecycleEventHookExecutionStatus`, which the local endpoint lacks):
/// answers `200 {}` and keeps each request's `X-Amz-Target` and body.
struct FakeCodeDeploy {
    port: u16,
    calls: Arc<Mutex<Vec<(String, Value)>>>,
}

fn fake_codedeploy() -> FakeCodeDeploy {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&calls);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Some(call) = answer_codedeploy(stream) {
                kept.lock().expect("calls").push(call);
            }
        }
    });
    FakeCodeDeploy { port, calls }
}

fn answer_codedeploy(stream: TcpStream) -> Option<(String, Value)> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream);
    let (mut target, mut length) = (String::new(), 0usize);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "x-amz-target" => target = value.trim().to_owned(),
                "content-length" => length = value.trim().parse().ok()?,
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let mut stream = reader.into_inner();
    let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    stream.write_all(answer.as_bytes()).ok()?;
    Some((target, serde_json::from_slice(&body).ok()?))
}

/// With a local AWS-compatible endpoint (`OSA_TEST_AWS_ENDPOINT`, started by
/// `infra/test.sh`), the functions run on the AWS backend, as deployed: a fresh
/// table and queue pair on that endpoint. Without one, on the embedded store.
fn aws_backend() -> Vec<(&'static str, String)> {
    let Some(endpoint) = std::env::var("OSA_TEST_AWS_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty())
    else {
        println!("lambda_loop: no OSA_TEST_AWS_ENDPOINT, so the embedded backend");
        return vec![];
    };
    // One name for both: a table and a queue never clash.
    let table = osa_testkit::aws::unique_name("loop");
    let queue = table.clone();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let queue_url = runtime.block_on(async {
        let clients = aws::AwsClients::new(&aws::load_config(Some(&endpoint)).await);
        aws::provision::ensure_table(&clients.dynamodb, &table)
            .await
            .expect("table on the local endpoint");
        aws::provision::ensure_queues(&clients.sqs, &queue)
            .await
            .expect("queues on the local endpoint")
            .url
    });
    println!("lambda_loop: AWS backend at {endpoint} (table {table})");
    vec![
        ("OSA_BACKEND", "aws".to_owned()),
        ("OSA_TABLE_NAME", table),
        ("OSA_QUEUE_URL", queue_url),
        ("OSA_EVENT_BUS_NAME", "default".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ]
}

#[test]
fn the_functions_answer_the_event_files_in_the_lambda_runtime_loop() {
    let Some(cargo_lambda) = cargo_lambda() else {
        let required =
            std::env::var("OSA_REQUIRE_LAMBDA_LOOP").is_ok_and(|v| !v.is_empty() && v != "0");
        assert!(
            !required,
            "OSA_REQUIRE_LAMBDA_LOOP is set but cargo-lambda is not on PATH (infra/lambda-loop.sh installs it)"
        );
        println!(
            "lambda_loop: SKIPPED, cargo-lambda is not on PATH; run infra/lambda-loop.sh to install it and run this test"
        );
        return;
    };
    let root = workspace_root();
    let scratch = TempDir(std::env::temp_dir().join(format!(
        "osa-lambda-loop-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    )));
    let data_dir = scratch.0.join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");

    // The dev key pair and webhook secret, created in the data dir by the first
    // render. Signatures last five minutes: the events are rendered again once
    // the functions are warm.
    let warm_up_events = render_events(&data_dir, &scratch.0.join("warm-up"));
    let secret = std::fs::read_to_string(data_dir.join("webhook-secret")).expect("webhook-secret");
    let public_key = data_dir.join("dev-jwt-public.pem");
    assert!(
        public_key.is_file(),
        "osa events render did not create {}",
        public_key.display()
    );

    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let log = scratch.0.join("watch.log");
    let log_file = File::create(&log).expect("watch log");
    let mut env = vec![
        (
            "OSA_DATA_DIR",
            data_dir.to_str().expect("utf-8 path").to_owned(),
        ),
        ("OSA_WEBHOOK_SECRETS", secret.trim().to_owned()),
        ("OSA_PUBLIC_URL", "http://127.0.0.1:3000".to_owned()),
        ("OPAL_TRIGGER_URL", DEAD_OPAL_URL.to_owned()),
        ("OPAL_TIMEOUT_SECS", "5".to_owned()),
        ("OSA_JWT_ISSUER", DEV_ISSUER.to_owned()),
        ("OSA_JWT_AUDIENCE", DEV_AUDIENCE.to_owned()),
        (
            "OSA_JWT_PUBLIC_KEY_FILES",
            public_key.to_str().expect("utf-8 path").to_owned(),
        ),
    ];
    let backend = aws_backend();
    let on_aws = !backend.is_empty();
    env.extend(backend);
    // The pre-traffic hook invokes the other functions through the emulator's own
    // Invoke API (by name, as a version's ARN on AWS) and reports to a stand-in
    // for CodeDeploy.
    let codedeploy = fake_codedeploy();
    env.extend([
        (
            "AWS_ENDPOINT_URL_LAMBDA",
            format!("http://127.0.0.1:{port}"),
        ),
        (
            "AWS_ENDPOINT_URL_CODEDEPLOY",
            format!("http://127.0.0.1:{}", codedeploy.port),
        ),
        ("OSA_HOOK_STATUS_API_VERSION", "status-api".to_owned()),
        ("OSA_HOOK_INTAKE_VERSION", "intake".to_owned()),
        ("OSA_HOOK_OPAL_WEBHOOK_VERSION", "opal-webhook".to_owned()),
    ]);
    let mut command = Command::new(&cargo_lambda);
    command
        .args([
            "lambda",
            "watch",
            "--ignore-changes",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(port.to_string())
        .current_dir(&root)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .env_remove("OSA_JWKS_FILE")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log handle"))
        .stderr(log_file)
        .process_group(0);
    for (key, value) in &env {
        command.arg("--env-var").arg(format!("{key}={value}"));
    }
    println!(
        "lambda_loop: starting cargo lambda watch on 127.0.0.1:{port} (log: {})",
        log.display()
    );
    let watcher = Watcher {
        child: command.spawn().expect("cargo lambda watch starts"),
        log,
    };

    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "cargo lambda watch did not listen:\n{}",
            watcher.log_tail(4000)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Warm up: the first invocation of each function compiles it. These events
    // change no state, so one that times out while compiling can simply be sent again.
    let warm_ups = [
        (
            "intake",
            "apigw/intake-missing-token.json",
            Expect::Status(401),
        ),
        (
            "opal-webhook",
            "apigw/webhook-missing-signature.json",
            Expect::Status(401),
        ),
        (
            "status-api",
            "apigw/status-workflow-missing-token.json",
            Expect::Status(401),
        ),
        (
            "worker",
            "sqs/batch-with-unreadable-message.json",
            Expect::Failures(1),
        ),
        // These change state, but running a schedule once more is harmless.
        ("health-check", "eventbridge/scheduled.json", Expect::Ok),
        ("alert-evaluator", "eventbridge/scheduled.json", Expect::Ok),
        (
            "outbox-relay",
            "dynamodb/outbox-unreadable.json",
            Expect::Failures(1),
        ),
    ];
    let deadline = Instant::now() + WARM_UP_DEADLINE;
    for (function, event, expect) in warm_ups {
        let file = warm_up_events.join(event);
        println!("lambda_loop: warming up {function} (the first invocation compiles it)");
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{function} did not answer within {}s:\n{}",
                WARM_UP_DEADLINE.as_secs(),
                watcher.log_tail(6000)
            );
            let progress = |waited: Duration| {
                println!(
                    "lambda_loop:   still waiting for {function} ({}s): {}",
                    waited.as_secs(),
                    watcher.last_line()
                );
            };
            match invoke(&cargo_lambda, port, function, &file, left, &progress) {
                Ok(response) => {
                    if let Err(why) = check(expect, &response) {
                        panic!(
                            "{function} warm-up with {event}: {why}\n{}",
                            watcher.log_tail(4000)
                        );
                    }
                    break;
                }
                Err(why) => {
                    println!(
                        "lambda_loop:   {function} not ready yet: {}",
                        why.lines().next().unwrap_or("")
                    );
                    std::thread::sleep(Duration::from_secs(2));
                }
            }
        }
    }
    println!(
        "lambda_loop: all functions answered after {}s",
        started.elapsed().as_secs()
    );

    let events = render_events(&data_dir, &scratch.0.join("events"));
    let mut wrong = Vec::new();
    let listed: BTreeSet<_> = manifest().iter().map(|e| e.function.clone()).collect();
    for (i, entry) in manifest().iter().enumerate() {
        let file = events.join(&entry.event);
        let label = format!("#{i} {} {}", entry.function, entry.event);
        let attempt = || {
            invoke(
                &cargo_lambda,
                port,
                &entry.function,
                &file,
                INVOKE_TIMEOUT,
                &|_| (),
            )
            .and_then(|response| check(entry.expect, &response))
        };
        // A 503 tells the client to retry, as a client would: the local AWS
        // endpoint on a loaded machine can stall past a call's time budget. A
        // function that answers 503 every time still fails.
        let outcome = attempt().or_else(|why| {
            if why.starts_with("status 503") {
                println!("retry {label}: {why}");
                attempt()
            } else {
                Err(why)
            }
        });
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
        "{} event(s) answered otherwise in the Lambda runtime loop:\n{}\n--- cargo lambda watch log (tail) ---\n{}",
        wrong.len(),
        wrong.join("\n"),
        watcher.log_tail(6000)
    );
    if on_aws {
        run_pre_traffic_hook(&cargo_lambda, port, &scratch.0, &codedeploy, &watcher);
    } else {
        println!("lambda_loop: pre-traffic hook skipped (its health probes need the AWS backend)");
    }
    for function in [
        "intake",
        "opal-webhook",
        "status-api",
        "worker",
        "health-check",
        "alert-evaluator",
        "outbox-relay",
    ] {
        assert!(
            listed.contains(function),
            "events/manifest.json exercises no {function} event"
        );
    }
    drop(watcher);
}

/// The pre-traffic hook, as CodeDeploy runs it: it invokes the three API
/// functions in the loop and reports `Succeeded`, once, for its deployment.
fn run_pre_traffic_hook(
    cargo_lambda: &Path,
    port: u16,
    scratch: &Path,
    codedeploy: &FakeCodeDeploy,
    watcher: &Watcher,
) {
    let event = scratch.join("pre-traffic.json");
    std::fs::write(
        &event,
        r#"{"DeploymentId":"d-LOOP12345","LifecycleEventHookExecutionId":"exec-loop"}"#,
    )
    .expect("the hook's event");
    let response = invoke(
        cargo_lambda,
        port,
        "pre-traffic",
        &event,
        WARM_UP_DEADLINE,
        &|_| (),
    )
    .unwrap_or_else(|why| panic!("pre-traffic: {why}\n{}", watcher.log_tail(6000)));
    assert_eq!(
        response["status"],
        "Succeeded",
        "pre-traffic: {response}\n{}",
        watcher.log_tail(4000)
    );
    let calls = codedeploy.calls.lock().expect("calls").clone();
    assert_eq!(calls.len(), 1, "one report to CodeDeploy: {calls:?}");
    let (target, body) = &calls[0];
    assert_eq!(
        target,
        "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"
    );
    assert_eq!(
        body,
        &serde_json::json!({
            "deploymentId": "d-LOOP12345",
            "lifecycleEventHookExecutionId": "exec-loop",
            "status": "Succeeded",
        })
    );
    println!("ok   pre-traffic: the three new versions answered; Succeeded reported");
}
