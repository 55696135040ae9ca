//! The workflow id as the API takes it, checked once: in a path, a query, a
//! webhook's body or a Force Sync's context.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::schema;

/// A workflow's id: 1 to [`WorkflowId::MAX_LEN`] characters, not blank. OSA
/// issues UUIDs; the rule only bounds what a caller may name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkflowId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be a non-blank string of at most {} characters",
    WorkflowId::MAX_LEN
)]
pub struct InvalidWorkflowId;

impl WorkflowId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(id: impl Into<String>) -> Result<WorkflowId, InvalidWorkflowId> {
        let id = id.into();
        if id.trim().is_empty() || id.chars().count() > Self::MAX_LEN {
            return Err(InvalidWorkflowId);
        }
        Ok(WorkflowId(id))
    }

    /// Whether `id` keeps the rule, for a field validated with others.
    pub fn is_valid(id: &str) -> bool {
        !id.trim().is_empty() && id.chars().count() <= Self::MAX_LEN
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl TryFrom<String> for WorkflowId {
    type Error = InvalidWorkflowId;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        WorkflowId::parse(id)
    }
}

impl From<WorkflowId> for String {
    fn from(id: WorkflowId) -> String {
        id.0
    }
}

impl AsRef<str> for WorkflowId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsonSchema for WorkflowId {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "WorkflowId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema::text(1, Self::MAX_LEN as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_to_128_characters_not_blank() {
        assert!(WorkflowId::parse("wf-1").is_ok());
        assert!(
            WorkflowId::parse("é".repeat(128)).is_ok(),
            "characters, not bytes"
        );
        for bad in [String::new(), " \t".into(), "x".repeat(129)] {
            assert_eq!(WorkflowId::parse(bad), Err(InvalidWorkflowId));
        }
    }

    #[test]
    fn it_reads_and_writes_as_a_string() {
        let id: WorkflowId = serde_json::from_str("\"wf-1\"").expect("valid");
        assert_eq!(serde_json::to_string(&id).expect("serialises"), "\"wf-1\"");
        assert!(serde_json::from_str::<WorkflowId>("\"\"").is_err());
    }
}
