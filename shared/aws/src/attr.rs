//! Reading and writing DynamoDB attributes and coping with its failures, for
//! every DynamoDB adapter.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::AttributeValue;

use super::describe;
use super::schema::{PK, SK};
use osa_app::ports::StoreError;

/// One item: attribute name to value.
pub type Item = HashMap<String, AttributeValue>;

/// The cancellation code of an item whose condition failed.
pub const CONDITION_FAILED: &str = "ConditionalCheckFailed";

/// A string attribute.
pub fn string(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub fn number(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The table key of an item.
pub fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), string(pk)), (SK.to_owned(), string(sk))])
}

/// A string attribute of an item; its absence means the item is corrupt.
pub fn read_string<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(format!("item without string {name}"))),
    }
}

/// A number attribute of an item; its absence means the item is corrupt.
pub fn read_number<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("{name} is not a number: {v}"))),
        _ => Err(StoreError::Corrupt(format!("item without number {name}"))),
    }
}

/// A page size for a query that still wants `remaining` items.
pub fn query_limit(remaining: usize) -> i32 {
    i32::try_from(remaining.min(1000)).unwrap_or(1000)
}

/// What a conditional write came to: `true` when it was applied, `false` when
/// its condition did not hold, an error for any other failure.
pub fn condition_held<O, E, R>(
    operation: &str,
    sent: Result<O, SdkError<E, R>>,
) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match sent {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
        Err(e) => Err(unavailable(operation, &e)),
    }
}

/// An SDK failure as the store reports it.
pub fn unavailable<E, R>(operation: &str, e: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(format!("dynamodb {}", describe(operation, e)))
}

pub fn build_error(e: BuildError) -> StoreError {
    StoreError::Unavailable(format!("building a DynamoDB request: {e}"))
}

/// The per-item cancellation codes of a cancelled transaction (`None` for any other
/// failure). Items that did not fail carry `"None"`.
pub fn cancellation_codes<R>(e: &SdkError<TransactWriteItemsError, R>) -> Option<Vec<String>> {
    match e.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(c) => Some(
            c.cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_owned())
                .collect(),
        ),
        // Items another transaction held carry `TransactionConflict`: retried like a
        // lost race. Throttling is retried by the SDK itself.
        _ => None,
    }
}

/// Lost races (a condition on what was read, another transaction on the same
/// item, throttling) are retried; anything else (a request DynamoDB refuses) is not.
pub fn retry_or_fail(codes: &[String]) -> Result<(), StoreError> {
    const RETRYABLE: [&str; 5] = [
        "None",
        CONDITION_FAILED,
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
    ];
    match codes.iter().find(|c| !RETRYABLE.contains(&c.as_str())) {
        None => Ok(()),
        Some(code) => Err(StoreError::Unavailable(format!(
            "dynamodb TransactWriteItems cancelled: {code}"
        ))),
    }
}

/// Sleeps a random while, growing with `attempt` ("full jitter": uniform up to
/// 10 ms doubled per attempt, capped at 640 ms).
pub async fn backoff(attempt: u32) {
    let cap_ms = 10u64 << attempt.min(6);
    tokio::time::sleep(Duration::from_millis(rand::random_range(1..=cap_ms))).await;
}
