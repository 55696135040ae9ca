//! `osa dlq`: the dead-letter queue of outbound deliveries in the data dir's
//! embedded store. `list`, `show ID` (with every attempt), `redrive ID`,
//! `redrive --all`. A redrive queues a fresh first attempt; a running `osa serve`
//! on the same data dir sends it.

use std::path::Path;

use osa_app::delivery::dead_letter;
use uuid::Uuid;

use crate::local::{LifecycleSettings, LocalFiles, embedded_services};

#[derive(clap::Subcommand)]
pub enum DlqCommand {
    /// The dead-lettered deliveries, most recent first (JSON).
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// One delivery with its payload, status and every attempt (JSON).
    Show { id: Uuid },
    /// Start a fresh run of attempts for a dead letter (or, with --all, for every one).
    Redrive {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<Uuid>,
        #[arg(long)]
        all: bool,
    },
}

pub fn run(command: DlqCommand, data_dir: &Path) -> Result<(), String> {
    let files = LocalFiles::open(data_dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        // Nothing is sent from here: the trigger URL is the serving process's business.
        let services = embedded_services(
            &files,
            "http://127.0.0.1:3000",
            "http://127.0.0.1:9/unused".to_owned(),
            LifecycleSettings::default(),
        )?;
        let output = match command {
            DlqCommand::List { limit } => {
                let dead = dead_letter::dead_letters(&services, limit.clamp(1, 1000))
                    .await
                    .map_err(|e| e.to_string())?;
                serde_json::json!({ "count": dead.len(), "deliveries": dead })
            }
            DlqCommand::Show { id } => {
                let view = dead_letter::show(&services, id)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no delivery {id}"))?;
                serde_json::to_value(view).map_err(|e| e.to_string())?
            }
            DlqCommand::Redrive { id: Some(id), .. } => {
                let d = dead_letter::redrive(&services, id)
                    .await
                    .map_err(|e| e.to_string())?;
                serde_json::json!({ "redriven": d.id, "run": d.redrives })
            }
            DlqCommand::Redrive { id: None, .. } => {
                let done = dead_letter::redrive_all(&services)
                    .await
                    .map_err(|e| e.to_string())?;
                serde_json::json!({
                    "redriven": done.redriven.len(),
                    "delivery_ids": done.redriven,
                    "skipped": done.skipped,
                })
            }
        };
        let text = serde_json::to_string_pretty(&output).map_err(|e| e.to_string())?;
        crate::print_out(&text)
    })
}
