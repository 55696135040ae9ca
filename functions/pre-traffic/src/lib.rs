//! `pre-traffic`: CodeDeploy's `BeforeAllowTraffic` hook of the API functions'
//! gradual deployments. It invokes each new version with a health request
//! (`app::deploy`), reports `Succeeded` or `Failed` to CodeDeploy, which then
//! shifts traffic or rolls back.

use osa_app::config;
use osa_app::deploy::{self, NewVersions, Verdict};
use osa_app::ports::{DeployError, Deployments, HookExecution};
use serde::Deserialize;

/// CodeDeploy's lifecycle event.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleEvent {
    pub deployment_id: String,
    pub lifecycle_event_hook_execution_id: String,
}

/// The new versions to check: the template passes each API function's version
/// (`!Ref <Function>.Version`, a qualified ARN).
pub fn versions_from_env() -> NewVersions {
    NewVersions {
        status_api: config::var("OSA_HOOK_STATUS_API_VERSION"),
        intake: config::var("OSA_HOOK_INTAKE_VERSION"),
        opal_webhook: config::var("OSA_HOOK_OPAL_WEBHOOK_VERSION"),
    }
}

/// Checks the new versions and reports to CodeDeploy. An error (the report could
/// not be made) fails the invocation; CodeDeploy then fails the hook.
pub async fn handle(
    deployments: &dyn Deployments,
    versions: &NewVersions,
    event: LifecycleEvent,
) -> Result<Verdict, DeployError> {
    let hook = HookExecution {
        deployment_id: event.deployment_id,
        execution_id: event.lifecycle_event_hook_execution_id,
    };
    deploy::pre_traffic(deployments, &hook, &deploy::probes(versions)).await
}

#[cfg(test)]
mod tests {
    use super::LifecycleEvent;

    #[test]
    fn reads_codedeploys_lifecycle_event() {
        let event: LifecycleEvent = serde_json::from_str(
            r#"{"DeploymentId":"d-12345","LifecycleEventHookExecutionId":"eyJ0ZXN0"}"#,
        )
        .expect("the event CodeDeploy sends");
        assert_eq!(event.deployment_id, "d-12345");
        assert_eq!(event.lifecycle_event_hook_execution_id, "eyJ0ZXN0");
        assert!(serde_json::from_str::<LifecycleEvent>(r#"{"DeploymentId":"d"}"#).is_err());
    }
}
