//! The pre-traffic hook's two AWS calls, signed with the SDK's own SigV4 signer
//! over one HTTP client: Lambda `Invoke` of a new version and CodeDeploy's
//! `PutLifecycleEventHookExecutionStatus`. Two plain JSON calls do not warrant
//! two more SDK crates (and their build time) in every build of the functions.
//!
//! Endpoints: `AWS_ENDPOINT_URL_LAMBDA` / `AWS_ENDPOINT_URL_CODEDEPLOY`, else
//! `AWS_ENDPOINT_URL`, else the region's (`https://lambda.<region>.amazonaws.com`).
//! Each call is recorded in `OSA_AWS_CALL_LOG` like the SDK clients' calls.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use osa_app::config;
use osa_app::ports::{DeployError, Deployments, HookExecution, HookStatus, Invoked};

use crate::CallLog;

/// How long one invocation of a new version may take: a cold start and a health
/// probe (the intake probe writes to the store and reads the queue).
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(25);
/// How long CodeDeploy may take to take the report.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DeploySetupError {
    #[error("no AWS region configured (AWS_REGION)")]
    NoRegion,
    #[error("no AWS credentials provider configured")]
    NoCredentials,
    #[error("the HTTP client could not be built: {0}")]
    Client(String),
}

/// [`Deployments`] over Lambda and CodeDeploy.
pub struct AwsDeployments {
    http: reqwest::Client,
    credentials: SharedCredentialsProvider,
    region: String,
    lambda: String,
    codedeploy: String,
    log: Option<CallLog>,
}

fn endpoint(service: &'static str, region: &str) -> String {
    let own = match service {
        "lambda" => config::var("AWS_ENDPOINT_URL_LAMBDA"),
        _ => config::var("AWS_ENDPOINT_URL_CODEDEPLOY"),
    };
    own.or_else(|| config::var("AWS_ENDPOINT_URL"))
        .map(|url| url.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("https://{service}.{region}.amazonaws.com"))
}

impl AwsDeployments {
    /// From the SDK configuration (`crate::load_config`) and the environment.
    pub fn new(config: &SdkConfig) -> Result<AwsDeployments, DeploySetupError> {
        let region = config
            .region()
            .ok_or(DeploySetupError::NoRegion)?
            .to_string();
        let credentials = config
            .credentials_provider()
            .ok_or(DeploySetupError::NoCredentials)?;
        let http = reqwest::Client::builder()
            .connect_timeout(crate::CONNECT_TIMEOUT)
            .build()
            .map_err(|e| DeploySetupError::Client(e.to_string()))?;
        Ok(AwsDeployments {
            http,
            lambda: endpoint("lambda", &region),
            codedeploy: endpoint("codedeploy", &region),
            credentials,
            region,
            log: CallLog::from_env(),
        })
    }

    /// Signs and sends one POST; answers the status, the function-error header
    /// and the body.
    async fn post(
        &self,
        service: &'static str,
        url: &str,
        headers: &[(&'static str, &'static str)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<(u16, Option<String>, Bytes), DeployError> {
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| DeployError::Unavailable(format!("credentials: {e}")))?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| DeployError::Refused(format!("signing: {e}")))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            url,
            headers.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| DeployError::Refused(format!("signing: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| DeployError::Refused(format!("signing: {e}")))?
            .into_parts();
        let mut request = self.http.post(url).timeout(timeout);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let response = request.body(body).send().await.map_err(|e| {
            // The error's text names the URL, never a header.
            DeployError::Unavailable(format!("{service}: {e}"))
        })?;
        let status = response.status().as_u16();
        let function_error = response
            .headers()
            .get("x-amz-function-error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .bytes()
            .await
            .map_err(|e| DeployError::Unavailable(format!("{service}: {e}")))?;
        Ok((status, function_error, body))
    }

    fn record(&self, action: &str) {
        if let Some(log) = &self.log {
            log.record(&[action.to_owned()]);
        }
    }
}

/// A path segment, percent-encoded (a function ARN holds `:`).
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A refusal's text: the service's error type and message, never the request.
fn refusal(service: &str, status: u16, body: &[u8]) -> DeployError {
    let text = String::from_utf8_lossy(body);
    let text: String = text.chars().take(300).collect();
    DeployError::Refused(format!("{service} answered {status}: {text}"))
}

#[async_trait]
impl Deployments for AwsDeployments {
    async fn invoke(&self, function: &str, payload: Bytes) -> Result<Invoked, DeployError> {
        let url = format!(
            "{}/2015-03-31/functions/{}/invocations",
            self.lambda,
            segment(function)
        );
        self.record("lambda:InvokeFunction");
        let headers = [
            ("content-type", "application/json"),
            ("x-amz-invocation-type", "RequestResponse"),
        ];
        let (status, function_error, body) = self
            .post("lambda", &url, &headers, payload, INVOKE_TIMEOUT)
            .await?;
        if status != 200 {
            return Err(refusal("lambda", status, &body));
        }
        Ok(Invoked {
            function_error,
            payload: body,
        })
    }

    async fn report(&self, hook: &HookExecution, status: HookStatus) -> Result<(), DeployError> {
        let url = format!("{}/", self.codedeploy);
        let body = serde_json::json!({
            "deploymentId": hook.deployment_id,
            "lifecycleEventHookExecutionId": hook.execution_id,
            "status": status.as_str(),
        });
        self.record("codedeploy:PutLifecycleEventHookExecutionStatus");
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            (
                "x-amz-target",
                "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus",
            ),
        ];
        let (code, _, answer) = self
            .post(
                "codedeploy",
                &url,
                &headers,
                Bytes::from(body.to_string()),
                REPORT_TIMEOUT,
            )
            .await?;
        if code != 200 {
            return Err(refusal("codedeploy", code, &answer));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn a_function_arn_is_one_path_segment() {
        assert_eq!(
            segment("arn:aws:lambda:us-east-1:123456789012:function:osa-dev-intake:7"),
            "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aosa-dev-intake%3A7"
        );
    }
}
