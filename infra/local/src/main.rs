//! `osa`: the local OSA runtime and operator CLI.
//!
//! `osa serve` runs every function on one port over an embedded store, with the
//! queue worker and a built-in OPAL simulator; `osa token` prints a dev bearer
//! token; `osa sign` prints the `X-OSA-Signature` for a body; `osa events render`
//! fills the placeholders of the Lambda event files.

mod allocator;
mod dlq;
mod events;
mod fanout;
mod invoke;
mod loadgen;
mod local;
mod simulator;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use osa_domain::AgentId;
use osa_domain::access::scopes;
use osa_domain::signature::sign;

#[derive(Parser)]
#[command(
    name = "osa",
    version,
    about = "OSA strategy-workflow backend: local runtime and operator CLI"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the whole system on 127.0.0.1 over an embedded store.
    Serve(Box<ServeArgs>),
    /// Print a development bearer token signed with the data dir's dev key.
    Token(TokenArgs),
    /// Print the X-OSA-Signature header value for a body (file or stdin).
    Sign(SignArgs),
    /// Run one function's handler on a Lambda event file (like `sam local invoke -e`).
    Invoke(InvokeArgs),
    /// Prepare a webhook load test against a running server (see infra/load.sh).
    Loadgen(LoadgenArgs),
    /// Time the live stream's fan-out to many subscribers of one workflow.
    Fanout(FanoutArgs),
    /// The dead-letter queue of outbound deliveries: list, show ID, redrive ID|--all.
    Dlq(DlqArgs),
    /// The Lambda event files of events/: render them ready to invoke.
    Events(EventsArgs),
    /// Print the API's OpenAPI 3.1 document (what docs/openapi.json holds).
    Openapi,
}

#[derive(Args)]
struct EventsArgs {
    /// Whose dev key and webhook secret sign (before or after the subcommand).
    #[arg(long, env = "OSA_DATA_DIR", default_value = ".osa", global = true)]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: events::EventsCommand,
}

#[derive(Args)]
struct LoadgenArgs {
    /// The running server, e.g. http://127.0.0.1:3000.
    #[arg(long)]
    url: String,
    /// The server's data dir (its dev key and webhook secret sign the requests).
    #[command(flatten)]
    data: DataDir,
    #[arg(long, default_value_t = 100)]
    workflows: usize,
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Where the requests go, one `signature<TAB>body` a line.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct FanoutArgs {
    /// The running server, e.g. http://127.0.0.1:3000.
    #[arg(long)]
    url: String,
    /// The server's data dir (its dev key and webhook secret sign the requests).
    #[command(flatten)]
    data: DataDir,
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// The server's process id, to read its memory.
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Args)]
struct DlqArgs {
    /// Where the database lives (before or after the subcommand).
    #[arg(long, env = "OSA_DATA_DIR", default_value = ".osa", global = true)]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: dlq::DlqCommand,
}

#[derive(Args)]
struct InvokeArgs {
    /// The function to run.
    #[arg(value_enum)]
    function: invoke::Function,
    /// The event file (API Gateway HTTP API v2 or SQS batch JSON).
    #[arg(long)]
    event: PathBuf,
    #[command(flatten)]
    data: DataDir,
    /// Where the worker sends the OPAL trigger (by default nowhere that answers).
    #[arg(long, default_value = "http://127.0.0.1:9/opal-unreachable")]
    opal_url: String,
}

#[derive(Args, Clone)]
pub struct DataDir {
    /// Where the database, dev keys and webhook secret live.
    #[arg(long, env = "OSA_DATA_DIR", default_value = ".osa")]
    data_dir: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// The embedded SQLite store and queue in the data dir.
    Sqlite,
    /// DynamoDB, SQS and EventBridge at AWS_ENDPOINT_URL (or your AWS account).
    Aws,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, env = "OSA_PORT", default_value_t = 3000)]
    port: u16,
    /// Where state lives.
    #[arg(long, env = "OSA_BACKEND", value_enum, default_value_t = BackendKind::Sqlite)]
    backend: BackendKind,
    /// With --backend aws: the DynamoDB table (created if missing).
    #[arg(long, env = "OSA_TABLE_NAME", default_value = "osa-local")]
    table: String,
    /// With --backend aws: the SQS job queue name (created with its `-dlq` if missing).
    #[arg(long, env = "OSA_QUEUE_NAME", default_value = "osa-local-jobs")]
    queue: String,
    /// With --backend aws: the EventBridge bus domain events go to.
    #[arg(long, env = "OSA_EVENT_BUS_NAME", default_value = "default")]
    event_bus: String,
    #[command(flatten)]
    data: DataDir,
    /// Do not run the built-in OPAL simulator (then give --opal-url).
    #[arg(long)]
    no_simulator: bool,
    /// Where to POST the OPAL trigger. Defaults to the built-in simulator.
    #[arg(long, env = "OPAL_TRIGGER_URL")]
    opal_url: Option<String>,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long)]
    log_json: bool,
    /// Simulator: these agents report failure (comma-separated ids).
    #[arg(long, value_parser = simulator::parse_agent_list, default_value = "")]
    sim_fail: ::std::vec::Vec<AgentId>,
    /// Simulator: these agents fail on a workflow's first run only, so a Force
    /// Sync (the next run) repairs it (comma-separated ids).
    #[arg(long, value_parser = simulator::parse_agent_list, default_value = "")]
    sim_fail_first_run: ::std::vec::Vec<AgentId>,
    /// Simulator: these agents never report.
    #[arg(long, value_parser = simulator::parse_agent_list, default_value = "")]
    sim_silent: ::std::vec::Vec<AgentId>,
    /// Simulator: these agents sign with a wrong secret (OSA rejects them).
    #[arg(long, value_parser = simulator::parse_agent_list, default_value = "")]
    sim_bad_signature: ::std::vec::Vec<AgentId>,
    /// Simulator: send every event twice.
    #[arg(long)]
    sim_duplicates: bool,
    /// Simulator: send each agent's result before its start event.
    #[arg(long)]
    sim_out_of_order: bool,
    /// Simulator: these agents answer late, --sim-late-ms after their plan.
    #[arg(long, value_parser = simulator::parse_agent_list, default_value = "")]
    sim_late: ::std::vec::Vec<AgentId>,
    /// Simulator: how late the --sim-late agents are.
    #[arg(long, default_value_t = 20_000)]
    sim_late_ms: u64,
    /// Multiplies every deadline (agents' 60-360 s, the workflow's 30 min):
    /// 0.05 makes a 150 s agent deadline 7.5 s, for trying timeouts locally.
    #[arg(long, env = "OSA_DEADLINE_SCALE", default_value_t = 1.0)]
    deadline_scale: f64,
    /// Trigger a timed-out agent once more with a reduced scope.
    #[arg(long, env = "OSA_RETRIGGER_TIMED_OUT_AGENTS")]
    retrigger_timed_out: bool,
    /// Simulator: all agents finish within this many milliseconds.
    #[arg(long, default_value_t = 4000)]
    sim_spread_ms: u64,
    /// Simulator: Optimizely refuses (401) the first key each of these services
    /// sees, as an expired key; any other key is accepted, as refreshed ones are
    ///. Comma-separated odp, experimentation, content_recs, cmp;
    /// without a value, all four.
    #[arg(long, num_args = 0..=1, default_missing_value = "all", value_parser = simulator::optimizely::parse_service_list)]
    sim_reject_credentials: Option<simulator::optimizely::ServiceList>,
}

#[derive(Args)]
struct TokenArgs {
    #[command(flatten)]
    data: DataDir,
    /// Scopes to grant, exactly (comma-separated: osa:intake, osa:read, osa:admin,
    /// osa:metrics); default all four; '' for none.
    #[arg(long, value_delimiter = ',')]
    scope: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 86_400)]
    ttl_secs: i64,
    #[arg(long, default_value = "local-developer")]
    subject: String,
}

#[derive(Args)]
struct SignArgs {
    #[command(flatten)]
    data: DataDir,
    /// The body to sign; '-' or absent reads stdin.
    file: Option<PathBuf>,
    /// Sign with this secret instead of the data dir's.
    #[arg(long, env = "OSA_WEBHOOK_SECRET")]
    secret: Option<String>,
    /// Timestamp in unix milliseconds (default now).
    #[arg(long)]
    timestamp_ms: Option<i64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => local::serve(*args),
        Command::Token(args) => token(args),
        Command::Sign(args) => sign_body(args),
        Command::Openapi => openapi(),
        Command::Loadgen(args) => tokio::runtime::Runtime::new()
            .map_err(|e| e.to_string())
            .and_then(|rt| {
                rt.block_on(loadgen::generate(
                    args.url.trim_end_matches('/'),
                    &args.data.data_dir,
                    args.workflows,
                    args.requests,
                    &args.out,
                ))
            }),
        Command::Fanout(args) => tokio::runtime::Runtime::new()
            .map_err(|e| e.to_string())
            .and_then(|rt| {
                rt.block_on(fanout::run(
                    args.url.trim_end_matches('/'),
                    &args.data.data_dir,
                    args.subscribers,
                    args.server_pid,
                ))
            }),
        Command::Dlq(args) => dlq::run(args.command, &args.data_dir),
        Command::Events(args) => events::run(args.command, &args.data_dir),
        Command::Invoke(args) => invoke::invoke(
            args.function,
            &args.event,
            &args.data.data_dir,
            &args.opal_url,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("osa: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes one result to stdout. A reader that has gone (`osa token | head -c1`)
/// ends the output quietly rather than with a panic.
pub(crate) fn print_out(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("stdout: {e}")),
        _ => Ok(()),
    }
}

fn token(args: TokenArgs) -> Result<(), String> {
    let local = local::LocalFiles::open(&args.data.data_dir)?;
    let requested = requested_scopes(&args.scope)?;
    let token = local.mint_token(&args.subject, &requested, args.ttl_secs)?;
    print_out(&token)
}

/// Exactly the scopes asked for, in order, each once; all of them when none
/// were asked for, none for `--scope ''`. An unknown scope is an error, so a
/// typo cannot mint a token that fails later with a puzzling 403.
fn requested_scopes(asked: &[String]) -> Result<Vec<&'static str>, String> {
    if asked.is_empty() {
        return Ok(scopes::ALL.to_vec());
    }
    let mut granted = Vec::new();
    for name in asked.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let scope = scopes::ALL
            .into_iter()
            .find(|known| *known == name)
            .ok_or_else(|| {
                format!(
                    "unknown scope {name:?}; the scopes are {}",
                    scopes::ALL.join(", ")
                )
            })?;
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    Ok(granted)
}

fn openapi() -> Result<(), String> {
    serde_json::to_string_pretty(&osa_http::openapi::document())
        .map_err(|e| e.to_string())
        .and_then(|text| print_out(&text))
}

fn sign_body(args: SignArgs) -> Result<(), String> {
    let mut body = Vec::new();
    match &args.file {
        Some(path) if path.as_os_str() != "-" => {
            body =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        }
        _ => {
            std::io::stdin()
                .read_to_end(&mut body)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
        }
    }
    let secret = match args.secret {
        Some(s) => osa_domain::Secret::new(s),
        None => local::LocalFiles::open(&args.data.data_dir)?.webhook_secret,
    };
    let now = args.timestamp_ms.unwrap_or_else(|| {
        (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
    });
    print_out(&sign(&[secret], now, &body))
}
