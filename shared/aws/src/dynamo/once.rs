//! Once-keys: a transaction whose first write is a `ONCE#<key>` item put only
//! if absent, so what it writes happens at most once however often it is
//! retried (a metric counted per outbox item, an activity entry).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use crate::attr::string;
use crate::describe;
use osa_app::ports::StoreError;

/// The once-key item of `key`, put only if there is none: the first write
/// of a transaction that must happen once.
pub(crate) fn once_put(table: &str, key: &str) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .item("pk", string(format!("ONCE#{key}")))
        .item("sk", string("ONCE"))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(|e| StoreError::Unavailable(format!("a once-key put: {e}")))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Whether `key` was taken already (read first, so a repeat costs no write).
pub(crate) async fn once_taken(
    client: &Client,
    table: &str,
    key: &str,
) -> Result<bool, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .key("pk", string(format!("ONCE#{key}")))
        .key("sk", string("ONCE"))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| StoreError::Unavailable(format!("dynamodb {}", describe("GetItem", &e))))?;
    Ok(out.item.is_some())
}

/// Sends a transaction whose first write is a once-key: `false` when that
/// key was taken (nothing was written).
pub(crate) async fn transact_once(
    client: &Client,
    items: Vec<TransactWriteItem>,
) -> Result<bool, StoreError> {
    let sent = client
        .transact_write_items()
        .set_transact_items(Some(items))
        .client_request_token(uuid::Uuid::new_v4().to_string())
        .send()
        .await;
    match sent {
        Ok(_) => Ok(true),
        Err(e) => match crate::attr::cancellation_codes(&e) {
            Some(codes)
                if codes.first().map(String::as_str) == Some(crate::attr::CONDITION_FAILED) =>
            {
                Ok(false)
            }
            _ => Err(StoreError::Unavailable(format!(
                "dynamodb {}",
                describe("TransactWriteItems", &e)
            ))),
        },
    }
}
