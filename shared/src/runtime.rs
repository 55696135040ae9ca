//! Wiring for the Lambda entry points: configuration and adapters from the
//! environment, built once per instance.

use std::path::PathBuf;
use std::sync::Arc;

use crate::adapters::log_bus::LogBus;
use crate::adapters::outbound::ReqwestClient;
use crate::adapters::sqlite::SqliteStore;
use crate::app::Services;
use crate::config::{Config, ConfigError, verifier_from_env};
use crate::ports::{Clock, OutboundError, StoreError, SystemClock};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Http(#[from] OutboundError),
    #[error("could not create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
}

/// Builds the services a function needs. The backend is the embedded store in
/// `OSA_DATA_DIR` (default `/tmp/osa`).
pub fn services_from_env() -> Result<Services, StartupError> {
    let config = Config::from_env()?;
    let auth = verifier_from_env()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let data_dir =
        PathBuf::from(std::env::var("OSA_DATA_DIR").unwrap_or_else(|_| "/tmp/osa".into()));
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| StartupError::DataDir(data_dir.display().to_string(), e))?;
    let store = Arc::new(SqliteStore::open(&data_dir.join("osa.db"), clock.clone())?);
    Ok(Services {
        store: store.clone(),
        queue: store,
        events: Arc::new(LogBus::default()),
        clock,
        http: Arc::new(ReqwestClient::new()?),
        auth: Arc::new(auth),
        config: Arc::new(config),
    })
}
