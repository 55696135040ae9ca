//! Read models: one workflow in full, and the lightweight recent-status summary.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::listing::{Limit, ListError};
use crate::ports::{AgentResult, Marker, StoreError, WorkflowPosition, WorkflowQuery};
use osa_domain::audit::BadPageToken;
use osa_domain::report::{Report, build_report, to_markdown};
use osa_domain::workflow::{AgentState, Progress, Workflow, WorkflowStatus};

use super::Services;

/// A workflow older than this without finishing counts as failed in recent-status.
pub const STALE_AFTER: time::Duration = time::Duration::minutes(30);

/// A workflow in full: status, agents, timings and the results in so far.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "Workflow")]
pub struct WorkflowView {
    pub workflow_id: String,
    pub correlation_id: String,
    pub status: WorkflowStatus,
    /// The current run: 0 for the first; each Force Sync OPAL accepts starts
    /// the next. Each agent and result says its own.
    pub run: u32,
    #[schemars(range(max = 100))]
    pub progress_percent: u8,
    pub progress: Progress,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "osa_domain::schema::Timestamp")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "osa_domain::schema::Timestamp")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<osa_domain::schema::Timestamp>")]
    pub finished_at: Option<OffsetDateTime>,
    /// Mean confidence (0..=1) over the agents that reported one.
    pub confidence: Option<f64>,
    pub estimated_completion_minutes: u32,
    pub trigger: osa_domain::workflow::TriggerState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_sync: Option<osa_domain::workflow::ForceSync>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retriggered_agents: Vec<osa_domain::AgentId>,
    /// The credentials pause, while paused and after a resume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_pause: Option<osa_domain::workflow::CredentialsPause>,
    pub business_context: osa_domain::intake::BusinessContext,
    pub optimizely: osa_domain::intake::OptimizelyProject,
    pub analysis_preferences: osa_domain::intake::AnalysisPreferences,
    pub agents: Vec<AgentState>,
    pub results: Vec<AgentResult>,
}

impl WorkflowView {
    pub(crate) fn new(w: Workflow, agents: Vec<AgentState>, results: Vec<AgentResult>) -> Self {
        let confidences: Vec<f64> = agents.iter().filter_map(|a| a.confidence).collect();
        let confidence = (!confidences.is_empty())
            .then(|| confidences.iter().sum::<f64>() / confidences.len() as f64);
        WorkflowView {
            progress: Progress::of(&agents),
            workflow_id: w.id().to_owned(),
            correlation_id: w.correlation_id().to_owned(),
            status: w.status(),
            run: w.run(),
            progress_percent: w.progress_percent(),
            created_at: w.created_at(),
            updated_at: w.updated_at(),
            finished_at: w.finished_at(),
            confidence,
            estimated_completion_minutes: w.estimated_completion_minutes(),
            trigger: w.trigger().clone(),
            force_sync: w.force_sync().cloned(),
            retriggered_agents: w.retriggered_agents().to_vec(),
            credentials_pause: w.credentials_pause().cloned(),
            business_context: w.business_context().clone(),
            optimizely: w.optimizely().clone(),
            analysis_preferences: w.analysis_preferences().clone(),
            agents,
            results,
        }
    }
}

/// `GET /api/strategy/workflows`: which workflows, newest first.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct WorkflowsQuery {
    /// Only workflows in this status.
    pub status: Option<WorkflowStatus>,
    /// Only workflows created at or after this time (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub since: Option<String>,
    #[serde(default)]
    pub limit: Limit<50, 200>,
    /// The `next` of the page before.
    pub cursor: Option<String>,
}

/// One workflow in a listing: enough to pick it out and follow it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WorkflowSummary {
    pub workflow_id: String,
    pub status: WorkflowStatus,
    /// The current run: 0 for the first; each accepted Force Sync starts the next.
    pub run: u32,
    #[schemars(range(max = 100))]
    pub progress_percent: u8,
    pub company_name: String,
    pub industry: osa_domain::intake::Industry,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "osa_domain::schema::Timestamp")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "osa_domain::schema::Timestamp")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<osa_domain::schema::Timestamp>")]
    pub finished_at: Option<OffsetDateTime>,
}

impl WorkflowSummary {
    fn of(w: &Workflow) -> WorkflowSummary {
        WorkflowSummary {
            workflow_id: w.id().to_owned(),
            status: w.status(),
            run: w.run(),
            progress_percent: w.progress_percent(),
            company_name: w.business_context().company_name.clone(),
            industry: w.business_context().industry,
            created_at: w.created_at(),
            updated_at: w.updated_at(),
            finished_at: w.finished_at(),
        }
    }
}

/// A page of workflows, newest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WorkflowsPage {
    pub workflows: Vec<WorkflowSummary>,
    /// Pass as `cursor` for the next page; null on the last. With a `status`
    /// filter a page may hold fewer than `limit` and still have a next.
    pub next: Option<String>,
}

/// Workflows newest first, filtered and a page at a time, from the stores'
/// creation-order index (never a scan).
pub async fn list(services: &Services, query: &WorkflowsQuery) -> Result<WorkflowsPage, ListError> {
    let after = query.cursor.as_deref().map(position_of).transpose()?;
    let since = query
        .since
        .as_deref()
        .map(|t| OffsetDateTime::parse(t, &Rfc3339))
        .transpose()
        .map_err(|_| ListError::InvalidQuery("since must be an RFC 3339 time".into()))?;
    let page = services
        .store
        .list_workflows(&WorkflowQuery {
            status: query.status,
            since,
            after,
            limit: query.limit.get(),
        })
        .await?;
    Ok(WorkflowsPage {
        workflows: page.workflows.iter().map(WorkflowSummary::of).collect(),
        next: page.next.as_ref().map(token_of),
    })
}

/// A listing's position as an opaque token: `<creation ms>#<id>`, base64url.
fn token_of(p: &WorkflowPosition) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}#{}", p.created_at_ms, p.id))
}

fn position_of(token: &str) -> Result<WorkflowPosition, BadPageToken> {
    // A token holds at most 20 digits, `#` and a 128-character id (4 bytes each).
    if token.len() > 1000 {
        return Err(BadPageToken);
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| BadPageToken)?;
    let text = String::from_utf8(bytes).map_err(|_| BadPageToken)?;
    let (ms, id) = text.split_once('#').ok_or(BadPageToken)?;
    let created_at_ms = ms.parse().map_err(|_| BadPageToken)?;
    if !osa_domain::WorkflowId::is_valid(id) {
        return Err(BadPageToken);
    }
    Ok(WorkflowPosition {
        created_at_ms,
        id: id.to_owned(),
    })
}

/// Status, per-agent state, timings, confidence and the results in so far.
pub async fn workflow(services: &Services, id: &str) -> Result<Option<WorkflowView>, StoreError> {
    let (workflow, agents, results) = tokio::try_join!(
        services.store.get_workflow(id),
        services.store.get_agents(id),
        services.store.get_results(id),
    )?;
    Ok(workflow.map(|w| WorkflowView::new(w, agents, results)))
}

/// The strategy synthesised from a workflow's results so far (final once the
/// workflow has finished).
pub async fn report(services: &Services, id: &str) -> Result<Option<Report>, StoreError> {
    Ok(workflow_and_report(services, id).await?.map(|(_, r)| r))
}

/// `?format=json` (the default) or `markdown`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ReportQuery {
    #[serde(default)]
    pub format: ReportFormat,
}

/// `json` (the default) or `markdown` (`md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(extend("enum" = ["json", "markdown", "md"], "default" = "json"))]
pub enum ReportFormat {
    #[default]
    Json,
    #[serde(alias = "md")]
    Markdown,
}

/// A report in the format asked for.
pub enum FormattedReport {
    Json(Box<Report>),
    Markdown(String),
}

/// The report as `?format=` asks: JSON, or Markdown for export.
pub async fn report_in(
    services: &Services,
    id: &str,
    query: &ReportQuery,
) -> Result<Option<FormattedReport>, StoreError> {
    let Some(report) = report(services, id).await? else {
        return Ok(None);
    };
    Ok(Some(match query.format {
        ReportFormat::Json => FormattedReport::Json(Box::new(report)),
        ReportFormat::Markdown => FormattedReport::Markdown(to_markdown(&report)),
    }))
}

/// The workflow and its report, from one concurrent set of reads.
pub async fn workflow_and_report(
    services: &Services,
    id: &str,
) -> Result<Option<(Workflow, Report)>, StoreError> {
    let (workflow, agents, results) = tokio::try_join!(
        services.store.get_workflow(id),
        services.store.get_agents(id),
        services.store.get_results(id),
    )?;
    let Some(workflow) = workflow else {
        return Ok(None);
    };
    // Synthesis reads every result (milliseconds of CPU for nine 15 KB
    // outputs): off the async workers, so requests in flight keep moving.
    let now = services.clock.now();
    tokio::task::spawn_blocking(move || {
        let report = build_report(&workflow, &agents, &results, now);
        (workflow, report)
    })
    .await
    .map(Some)
    .map_err(|e| StoreError::Unavailable(format!("synthesis failed: {e}")))
}

#[derive(Debug, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecentStatus {
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<osa_domain::schema::Timestamp>")]
    pub last_webhook_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<osa_domain::schema::Timestamp>")]
    pub last_agent_data_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<osa_domain::schema::Timestamp>")]
    pub last_force_sync_at: Option<OffsetDateTime>,
    /// `idle`, `running`, `completed` or `failed`, as the original dashboard expects.
    #[schemars(extend("enum" = ["idle", "running", "completed", "failed"]))]
    pub last_workflow_status: &'static str,
    pub last_workflow_id: Option<String>,
}

/// The four reads run concurrently.
pub async fn recent(services: &Services) -> Result<RecentStatus, StoreError> {
    let store = &services.store;
    let (webhook, agent_data, force_sync, latest) = tokio::try_join!(
        store.marker(Marker::LastWebhook),
        store.marker(Marker::LastAgentData),
        store.marker(Marker::LastForceSync),
        store.recent_workflows(1),
    )?;
    let latest = latest.into_iter().next();
    Ok(RecentStatus {
        last_webhook_at: webhook,
        last_agent_data_at: agent_data,
        last_force_sync_at: force_sync,
        last_workflow_status: latest
            .as_ref()
            .map_or("idle", |w| dashboard_status(w, services.clock.now())),
        last_workflow_id: latest.map(|w| w.id().to_owned()),
    })
}

fn dashboard_status(w: &Workflow, now: OffsetDateTime) -> &'static str {
    match w.status() {
        WorkflowStatus::Completed | WorkflowStatus::Partial => "completed",
        WorkflowStatus::Failed | WorkflowStatus::TimedOut => "failed",
        // Paused, waiting for refreshed credentials: nothing is running, and it
        // cannot finish on its own, so the dashboard shows it as needing action.
        WorkflowStatus::CredentialsInvalid => "failed",
        WorkflowStatus::Pending | WorkflowStatus::Running if now - w.created_at() > STALE_AFTER => {
            "failed"
        }
        WorkflowStatus::Pending | WorkflowStatus::Running => "running",
    }
}
