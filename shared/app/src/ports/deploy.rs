//! Deployments: what a CodeDeploy lifecycle hook needs (the pre-traffic check of
//! `app::deploy`): invoke one version of a function, and tell CodeDeploy how its
//! hook went.

use async_trait::async_trait;
use bytes::Bytes;

/// One hook run of a CodeDeploy deployment, as its lifecycle event names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookExecution {
    pub deployment_id: String,
    pub execution_id: String,
}

/// What a hook tells CodeDeploy: go on shifting traffic, or roll back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookStatus {
    Succeeded,
    Failed,
}

impl HookStatus {
    /// CodeDeploy's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::Succeeded => "Succeeded",
            HookStatus::Failed => "Failed",
        }
    }
}

/// A function version's answer to one synchronous invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoked {
    /// Lambda's `X-Amz-Function-Error` (`Unhandled`: it failed to start or panicked).
    pub function_error: Option<String>,
    pub payload: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    #[error("deployment service unavailable: {0}")]
    Unavailable(String),
    #[error("deployment service refused the call: {0}")]
    Refused(String),
}

#[async_trait]
pub trait Deployments: Send + Sync {
    /// Invokes `function` (a qualified ARN: one version) with `payload` and waits
    /// for its answer.
    async fn invoke(&self, function: &str, payload: Bytes) -> Result<Invoked, DeployError>;

    /// Reports the hook's outcome to CodeDeploy.
    async fn report(&self, hook: &HookExecution, status: HookStatus) -> Result<(), DeployError>;
}
