//! Optimizely credentials: the four services an intake may give keys for, what
//! checking a key can say, and what a set of checks means for the workflow. A
//! service that refuses a key (401/403) pauses the workflow as
//! `credentials_invalid`; anything else (5xx, timeout, open circuit, rate limit)
//! says nothing about the key and never blocks it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::workflow::{CredentialsPause, RefusedService};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizelyService {
    Odp,
    Experimentation,
    ContentRecs,
    Cmp,
}

impl OptimizelyService {
    pub const ALL: [OptimizelyService; 4] = [
        OptimizelyService::Odp,
        OptimizelyService::Experimentation,
        OptimizelyService::ContentRecs,
        OptimizelyService::Cmp,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            OptimizelyService::Odp => "odp",
            OptimizelyService::Experimentation => "experimentation",
            OptimizelyService::ContentRecs => "content_recs",
            OptimizelyService::Cmp => "cmp",
        }
    }

    /// The service's position in [`Self::ALL`].
    pub const fn index(self) -> usize {
        match self {
            OptimizelyService::Odp => 0,
            OptimizelyService::Experimentation => 1,
            OptimizelyService::ContentRecs => 2,
            OptimizelyService::Cmp => 3,
        }
    }
}

impl fmt::Display for OptimizelyService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Optimizely service {0:?}")]
pub struct UnknownService(pub String);

impl FromStr for OptimizelyService {
    type Err = UnknownService;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OptimizelyService::ALL
            .into_iter()
            .find(|svc| svc.as_str() == s)
            .ok_or_else(|| UnknownService(s.to_owned()))
    }
}

/// What checking one key said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    Accepted,
    /// 401 or 403: the key is at fault.
    Refused {
        status: u16,
    },
    /// The service could not say (5xx, timeout, circuit open, rate limited,
    /// another 4xx, no answer within the budget). Never carries a key.
    Inconclusive(String),
}

/// What checking a set of keys found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Services that answered 401 or 403.
    pub refused: Vec<RefusedService>,
    /// Services that could not say: logged, never a reason to pause.
    pub inconclusive: Vec<OptimizelyService>,
    /// Services whose key was checked (those given a key).
    pub checked: usize,
}

impl Verification {
    pub fn of(checks: impl IntoIterator<Item = (OptimizelyService, CheckOutcome)>) -> Self {
        let mut found = Verification::default();
        for (service, outcome) in checks {
            found.checked += 1;
            match outcome {
                CheckOutcome::Accepted => {}
                CheckOutcome::Refused { status } => found.refused.push(RefusedService {
                    service: service.as_str().to_owned(),
                    status,
                }),
                CheckOutcome::Inconclusive(_) => found.inconclusive.push(service),
            }
        }
        found
    }

    pub fn is_refused(&self) -> bool {
        !self.refused.is_empty()
    }
}

/// The pause recorded on a workflow whose keys were refused at `now`.
pub fn pause(refused: Vec<RefusedService>, now: OffsetDateTime) -> CredentialsPause {
    CredentialsPause {
        refused,
        paused_at: now,
        last_checked_at: None,
        resumed_at: None,
    }
}

/// `odp, cmp`: for logs and messages.
pub fn names(refused: &[RefusedService]) -> String {
    refused
        .iter()
        .map(|r| r.service.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_the_same_services() {
        let names: Vec<&str> = OptimizelyService::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, super::super::event::OPTIMIZELY_SERVICES);
    }
}
