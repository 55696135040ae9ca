//! Reading a workflow. Its fields are written only by the domain's
//! transitions, so every other crate reads them here.

use time::OffsetDateTime;

use super::{
    AnalysisPreferences, BusinessContext, CredentialsPause, ForceSync, OptimizelyProject,
    TriggerState, Workflow, WorkflowStatus,
};
use crate::AgentId;
use crate::history::Change;

impl Workflow {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    pub fn status(&self) -> WorkflowStatus {
        self.status
    }

    pub fn progress_percent(&self) -> u8 {
        self.progress_percent
    }

    pub fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }

    pub fn updated_at(&self) -> OffsetDateTime {
        self.updated_at
    }

    pub fn finished_at(&self) -> Option<OffsetDateTime> {
        self.finished_at
    }

    pub fn business_context(&self) -> &BusinessContext {
        &self.business_context
    }

    pub fn optimizely(&self) -> &OptimizelyProject {
        &self.optimizely
    }

    pub fn analysis_preferences(&self) -> &AnalysisPreferences {
        &self.analysis_preferences
    }

    /// Where the signed result-ready notification goes (`domain::notification`).
    pub fn notify_url(&self) -> Option<&str> {
        self.notify_url.as_deref()
    }

    /// Hash of the intake that created it, for idempotent resubmission.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn estimated_completion_minutes(&self) -> u32 {
        self.estimated_completion_minutes
    }

    pub fn trigger(&self) -> &TriggerState {
        &self.trigger
    }

    /// Agents triggered again, once each, after they timed out.
    pub fn retriggered_agents(&self) -> &[AgentId] {
        &self.retriggered_agents
    }

    /// The latest Force Sync of this workflow.
    pub fn force_sync(&self) -> Option<&ForceSync> {
        self.force_sync.as_ref()
    }

    /// The current run: 0 for the first.
    pub fn run(&self) -> u32 {
        self.run
    }

    /// The Force Sync that started the current run.
    pub fn run_sync_id(&self) -> Option<&str> {
        self.run_sync_id.as_deref()
    }

    /// The ids of the Force Syncs before the current one.
    pub fn past_sync_ids(&self) -> &[String] {
        &self.past_sync_ids
    }

    /// The latest credentials pause. Never holds a key.
    pub fn credentials_pause(&self) -> Option<&CredentialsPause> {
        self.credentials_pause.as_ref()
    }

    /// Every change so far, oldest first: what the live stream replays.
    pub fn history(&self) -> &[Change] {
        &self.history
    }

    /// Bumped on every write; adapters use it for optimistic concurrency.
    pub fn version(&self) -> u64 {
        self.version
    }
}
