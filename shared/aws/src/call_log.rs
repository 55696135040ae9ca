//! Records each AWS call this process makes as the IAM action it needs, one line
//! `<function>\t<service>:<Operation>` appended to the file `OSA_AWS_CALL_LOG`
//! names. Only the test command sets it: the Lambda runtime loop runs every
//! function against the local endpoint with it, and `infra/iam-parity.sh`
//! checks the calls against each function's policy in the transformed template.

use std::io::Write;
use std::path::PathBuf;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

#[derive(Debug, Clone)]
pub struct CallLog {
    path: PathBuf,
    function: String,
}

impl CallLog {
    /// The log `OSA_AWS_CALL_LOG` names, if any; calls are filed under this
    /// process's executable name (a function's binary).
    pub fn from_env() -> Option<CallLog> {
        let path = osa_app::config::var("OSA_AWS_CALL_LOG")?;
        let function = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "unknown".into());
        Some(CallLog {
            path: path.into(),
            function,
        })
    }
}

/// The IAM actions a request needs. A DynamoDB transaction has no action of
/// its own: each of its parts needs that part's (`Put` needs `PutItem`, a
/// `ConditionCheck` needs `ConditionCheckItem`).
fn actions(target: &str, body: Option<&[u8]>) -> Vec<String> {
    let Some(action) = action(target) else {
        return vec![format!("unknown:{target}")];
    };
    let parts = match action.as_str() {
        "dynamodb:TransactWriteItems" | "dynamodb:TransactGetItems" => body
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .and_then(|v| v.get("TransactItems").and_then(|i| i.as_array()).cloned()),
        _ => return vec![action],
    };
    let mut needed: Vec<String> = parts
        .unwrap_or_default()
        .iter()
        .filter_map(|part| part.as_object()?.keys().next().cloned())
        .map(|kind| match kind.as_str() {
            "ConditionCheck" => "dynamodb:ConditionCheckItem".to_owned(),
            other => format!("dynamodb:{other}Item"),
        })
        .collect();
    needed.sort();
    needed.dedup();
    if needed.is_empty() {
        needed.push(action); // unreadable: name the call itself
    }
    needed
}

/// The IAM action of a request of the JSON protocols (`X-Amz-Target`).
fn action(target: &str) -> Option<String> {
    let (prefix, operation) = target.rsplit_once('.')?;
    let service = match prefix {
        p if p.starts_with("DynamoDB") => "dynamodb",
        "AmazonSQS" => "sqs",
        "AWSEvents" => "events",
        "secretsmanager" => "secretsmanager",
        _ => return None,
    };
    Some(format!("{service}:{operation}"))
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
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
        let body = context.request().body().bytes();
        self.record(&actions(target, body));
        Ok(())
    }
}

impl CallLog {
    /// Files the IAM actions of one call (the signed calls outside the SDK
    /// clients, `crate::deploy`, record theirs here too).
    pub(crate) fn record(&self, actions: &[String]) {
        let lines: String = actions
            .iter()
            .map(|action| format!("{}\t{action}\n", self.function))
            .collect();
        // One write per call (appends of that size are not interleaved with
        // other processes'); a failure to record never fails the call.
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            let _ = file.write_all(lines.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{action, actions};

    #[test]
    fn targets_name_their_iam_actions() {
        assert_eq!(
            action("DynamoDB_20120810.TransactWriteItems").as_deref(),
            Some("dynamodb:TransactWriteItems")
        );
        assert_eq!(
            action("AmazonSQS.SendMessage").as_deref(),
            Some("sqs:SendMessage")
        );
        assert_eq!(
            action("AWSEvents.PutEvents").as_deref(),
            Some("events:PutEvents")
        );
        assert_eq!(
            action("secretsmanager.GetSecretValue").as_deref(),
            Some("secretsmanager:GetSecretValue")
        );
        assert_eq!(action("Other.Thing"), None);
    }

    #[test]
    fn a_transaction_needs_the_actions_of_its_parts() {
        let body =
            br#"{"TransactItems":[{"Put":{}},{"Update":{}},{"ConditionCheck":{}},{"Put":{}}]}"#;
        assert_eq!(
            actions("DynamoDB_20120810.TransactWriteItems", Some(body)),
            [
                "dynamodb:ConditionCheckItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem"
            ]
        );
        assert_eq!(actions("AmazonSQS.SendMessage", None), ["sqs:SendMessage"]);
    }
}
