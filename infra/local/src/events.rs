//! `osa events render`: writes the Lambda event files of `events/` with their
//! placeholders filled (a fresh dev token, fresh signatures), ready for
//! `sam local invoke -e`, `cargo lambda invoke --data-file` or `osa invoke`.
//!
//! The token is signed with the data dir's dev key and the signatures with its
//! webhook secret, as `osa invoke` fills them; a signature is good for five
//! minutes, so render right before invoking.

use std::path::{Path, PathBuf};

use crate::invoke::substitute;
use crate::local::LocalFiles;

#[derive(clap::Subcommand)]
pub enum EventsCommand {
    /// Write every event file with `{{dev_token}}` and `{{signature}}` filled in.
    Render {
        /// Where the rendered files go (the same relative paths as under --events).
        #[arg(long)]
        out: PathBuf,
        /// The event files to render.
        #[arg(long, default_value = "events")]
        events: PathBuf,
    },
}

pub fn run(command: EventsCommand, data_dir: &Path) -> Result<(), String> {
    match command {
        EventsCommand::Render { out, events } => {
            let files = LocalFiles::open(data_dir)?;
            let rendered = render(&events, &out, &files)?;
            crate::print_out(&format!(
                "rendered {rendered} event files from {} into {}",
                events.display(),
                out.display()
            ))
        }
    }
}

/// Files under `events/` that are not Lambda events: the expected answers, the
/// SAM-local environment, and request bodies.
const NOT_EVENTS: [&str; 3] = ["manifest.json", "env.local.json", "samples"];

/// Renders every `.json` event file under `events` into `out`.
fn render(events: &Path, out: &Path, files: &LocalFiles) -> Result<usize, String> {
    let mut sources = Vec::new();
    event_files(events, Path::new(""), &mut sources)?;
    if sources.is_empty() {
        return Err(format!("no event files under {}", events.display()));
    }
    for relative in &sources {
        let source = events.join(relative);
        let text = std::fs::read_to_string(&source)
            .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        let filled = substitute(&text, files).map_err(|e| format!("{}: {e}", source.display()))?;
        let target = out.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, filled)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    Ok(sources.len())
}

fn event_files(root: &Path, relative: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let dir = root.join(relative);
    let entries =
        std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let path = relative.join(entry.file_name());
        let is_dir = entry
            .file_type()
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .is_dir();
        if NOT_EVENTS.iter().any(|skip| path == Path::new(skip)) {
            continue;
        }
        if is_dir {
            event_files(root, &path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
    Ok(())
}
