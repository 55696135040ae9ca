//! Monitoring read models over recent workflows: confidence statistics and
//! fallback counts (`/api/admin/monitoring/*`). Reads the newest workflows from
//! their index and each one's agents concurrently; never a scan.

use tokio::task::JoinSet;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::listing::Limit;
use crate::ports::StoreError;
use osa_domain::monitoring::{
    ConfidenceMetrics, FallbackStats, Run, confidence_metrics, fallback_stats,
};

use super::Services;

/// Workflows a window covers unless asked otherwise, and at most.
pub const DEFAULT_WINDOW: usize = 50;
pub const MAX_WINDOW: usize = 200;
/// `?limit=`: how many of the newest workflows the figures cover.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct WindowQuery {
    #[serde(default)]
    pub limit: Limit<DEFAULT_WINDOW, MAX_WINDOW>,
}

/// Agent reads in flight at once.
const CONCURRENT_READS: usize = 16;

/// The newest `limit` workflows with their agents, newest first.
pub async fn recent_runs(services: &Services, limit: usize) -> Result<Vec<Run>, StoreError> {
    let workflows = services.store.recent_workflows(limit).await?;
    let mut agents = vec![None; workflows.len()];
    let mut reads = JoinSet::new();
    let mut next = 0;
    loop {
        while next < workflows.len() && reads.len() < CONCURRENT_READS {
            let store = services.store.clone();
            let id = workflows[next].id().to_owned();
            let index = next;
            reads.spawn(async move { (index, store.get_agents(&id).await) });
            next += 1;
        }
        let Some(done) = reads.join_next().await else {
            break;
        };
        let (index, read) =
            done.map_err(|e| StoreError::Unavailable(format!("agent read task: {e}")))?;
        if let Some(slot) = agents.get_mut(index) {
            *slot = Some(read?);
        }
    }
    Ok(workflows
        .into_iter()
        .zip(agents)
        .map(|(workflow, agents)| Run {
            workflow,
            agents: agents.unwrap_or_default(),
        })
        .collect())
}

pub async fn confidence(
    services: &Services,
    limit: usize,
) -> Result<ConfidenceMetrics, StoreError> {
    let runs = recent_runs(services, limit).await?;
    Ok(confidence_metrics(&runs, limit))
}

pub async fn fallbacks(services: &Services, limit: usize) -> Result<FallbackStats, StoreError> {
    let runs = recent_runs(services, limit).await?;
    Ok(fallback_stats(&runs, limit))
}
