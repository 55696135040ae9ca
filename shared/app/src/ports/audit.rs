//! The audit trails: every webhook attempt, accepted or refused, and every
//! admin action. Append-only; read a page at a time.

use async_trait::async_trait;

use super::StoreError;
use osa_domain::audit::{AdminAuditEntry, AuditEntry, Page, PagePosition};

#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends an audit entry for an attempt that never reached `record_event`.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// A page of a workflow's audit entries, oldest first, after `after`.
    async fn audit_page(
        &self,
        workflow_id: &str,
        after: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError>;

    /// A page of the audit entries that name no workflow (refused before the
    /// body was read, or unreadable), received on `day` (UTC), oldest first.
    async fn unattributed_audit_page(
        &self,
        day: time::Date,
        after: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError>;

    /// The first `limit` audit entries of a workflow, oldest first.
    async fn audit_for_workflow(
        &self,
        workflow_id: &str,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self.audit_page(workflow_id, None, limit).await?.items)
    }

    /// Appends to the admin audit trail (append-only).
    async fn append_admin_audit(&self, entry: &AdminAuditEntry) -> Result<(), StoreError>;

    /// A page of the admin audit trail, newest first, before `before`.
    async fn admin_audit_page(
        &self,
        before: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AdminAuditEntry>, StoreError>;

    /// The newest `limit` entries of the admin audit trail, newest first.
    async fn admin_audit(&self, limit: usize) -> Result<Vec<AdminAuditEntry>, StoreError> {
        Ok(self.admin_audit_page(None, limit).await?.items)
    }
}
