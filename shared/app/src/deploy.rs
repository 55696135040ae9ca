//! The pre-traffic check of a gradual deployment: before CodeDeploy shifts any
//! traffic to the new versions of the API functions, the hook invokes each new
//! version directly with a health request and tells CodeDeploy to go on only if
//! every one answers as it should. A failed check rolls the deployment back with
//! no request having reached the new code.
//!
//! - `status-api` must answer `200` to `GET /api/health/intake` (a store write
//!   and a queue read on the new version) and `GET /api/health/database`;
//! - `intake` and `opal-webhook` serve no health route: they must start and
//!   answer a request below `500` (their router's own `404`), which proves their
//!   init (configuration, clients) and their router work.
//!
//! OPAL's health is left out on purpose: an outside service being down must not
//! block or roll back a deployment of OSA.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::ports::{DeployError, Deployments, HookExecution, HookStatus};

/// One request to one new version, and what passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The version's qualified ARN.
    pub function: String,
    pub path: &'static str,
    pub expect: Expect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// `200`: a health route that checked what it checks.
    Healthy,
    /// Any answer below `500`: the function started and its router answered.
    Answers,
}

/// The new versions a deployment brings (qualified ARNs; any may be absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewVersions {
    pub status_api: Option<String>,
    pub intake: Option<String>,
    pub opal_webhook: Option<String>,
}

/// The probes of the new versions, in the order they run.
pub fn probes(versions: &NewVersions) -> Vec<Probe> {
    let mut out = Vec::new();
    if let Some(f) = &versions.status_api {
        for path in ["/api/health/intake", "/api/health/database"] {
            out.push(Probe {
                function: f.clone(),
                path,
                expect: Expect::Healthy,
            });
        }
    }
    for f in [&versions.intake, &versions.opal_webhook]
        .into_iter()
        .flatten()
    {
        out.push(Probe {
            function: f.clone(),
            path: "/api/health/database",
            expect: Expect::Answers,
        });
    }
    out
}

/// The API Gateway (HTTP API, payload 2.0) event of `GET path`, as the API would
/// send it, with the hook's correlation id.
pub fn probe_event(path: &str, correlation_id: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": format!("GET {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "user-agent": "osa-pre-traffic",
            "x-correlation-id": correlation_id,
        },
        "requestContext": {
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "osa-pre-traffic",
            },
            "requestId": correlation_id,
            "routeKey": format!("GET {path}"),
            "stage": "$default",
        },
        "isBase64Encoded": false,
    })
}

/// Why a probe failed, or `None` when it passed.
pub fn judge(probe: &Probe, answer: &Result<crate::ports::Invoked, DeployError>) -> Option<String> {
    let invoked = match answer {
        Ok(invoked) => invoked,
        Err(e) => return Some(format!("not invoked: {e}")),
    };
    if let Some(error) = &invoked.function_error {
        return Some(format!("the function failed ({error})"));
    }
    let status = serde_json::from_slice::<Value>(&invoked.payload)
        .ok()
        .and_then(|v| v.get("statusCode").and_then(Value::as_u64));
    match (status, probe.expect) {
        (None, _) => Some("no HTTP status in its answer".into()),
        (Some(200), Expect::Healthy) => None,
        (Some(s), Expect::Answers) if s < 500 => None,
        (Some(s), _) => Some(format!("answered {s}")),
    }
}

/// The outcome of a check: what CodeDeploy was told, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: HookStatus,
    /// `function path: reason` of every probe that failed.
    pub failures: Vec<String>,
}

/// Runs every probe, then reports the outcome to CodeDeploy once. An error only
/// when the report itself fails (CodeDeploy then fails the hook at its timeout).
pub async fn pre_traffic(
    deployments: &dyn Deployments,
    hook: &HookExecution,
    probes: &[Probe],
) -> Result<Verdict, DeployError> {
    let mut failures = Vec::new();
    for probe in probes {
        let event = probe_event(probe.path, &hook.deployment_id);
        let payload = Bytes::from(event.to_string());
        let answer = deployments.invoke(&probe.function, payload).await;
        match judge(probe, &answer) {
            None => {
                tracing::info!(function = %probe.function, path = probe.path, "pre-traffic probe passed")
            }
            Some(reason) => {
                tracing::warn!(function = %probe.function, path = probe.path, %reason, "pre-traffic probe failed");
                failures.push(format!("{} {}: {reason}", probe.function, probe.path));
            }
        }
    }
    let status = if failures.is_empty() && !probes.is_empty() {
        HookStatus::Succeeded
    } else {
        HookStatus::Failed
    };
    if probes.is_empty() {
        failures.push("no new version to check".into());
    }
    deployments.report(hook, status).await?;
    tracing::info!(
        deployment = %hook.deployment_id,
        status = status.as_str(),
        failed = failures.len(),
        "pre-traffic hook reported"
    );
    Ok(Verdict { status, failures })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::ports::Invoked;

    /// Answers each function with a fixed status (or a failure), records reports.
    struct Fake {
        answers: Vec<(&'static str, Result<Invoked, DeployError>)>,
        invoked: Mutex<Vec<(String, Value)>>,
        reports: Mutex<Vec<(HookExecution, HookStatus)>>,
        report_fails: bool,
    }

    fn http(status: u16) -> Result<Invoked, DeployError> {
        Ok(Invoked {
            function_error: None,
            payload: Bytes::from(format!(r#"{{"statusCode":{status},"body":"{{}}"}}"#)),
        })
    }

    impl Fake {
        fn new(answers: Vec<(&'static str, Result<Invoked, DeployError>)>) -> Fake {
            Fake {
                answers,
                invoked: Mutex::default(),
                reports: Mutex::default(),
                report_fails: false,
            }
        }
    }

    #[async_trait]
    impl Deployments for Fake {
        async fn invoke(&self, function: &str, payload: Bytes) -> Result<Invoked, DeployError> {
            let event: Value = serde_json::from_slice(&payload).expect("the probe is JSON");
            self.invoked
                .lock()
                .expect("lock")
                .push((function.to_owned(), event));
            self.answers
                .iter()
                .find(|(f, _)| *f == function)
                .map(|(_, a)| a.clone())
                .unwrap_or_else(|| Err(DeployError::Refused(format!("no function {function}"))))
        }

        async fn report(
            &self,
            hook: &HookExecution,
            status: HookStatus,
        ) -> Result<(), DeployError> {
            self.reports
                .lock()
                .expect("lock")
                .push((hook.clone(), status));
            if self.report_fails {
                return Err(DeployError::Unavailable("down".into()));
            }
            Ok(())
        }
    }

    fn hook() -> HookExecution {
        HookExecution {
            deployment_id: "d-ABC".into(),
            execution_id: "exec-1".into(),
        }
    }

    fn all() -> NewVersions {
        NewVersions {
            status_api: Some("status:7".into()),
            intake: Some("intake:7".into()),
            opal_webhook: Some("webhook:7".into()),
        }
    }

    async fn run(fake: &Fake) -> Verdict {
        pre_traffic(fake, &hook(), &probes(&all()))
            .await
            .expect("reported")
    }

    #[tokio::test]
    async fn healthy_versions_let_the_traffic_shift() {
        let fake = Fake::new(vec![
            ("status:7", http(200)),
            ("intake:7", http(404)),
            ("webhook:7", http(404)),
        ]);
        let verdict = run(&fake).await;
        assert_eq!(
            verdict,
            Verdict {
                status: HookStatus::Succeeded,
                failures: vec![]
            }
        );
        assert_eq!(
            *fake.reports.lock().expect("lock"),
            vec![(hook(), HookStatus::Succeeded)]
        );
        let invoked = fake.invoked.lock().expect("lock");
        let paths: Vec<_> = invoked
            .iter()
            .map(|(f, e)| format!("{f} {}", e["rawPath"].as_str().unwrap_or("")))
            .collect();
        assert_eq!(
            paths,
            [
                "status:7 /api/health/intake",
                "status:7 /api/health/database",
                "intake:7 /api/health/database",
                "webhook:7 /api/health/database"
            ]
        );
        assert_eq!(invoked[0].1["requestContext"]["http"]["method"], "GET");
        assert_eq!(invoked[0].1["headers"]["x-correlation-id"], "d-ABC");
    }

    #[tokio::test]
    async fn an_unhealthy_status_api_fails_the_deployment() {
        let fake = Fake::new(vec![
            ("status:7", http(503)),
            ("intake:7", http(404)),
            ("webhook:7", http(404)),
        ]);
        let verdict = run(&fake).await;
        assert_eq!(verdict.status, HookStatus::Failed);
        assert_eq!(verdict.failures.len(), 2, "{:?}", verdict.failures);
        assert!(
            verdict.failures[0].contains("answered 503"),
            "{:?}",
            verdict.failures
        );
        assert_eq!(
            *fake.reports.lock().expect("lock"),
            vec![(hook(), HookStatus::Failed)]
        );
    }

    #[tokio::test]
    async fn a_version_that_fails_to_start_or_cannot_be_invoked_fails_it() {
        let crashed = Ok(Invoked {
            function_error: Some("Unhandled".into()),
            payload: Bytes::from_static(br#"{"errorType":"Runtime.ExitError"}"#),
        });
        let fake = Fake::new(vec![("status:7", http(200)), ("intake:7", crashed)]);
        let verdict = run(&fake).await;
        assert_eq!(verdict.status, HookStatus::Failed);
        assert_eq!(verdict.failures.len(), 2, "{:?}", verdict.failures);
        assert!(verdict.failures[0].contains("Unhandled"));
        assert!(verdict.failures[1].contains("not invoked"));
    }

    #[tokio::test]
    async fn a_server_error_or_an_answer_without_status_fails_it() {
        let garbage = Ok(Invoked {
            function_error: None,
            payload: Bytes::from_static(b"null"),
        });
        let fake = Fake::new(vec![
            ("status:7", http(200)),
            ("intake:7", http(500)),
            ("webhook:7", garbage),
        ]);
        let verdict = run(&fake).await;
        assert_eq!(verdict.status, HookStatus::Failed);
        assert!(
            verdict.failures[0].contains("answered 500"),
            "{:?}",
            verdict.failures
        );
        assert!(
            verdict.failures[1].contains("no HTTP status"),
            "{:?}",
            verdict.failures
        );
    }

    #[tokio::test]
    async fn nothing_to_check_is_a_failure_and_a_failed_report_is_an_error() {
        let fake = Fake::new(vec![]);
        let verdict = pre_traffic(&fake, &hook(), &[]).await.expect("reported");
        assert_eq!(verdict.status, HookStatus::Failed);

        let mut fake = Fake::new(vec![
            ("status:7", http(200)),
            ("intake:7", http(404)),
            ("webhook:7", http(404)),
        ]);
        fake.report_fails = true;
        let err = pre_traffic(&fake, &hook(), &probes(&all())).await;
        assert!(matches!(err, Err(DeployError::Unavailable(_))), "{err:?}");
    }
}
