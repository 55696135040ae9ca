//! How both stores write things down, so the embedded and the AWS store agree to
//! the byte: items as JSON documents, instants as Unix milliseconds, the names of
//! the markers, and the catalogue order of agents.

use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::ports::{Marker, StoreError};
use osa_domain::AgentId;

/// An item as the JSON document the stores keep.
pub fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("encoding: {e}")))
}

/// A stored document back; `what` names it in the error.
pub fn decode<T: DeserializeOwned>(what: &str, doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub fn to_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub fn from_ms(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {ms}: {e}")))
}

pub fn marker_name(marker: Marker) -> &'static str {
    match marker {
        Marker::LastWebhook => "last_webhook",
        Marker::LastAgentData => "last_agent_data",
        Marker::LastForceSync => "last_force_sync",
    }
}

/// Where an agent stands in the catalogue: lists of agents come back in this order.
pub fn catalogue_position(agent: AgentId) -> usize {
    AgentId::ALL
        .iter()
        .position(|a| *a == agent)
        .unwrap_or(usize::MAX)
}
