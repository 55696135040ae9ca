//! `osa serve`: every function's routes on one port, the embedded store, the
//! queue worker and the OPAL simulator in one process.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use osa_app::bootstrap::{Adapters, Runtime, assemble};
use osa_app::config::{
    AwsResources, Config, NotifyConfig, OpalConfig, Retention, optimizely_base_urls_from_env,
    webhook_secrets_from_env,
};
use osa_app::ports::{Clock, CredentialChecker, SystemClock};
use osa_app::{Services, alerts, delivery, health, jobs, outbox};
use osa_aws::{AwsClients, provision};
use osa_domain::Secret;
use osa_domain::access::scopes;
use osa_domain::notification::TargetPolicy;
use osa_domain::signature::SignatureConfig;
use osa_http::with_common_layers;
use osa_net::http::client::ReqwestClient;
use osa_net::http::optimizely::OptimizelyService;
use osa_net::jwt::{DevKeys, JwtVerifier};
use osa_sqlite::SqliteStore;
use osa_sqlite::log_bus::LogBus;
use tokio::sync::watch;

use crate::simulator::{self, Simulator, SimulatorSettings, optimizely};
use crate::{BackendKind, ServeArgs};

pub const ISSUER: &str = "osa-local";
pub const AUDIENCE: &str = "osa-api";
/// The embedded store's database file, in the data dir.
const DATABASE_FILE: &str = "osa.db";

/// A development token: signed with the dev key, for the local issuer and audience.
fn mint_dev_token(
    keys: &DevKeys,
    subject: &str,
    scopes: &[&str],
    ttl_secs: i64,
) -> Result<String, String> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    keys.mint(ISSUER, AUDIENCE, subject, scopes, now, ttl_secs)
        .map_err(|e| e.to_string())
}

/// The files `osa` keeps in its data dir, created on first use.
pub struct LocalFiles {
    pub dir: PathBuf,
    pub keys: DevKeys,
    pub webhook_secret: Secret,
    pub opal_api_key: Secret,
    /// What result-ready notifications are signed with.
    pub notify_secret: Secret,
}

impl LocalFiles {
    pub fn open(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let keys = DevKeys::load_or_create(dir)
            .map_err(|e| format!("dev keys in {}: {e}", dir.display()))?;
        Ok(LocalFiles {
            dir: dir.to_owned(),
            keys,
            webhook_secret: random_secret(&dir.join("webhook-secret"))?,
            opal_api_key: random_secret(&dir.join("opal-api-key"))?,
            notify_secret: random_secret(&dir.join("notify-secret"))?,
        })
    }

    /// The dev public key as a JWKS document: what `GET /.well-known/jwks.json`
    /// serves, so functions run elsewhere (`sam local invoke` with
    /// events/env.local.json) verify the dev tokens through `OSA_JWKS_URL`.
    pub fn jwks(&self) -> Result<serde_json::Value, String> {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(self.keys.private_pem.as_bytes())
            .map_err(|e| format!("dev key: {e}"))?;
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, jsonwebtoken::Algorithm::RS256)
            .map_err(|e| format!("dev key: {e}"))?;
        Ok(serde_json::json!({ "keys": [jwk] }))
    }

    pub fn mint_token(
        &self,
        subject: &str,
        scopes: &[&str],
        ttl_secs: i64,
    ) -> Result<String, String> {
        mint_dev_token(&self.keys, subject, scopes, ttl_secs)
    }
}

/// Reads a secret file, or writes a fresh random one (owner-only) if absent.
fn random_secret(path: &Path) -> Result<Secret, String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim();
        if !existing.is_empty() {
            return Ok(Secret::new(existing));
        }
    }
    let value = format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Secret::new(value))
}

pub fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A log line that cannot be written (stderr on a full disk) is dropped. By
    // default the subscriber reports that with `eprintln!`, which panics when
    // stderr fails too: a request's task would die without an answer, and the
    // store's writer thread with it, for good.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.compact().init();
    }
}

/// The full application over the data dir's embedded store.
/// Optimizely keys are not checked.
pub fn embedded_services(
    files: &LocalFiles,
    base: &str,
    trigger_url: String,
    lifecycle: LifecycleSettings,
) -> Result<Services, String> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let adapters = embedded_adapters(files, clock.clone())?;
    local_services(
        files,
        base,
        (trigger_url, None),
        adapters,
        clock,
        lifecycle,
        None,
    )
}

/// The data dir's embedded store; domain events to the log.
fn embedded_adapters(files: &LocalFiles, clock: Arc<dyn Clock>) -> Result<Adapters, String> {
    let store =
        SqliteStore::open(&files.dir.join(DATABASE_FILE), clock).map_err(|e| e.to_string())?;
    Ok(osa_sqlite::adapters(
        Arc::new(store),
        Arc::new(LogBus::default()),
    ))
}

/// Lifecycle settings `osa serve` takes as flags.
#[derive(Clone, Copy, Debug)]
pub struct LifecycleSettings {
    pub deadline_scale: f64,
    pub retrigger_timed_out_agents: bool,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        LifecycleSettings {
            deadline_scale: 1.0,
            retrigger_timed_out_agents: false,
        }
    }
}

/// The Secrets Manager secrets events/env.local.json names for the functions
/// run by `sam local`: the data dir's webhook secret and OPAL key.
pub const WEBHOOK_SECRETS_NAME: &str = "osa-local/webhook-secrets";
pub const OPAL_API_KEY_NAME: &str = "osa-local/opal-api-key";
pub const NOTIFY_SECRET_NAME: &str = "osa-local/notify-secret";

/// The AWS adapters against `AWS_ENDPOINT_URL` (or a real account), creating the
/// table and the queue pair first if they are missing; on a local endpoint, also
/// the two secrets (a real account keeps its own).
async fn aws_adapters(
    args: &ServeArgs,
    files: &LocalFiles,
    clock: Arc<dyn Clock>,
) -> Result<Adapters, String> {
    if std::env::var("AWS_ENDPOINT_URL").is_ok_and(|url| !url.trim().is_empty()) {
        let secrets = aws_sdk_secretsmanager::Client::new(&osa_aws::load_config(None).await);
        put_secret(&secrets, WEBHOOK_SECRETS_NAME, &files.webhook_secret).await?;
        put_secret(&secrets, OPAL_API_KEY_NAME, &files.opal_api_key).await?;
        put_secret(&secrets, NOTIFY_SECRET_NAME, &files.notify_secret).await?;
    }
    let clients = AwsClients::shared().await;
    provision::ensure_table(&clients.dynamodb, &args.table)
        .await
        .map_err(|e| format!("DynamoDB table {}: {e}", args.table))?;
    let queues = provision::ensure_queues(&clients.sqs, &args.queue)
        .await
        .map_err(|e| format!("SQS queue {}: {e}", args.queue))?;
    let resources = AwsResources {
        table: args.table.clone(),
        queue_url: queues.url,
        event_bus: args.event_bus.clone(),
        retention: Retention::default(),
        emf: false,
    };
    osa_aws::bootstrap::adapters(&resources, clock)
        .await
        .map_err(|e| e.to_string())
}

/// Stores `value` as the secret `name`, creating the secret if it is missing.
async fn put_secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    value: &Secret,
) -> Result<(), String> {
    let updated = client
        .put_secret_value()
        .secret_id(name)
        .secret_string(value.expose())
        .send()
        .await;
    let missing = match &updated {
        Ok(_) => return Ok(()),
        Err(e) => e
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
    };
    if !missing {
        return Err(format!("secret {name}: {}", error_code(updated.err())));
    }
    client
        .create_secret()
        .name(name)
        .secret_string(value.expose())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("secret {name}: {}", error_code(Some(e))))
}

/// The service's error code, never the request (which holds the secret).
fn error_code<E: aws_sdk_secretsmanager::error::ProvideErrorMetadata>(error: Option<E>) -> String {
    error
        .as_ref()
        .and_then(|e| e.code())
        .unwrap_or("the endpoint did not answer")
        .to_owned()
}

/// The application over the given adapters, configured from the data dir: its
/// dev key verifies tokens and its secret (plus any in `OSA_WEBHOOK_SECRETS`)
/// verifies webhooks.
fn local_services(
    files: &LocalFiles,
    base: &str,
    (trigger_url, opal_health_url): (String, Option<String>),
    adapters: Adapters,
    clock: Arc<dyn Clock>,
    lifecycle: LifecycleSettings,
    optimizely: Option<Arc<dyn CredentialChecker>>,
) -> Result<Services, String> {
    let mut secrets = vec![files.webhook_secret.clone()];
    secrets.extend(webhook_secrets_from_env());
    let tokens = JwtVerifier::from_pems(
        std::slice::from_ref(&files.keys.public_pem),
        ISSUER,
        AUDIENCE,
    )
    .map_err(|e| e.to_string())?;
    let opal = OpalConfig {
        trigger_url,
        api_key: Some(files.opal_api_key.clone()),
        timeout: Duration::from_secs(45),
    };
    let config = Config {
        deadline_scale: lifecycle.deadline_scale,
        retrigger_timed_out_agents: lifecycle.retrigger_timed_out_agents,
        // A local run may notify a receiver on this machine.
        notify: NotifyConfig {
            signing_secret: Some(files.notify_secret.clone()),
            targets: TargetPolicy::Local,
        },
        ..Config::new(base, SignatureConfig::new(secrets), opal)
    }
    .with_shared_settings()
    .map_err(|e| e.to_string())?;
    // OPAL_HEALTH_URL wins; else the built-in simulator's, when it runs.
    let config = Config {
        opal_health_url: config.opal_health_url.or(opal_health_url),
        ..config
    };
    let http = ReqwestClient::new(config.notify.targets).map_err(|e| e.to_string())?;
    let runtime = Runtime {
        config,
        clock,
        http: Arc::new(http),
        tokens: Arc::new(tokens),
        optimizely,
    };
    Ok(assemble(adapters, runtime))
}

pub fn serve(args: ServeArgs) -> Result<(), String> {
    init_tracing(args.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let embedded_db =
        matches!(args.backend, BackendKind::Sqlite).then(|| args.data.data_dir.join(DATABASE_FILE));
    let served = runtime.block_on(run(args));
    // Work still in flight (an intake's follow-up, a delivery's attempt) ends
    // with the runtime, and the store's handles with it; then the store's log
    // goes into the database file, so the next start has none to read.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    if let Some(db) = embedded_db
        && let Err(e) = SqliteStore::empty_log(&db)
    {
        tracing::warn!(error = %e, "the store's log is read at the next start");
    }
    served
}

/// A file-size limit (`ulimit -f`, `RLIMIT_FSIZE`) reached must fail the write
/// (`EFBIG`: the store answers unavailable, the request `503`) rather than kill
/// the server, which is what `SIGXFSZ` does unless it is handled. Handling it
/// is enough; the handler tokio installs stays for the life of the process.
fn survive_file_size_limit() -> Result<(), String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let _handled = signal(SignalKind::from_raw(libc::SIGXFSZ))
            .map_err(|e| format!("cannot handle SIGXFSZ: {e}"))?;
    }
    Ok(())
}

async fn run(args: ServeArgs) -> Result<(), String> {
    survive_file_size_limit()?;
    let files = LocalFiles::open(&args.data.data_dir)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let base = format!("http://127.0.0.1:{port}");
    // On the other core while the rest starts, not in the first webhook.
    tokio::task::spawn_blocking(osa_domain::pii::prepare);

    let simulate = !args.no_simulator;
    let opal_urls = match (&args.opal_url, simulate) {
        (Some(url), _) => (url.clone(), None),
        (None, true) => (
            format!("{base}{}", simulator::TRIGGER_PATH),
            Some(format!("{base}{}", simulator::HEALTH_PATH)),
        ),
        (None, false) => return Err("--no-simulator needs --opal-url (or OPAL_TRIGGER_URL)".into()),
    };
    if !(args.deadline_scale.is_finite() && args.deadline_scale > 0.0) {
        return Err(format!(
            "--deadline-scale must be a positive number, not {}",
            args.deadline_scale
        ));
    }
    let lifecycle = LifecycleSettings {
        deadline_scale: args.deadline_scale,
        retrigger_timed_out_agents: args.retrigger_timed_out,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Optimizely: the simulator's services, or the real ones (base URLs from
    // OPTIMIZELY_BASE_URL_<SERVICE> when set).
    let base_urls = if simulate {
        OptimizelyService::ALL
            .into_iter()
            .map(|service| (service, optimizely::base_url(&base, service)))
            .collect()
    } else {
        optimizely_base_urls_from_env()
    };
    let optimizely = osa_net::optimizely(clock.clone(), &base_urls).map_err(|e| e.to_string())?;
    let adapters = match args.backend {
        BackendKind::Sqlite => embedded_adapters(&files, clock.clone())?,
        BackendKind::Aws => aws_adapters(&args, &files, clock.clone()).await?,
    };
    let mut services = local_services(
        &files,
        &base,
        opal_urls,
        adapters,
        clock,
        lifecycle,
        Some(Arc::new(optimizely)),
    )?;
    // `osa serve` runs the outbox's relay loop: a commit only wakes it, and
    // the request answers without waiting for what its change causes.
    services.relay = Arc::new(outbox::RelayWake::background());

    let jwks = files.jwks()?;
    let mut router = Router::new()
        .route(
            "/.well-known/jwks.json",
            axum::routing::get(move || std::future::ready(axum::Json(jwks))),
        )
        .merge(intake::routes(services.clone()))
        .merge(opal_webhook::routes(services.clone()))
        .merge(status_api::routes(services.clone()))
        .merge(stream::routes(services.clone()));
    if simulate {
        let settings = SimulatorSettings {
            fail: args.sim_fail.clone(),
            fail_first_run: args.sim_fail_first_run.clone(),
            silent: args.sim_silent.clone(),
            duplicates: args.sim_duplicates,
            out_of_order: args.sim_out_of_order,
            bad_signature: args.sim_bad_signature.clone(),
            spread: Duration::from_millis(args.sim_spread_ms),
            late: args.sim_late.clone(),
            late_by: Duration::from_millis(args.sim_late_ms),
        };
        let simulator = Arc::new(Simulator::new(
            services.webhook_url(),
            vec![files.webhook_secret.clone()],
            Some(files.opal_api_key.clone()),
            settings,
        ));
        router = router.merge(simulator.router());
        let reject = args.sim_reject_credentials.clone().unwrap_or_default().0;
        router = router.merge(Arc::new(optimizely::OptimizelySim::new(reject)).router());
    }
    let app = with_common_layers(router, &services);

    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(worker_loop(services.clone(), stop_rx.clone()));
    // The outbox's relay: first what a crash left pending, then each commit's.
    let relay = tokio::spawn(outbox::run_loop(
        Arc::new(services.clone()),
        RELAY_EVERY,
        stop_rx.clone(),
    ));
    let schedules = tokio::spawn(schedule_loop(services.clone(), stop_rx));

    // Serving starts at once; the banner follows. Its development token takes an
    // RSA signature (tens of milliseconds, mostly reading the key), which no
    // request should wait for.
    let keys = files.keys.clone();
    let dir = files.dir.clone();
    tokio::task::spawn_blocking(move || {
        match mint_dev_token(&keys, "local-developer", &scopes::ALL, 86_400) {
            Ok(token) => print_banner(&base, &dir, simulate, &token),
            Err(e) => tracing::error!(error = %e, "no development token"),
        }
    });

    // Ctrl-C or SIGTERM (what `kill`, systemd and container runtimes send) stop
    // the server cleanly: requests in flight finish and the store closes, so the
    // next start has no journal to recover. Live streams never end by themselves,
    // so connections still open after a grace period are dropped.
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        stop_signal().await;
        tracing::info!("shutting down");
        let _ = stopping_tx.send(());
    };
    let grace = async move {
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    // The peer address names a client without a token for the rate limit.
    let serving = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown);
    let served = tokio::select! {
        served = serving => served,
        () = grace => {
            tracing::warn!("connections still open after the grace period are closed");
            Ok(())
        }
    };
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let _ = relay.await;
    let _ = schedules.await;
    served.map_err(|e| format!("server error: {e}"))
}

/// Threads for blocking work: the store's reads (four at a time), syntheses,
/// the banner's token. Tokio's default of 512 let a burst of finished
/// workflows start a thread each, and each thread's allocator heap kept what it
/// had used: 25-60 MB more under webhook load (docs/performance.md, Tuning).
const BLOCKING_THREADS: usize = 6;

/// How often the outbox's relay looks for pending items without being woken
/// (an item whose relay failed is tried again so).
const RELAY_EVERY: Duration = Duration::from_secs(1);

/// How long a stopping server waits for open connections (live streams).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Ctrl-C, or SIGTERM where there is one.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Polls the queue and runs jobs concurrently; a failed job becomes visible
/// again after its visibility timeout and is retried.
async fn worker_loop(services: Services, mut stop: watch::Receiver<bool>) {
    const IDLE: Duration = Duration::from_millis(100);
    loop {
        if *stop.borrow() {
            return;
        }
        let pause = match services.queue.receive(16, jobs::VISIBILITY).await {
            Ok(received) if !received.is_empty() => {
                for job in received {
                    let services = services.clone();
                    tokio::spawn(async move { jobs::process(&services, &job).await });
                }
                Duration::ZERO
            }
            Ok(_) => IDLE,
            Err(e) => {
                tracing::error!(error = %e, "queue receive failed");
                Duration::from_secs(1)
            }
        };
        if !pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// The EventBridge schedules, in-process: a tick every 30 s (the spec's fastest
/// alert rules; each rule decides whether it is due) evaluates the alert rules
/// and repairs stalled deliveries; the health checks run every minute, or every
/// 30 s while the report is degraded, as it advises. `OSA_SCHEDULE_SECS` sets
/// one fixed period for all of it.
async fn schedule_loop(services: Services, mut stop: watch::Receiver<bool>) {
    let fixed = std::env::var("OSA_SCHEDULE_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0);
    let tick = Duration::from_secs(fixed.unwrap_or(alerts::HALF_MINUTE.as_secs()));
    let mut next_health = tokio::time::Instant::now();
    loop {
        let now = tokio::time::Instant::now();
        if now >= next_health {
            let mut period = fixed.unwrap_or(60);
            match health::run_checks(&services).await {
                Ok(report) => period = fixed.unwrap_or(report.next_check_in_seconds.max(1)),
                Err(e) => tracing::error!(error = %e, "scheduled health check failed"),
            }
            // From the check's start: the ticks after it come no sooner.
            next_health = now + Duration::from_secs(period);
        }
        if let Err(e) = alerts::evaluate(&services).await {
            tracing::error!(error = %e, "scheduled alert evaluation failed");
        }
        if let Err(e) = delivery::repair_stalled(&services).await {
            tracing::error!(error = %e, "stalled deliveries not repaired");
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.changed() => return,
        }
    }
}

pub const SAMPLE_INTAKE: &str = r#"{"business_context":{"company_name":"Acme Outdoor","industry":"retail","goals":["Grow repeat purchases","Lift mobile conversion"],"target_audience":"Outdoor enthusiasts aged 25-45 in North America"},"optimizely_config":{"project_id":"123456","workspace_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7"},"analysis_preferences":{"analysis_depth":"standard","focus_areas":["content","experimentation"],"timeline":"90d"}}"#;

fn print_banner(base: &str, dir: &Path, simulate: bool, token: &str) {
    let opal = if simulate {
        "built-in simulator"
    } else {
        "external"
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "OSA listening on {base}");
    let _ = writeln!(out, "  data dir: {}   OPAL: {opal}", dir.display());
    let _ = writeln!(out);
    // The token rides in the fragment, which a browser never sends to a server;
    // the page moves it into session storage and clears the address.
    let _ = writeln!(
        out,
        "  Open the dashboard (signs in with the development token):"
    );
    let _ = writeln!(out, "    {base}/#token={token}");
    let _ = writeln!(out);
    let _ = writeln!(out, "  A development token (all scopes, 24 h):");
    let _ = writeln!(out, "    export OSA_TOKEN={token}");
    let _ = writeln!(out);
    let _ = writeln!(out, "  Submit an intake:");
    let _ = writeln!(
        out,
        "    curl -s -X POST {base}/api/strategy/intake -H \"Authorization: Bearer $OSA_TOKEN\" -H 'Content-Type: application/json' -d '{SAMPLE_INTAKE}'"
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  Then follow it (use the workflow_id from the reply):"
    );
    let _ = writeln!(
        out,
        "    curl -s -H \"Authorization: Bearer $OSA_TOKEN\" {base}/api/strategy/workflows/<workflow_id>"
    );
    let _ = writeln!(
        out,
        "    curl -s -H \"Authorization: Bearer $OSA_TOKEN\" {base}/api/admin/osa/recent-status"
    );
    let _ = out.flush();
}
