//! What the AWS adapter tests share: the local endpoint (moto, started by
//! `infra/moto.sh`), SDK configuration pointed at it, unique resource names and a
//! counter of API calls.
#![allow(dead_code)] // Each test crate uses its own part of this.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Credentials, Intercept, RuntimeComponents};

/// The endpoint the AWS tests run against, from `OSA_TEST_AWS_ENDPOINT`. Without it
/// the test fails, telling how to start one, unless `OSA_SKIP_AWS_TESTS=1` asks to
/// skip (then `None`).
pub fn endpoint(test: &str) -> Option<String> {
    match std::env::var("OSA_TEST_AWS_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("OSA_SKIP_AWS_TESTS").as_deref() == Ok("1") => {
            eprintln!("SKIPPED {test}: OSA_SKIP_AWS_TESTS=1 (no AWS-compatible endpoint)");
            None
        }
        _ => panic!(
            "{test} needs an AWS-compatible endpoint in OSA_TEST_AWS_ENDPOINT. Run the \
             tests with ./infra/test.sh, or `source infra/moto.sh` first (it starts moto \
             and sets the variables), or set OSA_SKIP_AWS_TESTS=1 to skip the AWS tests."
        ),
    }
}

/// SDK configuration for the local endpoint: dummy credentials and a region, so a
/// test never reads (or sends) a developer's real ones.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "osa-tests"))
        .load()
        .await
}

/// A name no other test (or run) uses: `osa-<what>-<random>`.
pub fn unique_name(what: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("osa-{what}-{}", &id[..12])
}

/// Counts the requests a client sends, per operation (from the `X-Amz-Target`
/// header of the JSON protocols DynamoDB, SQS and EventBridge speak). Counts every
/// attempt the SDK transmits, retries included.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl CallCounter {
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn reset(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown");
        let mut operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        // The shared rate limit's writes, told apart (their key is `RATE#<client>`).
        let body = context.request().body().bytes().unwrap_or_default();
        if operation == "UpdateItem" && body.windows(6).any(|w| w == b"\"RATE#") {
            operation.push_str(" (rate limit)");
        }
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }
}
