//! What the tests that run the `osa` binary share.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

/// A running `osa serve`, killed on drop (its data dir removed).
pub struct Osa {
    pub child: Child,
    pub base: String,
    pub token: String,
    pub data_dir: PathBuf,
    pub http: reqwest::Client,
}

impl Drop for Osa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// The URL a started `osa serve` prints (`OSA listening on <url>`), read from its
/// piped stdout; the rest of its output is drained so the server never blocks.
pub fn listening_url(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("OSA listening on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("osa prints its address")
}
