//! Who may call what: the scopes OSA checks per route, the verified caller, and
//! why a request was refused.

use std::collections::HashSet;

/// Scopes OSA checks per route.
pub mod scopes {
    pub const INTAKE: &str = "osa:intake";
    pub const READ: &str = "osa:read";
    pub const ADMIN: &str = "osa:admin";
    /// Scraping the metrics only (`GET /api/admin/prometheus`): what a
    /// Prometheus server holds, instead of an admin token.
    pub const METRICS: &str = "osa:metrics";
    pub const ALL: [&str; 4] = [INTAKE, READ, ADMIN, METRICS];
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("missing bearer token")]
    Missing,
    #[error("invalid bearer token: {0}")]
    Invalid(String),
    #[error("token lacks the required scope {0}")]
    InsufficientScope(&'static str),
    /// The keys to check the token with cannot be had right now (the identity
    /// provider does not answer): nothing is wrong with the request.
    #[error("tokens cannot be verified right now: {0}")]
    Unavailable(String),
    /// The verifier is set up wrong (say, a key that does not parse).
    #[error("authentication is misconfigured: {0}")]
    Config(String),
}

/// The verified caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub scopes: HashSet<String>,
}

impl Caller {
    /// A caller from a subject and OAuth 2's space-separated `scope` claim.
    pub fn new(subject: impl Into<String>, scope: &str) -> Caller {
        Caller {
            subject: subject.into(),
            scopes: scope.split_whitespace().map(str::to_owned).collect(),
        }
    }

    /// Passes when the caller holds `scope`, or holds `osa:admin`: an admin token
    /// may do everything the other scopes allow (the operator's break-glass
    /// token), while `osa:intake` and `osa:read` imply nothing beyond themselves.
    pub fn require(&self, scope: &'static str) -> Result<(), AccessError> {
        if self.scopes.contains(scope) || self.scopes.contains(scopes::ADMIN) {
            Ok(())
        } else {
            Err(AccessError::InsufficientScope(scope))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_scope_is_refused_and_only_admin_implies_the_others() {
        let none = Caller::new("dev", "");
        for scope in scopes::ALL {
            assert_eq!(
                none.require(scope),
                Err(AccessError::InsufficientScope(scope))
            );
        }
        let intake = Caller::new("dev", "osa:intake");
        assert!(intake.require(scopes::INTAKE).is_ok());
        assert_eq!(
            intake.require(scopes::READ),
            Err(AccessError::InsufficientScope(scopes::READ))
        );
        let read = Caller::new("dev", "osa:read");
        assert_eq!(
            read.require(scopes::INTAKE),
            Err(AccessError::InsufficientScope(scopes::INTAKE))
        );
        let metrics = Caller::new("prometheus", "osa:metrics");
        assert!(metrics.require(scopes::METRICS).is_ok());
        for scope in [scopes::READ, scopes::ADMIN, scopes::INTAKE] {
            assert_eq!(
                metrics.require(scope),
                Err(AccessError::InsufficientScope(scope))
            );
        }
        let admin = Caller::new("dev", "osa:admin");
        for scope in scopes::ALL {
            assert!(admin.require(scope).is_ok(), "{scope}");
        }
    }
}
