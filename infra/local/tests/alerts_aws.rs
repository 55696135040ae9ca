//! Alert notifications arrive on the AWS runtime: the `worker` and
//! `alert-evaluator` functions in the Lambda runtime loop (`cargo lambda
//! watch`), on DynamoDB and SQS at the local endpoint, with the channels'
//! targets in Secrets Manager named by ARN, as the template passes them. The
//! test plays SQS's event source mapping (it receives the queue's messages and
//! invokes the worker with them) and EventBridge's schedule (it invokes the
//! evaluator); the intake and the redrive are the application's own calls.
//!
//! Needs `OSA_TEST_AWS_ENDPOINT` (moto) and `cargo-lambda` on PATH; without
//! either it is skipped with a notice, unless `OSA_REQUIRE_LAMBDA_LOOP=1`.

#[allow(dead_code)]
mod listeners;

use std::fs::File;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use listeners::{Listeners, Opal, free_port};
use osa_app::ports::{Clock, SystemClock};
use osa_aws::dynamo::{DynamoMetrics, DynamoStore};
use osa_aws::provision::{ensure_queues, ensure_table};
use osa_aws::sqs::SqsQueue;
use osa_testkit::TestApp;
use serde_json::{Value, json};

const ROUTING_KEY: &str = "rk-aws-do-not-log";
const WARM_UP_DEADLINE: Duration = Duration::from_secs(900);

fn cargo_lambda() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("cargo-lambda"))
        .find(|candidate| candidate.is_file())
}

/// `cargo lambda watch` in its own process group, stopped with its children.
struct Watcher {
    child: Child,
    log: PathBuf,
}

impl Watcher {
    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        text.get(start..).unwrap_or_default().to_owned()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        for signal in ["-TERM", "-KILL"] {
            let _ = Command::new("kill")
                .args([signal, "--", &format!("-{}", self.child.id())])
                .stderr(Stdio::null())
                .status();
            std::thread::sleep(Duration::from_millis(500));
        }
        let _ = self.child.wait();
    }
}

/// Invokes `function` with `event`; answers its JSON response.
fn invoke(cargo_lambda: &Path, port: u16, function: &str, event: &Value) -> Result<Value, String> {
    let file = std::env::temp_dir().join(format!(
        "osa-alerts-aws-event-{}-{}.json",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::write(&file, event.to_string()).map_err(|e| e.to_string())?;
    let out = Command::new(cargo_lambda)
        .args([
            "lambda",
            "invoke",
            function,
            "--invoke-address",
            "127.0.0.1",
        ])
        .args([
            "--invoke-port",
            &port.to_string(),
            "--output-format",
            "json",
        ])
        .arg("--data-file")
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string());
    let _ = std::fs::remove_file(&file);
    let out = out?;
    if !out.status.success() {
        return Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("not JSON ({e})"))
}

fn scheduled() -> Value {
    json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-25T10:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/osa-alerts"], "detail": {}
    })
}

/// The messages due on the queue, as the SQS event a worker is invoked with
/// (deleted from the queue: the test, not Lambda, owns them now).
async fn receive(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Option<Value> {
    let got = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .ok()?;
    let messages = got.messages.unwrap_or_default();
    if messages.is_empty() {
        return None;
    }
    let mut records = Vec::new();
    for m in messages {
        if let Some(handle) = m.receipt_handle() {
            let _ = sqs
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(handle)
                .send()
                .await;
        }
        records.push(json!({
            "messageId": m.message_id().unwrap_or("m"),
            "receiptHandle": m.receipt_handle().unwrap_or("r"),
            "body": m.body().unwrap_or(""),
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795600060500",
                           "SenderId": "test", "ApproximateFirstReceiveTimestamp": "1795600061000"},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:osa-jobs", "awsRegion": "us-east-1"
        }));
    }
    Some(json!({ "Records": records }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_aws_the_worker_sends_alerts_to_slack_and_pagerduty_and_resolves_them() {
    let Some(endpoint) = osa_testkit::aws::endpoint("alerts_aws") else {
        return;
    };
    let Some(cargo_lambda) = cargo_lambda() else {
        let required =
            std::env::var("OSA_REQUIRE_LAMBDA_LOOP").is_ok_and(|v| !v.is_empty() && v != "0");
        assert!(
            !required,
            "OSA_REQUIRE_LAMBDA_LOOP is set but cargo-lambda is not on PATH"
        );
        println!(
            "alerts_aws: SKIPPED, cargo-lambda is not on PATH (infra/lambda-loop.sh installs it)"
        );
        return;
    };
    let listeners = Listeners::start().await;
    let opal_port = free_port();

    // The table, the queue and the channels' secrets on the local endpoint.
    let sdk = osa_testkit::aws::sdk_config(&endpoint).await;
    let clients = osa_aws::AwsClients::new(&sdk);
    let name = osa_testkit::aws::unique_name("alerts");
    ensure_table(&clients.dynamodb, &name).await.expect("table");
    let queue_url = ensure_queues(&clients.sqs, &name)
        .await
        .expect("queues")
        .url;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let mut arns = Vec::new();
    for (what, value) in [
        ("slack", listeners.url("/slack")),
        ("pagerduty", ROUTING_KEY.into()),
    ] {
        let created = secrets
            .create_secret()
            .name(format!("{name}/{what}"))
            .secret_string(value)
            .send()
            .await
            .expect("secret");
        arns.push(created.arn().expect("arn").to_owned());
    }

    // The application's own calls (intake, redrive) over the same table and queue.
    let mut app = TestApp::new();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(DynamoStore::new(
        clients.dynamodb.clone(),
        name.as_str(),
        clock.clone(),
    ));
    let metrics = Arc::new(DynamoMetrics::new(
        clients.dynamodb.clone(),
        name.as_str(),
        clock.clone(),
    ));
    let services = &mut app.services;
    services.clock = clock;
    services.store = store.clone();
    services.audit = store.clone();
    services.leases = Some(store.clone());
    services.deliveries = store;
    services.metrics = metrics.clone();
    services.activity = metrics.clone();
    services.ops = metrics;
    services.queue = Arc::new(SqsQueue::new(clients.sqs.clone(), queue_url.clone()));
    services.changes = None;

    // The functions, configured as the template configures them.
    let port = free_port();
    let scratch = std::env::temp_dir().join(format!("osa-alerts-aws-{}", rand::random::<u32>()));
    std::fs::create_dir_all(&scratch).expect("scratch");
    let log = scratch.join("watch.log");
    let log_file = File::create(&log).expect("log");
    let env = [
        ("OSA_BACKEND", "aws".to_owned()),
        ("OSA_TABLE_NAME", name.clone()),
        ("OSA_QUEUE_URL", queue_url.clone()),
        ("OSA_EVENT_BUS_NAME", "default".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("OSA_PUBLIC_URL", "http://127.0.0.1:3000".to_owned()),
        (
            "OPAL_TRIGGER_URL",
            format!("http://127.0.0.1:{opal_port}/opal/trigger"),
        ),
        ("OPAL_API_KEY", "opal-key-test".to_owned()),
        ("OPAL_TIMEOUT_SECS", "5".to_owned()),
        ("OSA_ALERT_SLACK_WEBHOOK_URL_SECRET_ARN", arns[0].clone()),
        (
            "OSA_ALERT_PAGERDUTY_ROUTING_KEY_SECRET_ARN",
            arns[1].clone(),
        ),
        ("OSA_ALERT_PAGERDUTY_URL", listeners.url("/pagerduty")),
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut command = Command::new(&cargo_lambda);
    command
        .args([
            "lambda",
            "watch",
            "--ignore-changes",
            "--invoke-address",
            "127.0.0.1",
        ])
        .args(["--invoke-port", &port.to_string()])
        .current_dir(&root)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log"))
        .stderr(log_file)
        .process_group(0);
    for (key, value) in &env {
        command.arg("--env-var").arg(format!("{key}={value}"));
    }
    let watcher = Watcher {
        child: command.spawn().expect("cargo lambda watch starts"),
        log,
    };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{}",
            watcher.tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The first invocation of each compiles it; the evaluator's first run sets
    // its baseline.
    for function in ["alert-evaluator", "worker"] {
        let event = if function == "worker" {
            json!({"Records": []})
        } else {
            scheduled()
        };
        loop {
            assert!(
                started.elapsed() < WARM_UP_DEADLINE,
                "{function}: {}",
                watcher.tail()
            );
            let (cl, ev) = (cargo_lambda.clone(), event.clone());
            match tokio::task::spawn_blocking(move || invoke(&cl, port, function, &ev)).await {
                Ok(Ok(_)) => break,
                _ => tokio::time::sleep(Duration::from_secs(2)).await,
            }
        }
    }

    let workflow = app.start_workflow_with(|_| {}).await;
    let workflow_id = workflow.id().to_owned();

    // Plays SQS and the schedule until `done`, within `secs`.
    let pump = |what: &'static str, secs: u64, done: Box<dyn Fn() -> bool + Send>| {
        let (cl, sqs, queue) = (cargo_lambda.clone(), clients.sqs.clone(), queue_url.clone());
        let tail = watcher.tail();
        async move {
            let deadline = Instant::now() + Duration::from_secs(secs);
            let mut last_evaluation: Option<Instant> = None;
            while !done() {
                assert!(
                    Instant::now() < deadline,
                    "{what}: not within {secs} s\n{tail}"
                );
                if let Some(batch) = receive(&sqs, &queue).await {
                    let cl = cl.clone();
                    let answer =
                        tokio::task::spawn_blocking(move || invoke(&cl, port, "worker", &batch))
                            .await
                            .expect("join");
                    let answer = answer.unwrap_or_else(|e| panic!("worker: {e}"));
                    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
                }
                if last_evaluation.is_none_or(|at| at.elapsed() >= Duration::from_secs(5)) {
                    let cl = cl.clone();
                    let answer = tokio::task::spawn_blocking(move || {
                        invoke(&cl, port, "alert-evaluator", &scheduled())
                    })
                    .await
                    .expect("join");
                    answer.unwrap_or_else(|e| panic!("alert-evaluator: {e}"));
                    last_evaluation = Some(Instant::now());
                }
            }
        }
    };

    let counts = |slack: usize, pd: usize| {
        let received = listeners.received_handle();
        Box::new(move || {
            listeners::count_in(&received, "/slack") >= slack
                && listeners::count_in(&received, "/pagerduty") >= pd
        }) as Box<dyn Fn() -> bool + Send>
    };
    pump(
        "the dead letter's alert reaches Slack and PagerDuty",
        240,
        counts(1, 1),
    )
    .await;
    let overview = osa_app::alerts::overview(&app.services)
        .await
        .expect("alerts");
    let fired = overview
        .firing
        .iter()
        .find(|f| f.rule_id == "webhook_delivery_failures")
        .expect("firing");
    let alert_id = fired.alert.alert_id.clone();
    let runbook = "http://127.0.0.1:3000/docs/runbooks/webhook-delivery-failures";
    listeners::check_fired(&listeners, &alert_id, &workflow_id, runbook, ROUTING_KEY);

    // OPAL comes up; the trigger is redriven, delivered, and the alert resolves.
    let _opal = Opal::start(opal_port).await;
    let dead = osa_app::delivery::dead_letter::dead_letters(&app.services, 10)
        .await
        .expect("dead letters");
    let trigger = dead
        .iter()
        .find(|d| d.kind == osa_domain::delivery::DeliveryKind::OpalTrigger)
        .expect("the trigger is dead-lettered");
    osa_app::delivery::dead_letter::redrive(&app.services, trigger.id)
        .await
        .expect("redrive");
    let received = listeners.received_handle();
    let id = alert_id.clone();
    let resolved = Box::new(move || {
        listeners::about_in(&received, "/slack", &id) >= 2
            && listeners::about_in(&received, "/pagerduty", &id) >= 2
    }) as Box<dyn Fn() -> bool + Send>;
    pump("the resolve messages arrive", 240, resolved).await;
    listeners::check_resolved(&listeners, &alert_id);
    let _ = std::fs::remove_dir_all(&scratch);
    drop(watcher);
}
