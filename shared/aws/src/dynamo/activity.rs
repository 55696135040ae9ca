//! The system's activity feed in the workflow table.
//!
//! | item | `pk` | `sk` |
//! |---|---|---|
//! | the counter | `ACTIVITY` | `SEQ` (`n`) |
//! | an activity | `ACTIVITY` | `E#<seq, 20 digits>` (`doc`, `at_ms`, TTL) |
//!
//! An append takes the next number from the counter (`UpdateItem ADD`), then
//! puts the activity under it. Two appends may commit in the other order than
//! they numbered, so a reader stops at a missing number, the append still in
//! flight, and reads on once it is there; a number still missing after
//! [`GIVE_UP_AFTER`] belonged to an append that failed, and is skipped. One
//! partition: activity is rare (workflows, rejections, dead letters, alerts).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem};
use time::OffsetDateTime;

use crate::attr::{Item, number, query_limit, read_number, read_string, string, unavailable};
use crate::schema::EXPIRES_AT;
use osa_app::codec::{decode, encode};
use osa_app::ports::StoreError;
use osa_domain::activity::Activity;

const PK: &str = "ACTIVITY";
const COUNTER_SK: &str = "SEQ";
/// Activities are kept a week.
const KEPT_FOR: time::Duration = time::Duration::days(7);
/// How long a reader waits for a number taken but not yet written.
const GIVE_UP_AFTER: time::Duration = time::Duration::seconds(10);

fn entry_sk(seq: u64) -> String {
    format!("E#{seq:020}")
}

/// The item an activity is stored as, under its number.
fn entry(seq: u64, activity: &Activity, now: OffsetDateTime) -> Result<Item, StoreError> {
    Ok(Item::from([
        ("pk".to_owned(), string(PK)),
        ("sk".to_owned(), string(entry_sk(seq))),
        ("doc".to_owned(), string(encode(activity)?)),
        (
            "at_ms".to_owned(),
            number(now.unix_timestamp_nanos() / 1_000_000),
        ),
        (
            EXPIRES_AT.to_owned(),
            number((now + KEPT_FOR).unix_timestamp()),
        ),
    ]))
}

pub(super) async fn append(
    client: &Client,
    table: &str,
    activity: &Activity,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    let seq = next_seq(client, table).await?;
    client
        .put_item()
        .table_name(table)
        .set_item(Some(entry(seq, activity, now)?))
        .send()
        .await
        .map_err(|e| unavailable("PutItem", &e))?;
    Ok(seq)
}

/// [`append`] once per `key`: the number is taken, then the activity and the
/// once-key are put in one transaction. A repeat found before it takes a
/// number costs nothing; one found by the transaction leaves its number
/// unused, which readers skip after [`GIVE_UP_AFTER`].
pub(super) async fn append_once(
    client: &Client,
    table: &str,
    key: &str,
    activity: &Activity,
    now: OffsetDateTime,
) -> Result<Option<u64>, StoreError> {
    if super::once::once_taken(client, table, key).await? {
        return Ok(None);
    }
    let seq = next_seq(client, table).await?;
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(entry(seq, activity, now)?))
        .build()
        .map_err(|e| StoreError::Unavailable(format!("an activity put: {e}")))?;
    let items = vec![
        super::once::once_put(table, key)?,
        TransactWriteItem::builder().put(put).build(),
    ];
    let appended = super::once::transact_once(client, items).await?;
    Ok(appended.then_some(seq))
}

/// Takes the next activity number from the counter.
async fn next_seq(client: &Client, table: &str) -> Result<u64, StoreError> {
    let counted = client
        .update_item()
        .table_name(table)
        .key("pk", string(PK))
        .key("sk", string(COUNTER_SK))
        .update_expression("ADD n :one")
        .expression_attribute_values(":one", number(1))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .map_err(|e| unavailable("UpdateItem", &e))?;
    counted
        .attributes
        .as_ref()
        .map(|a| read_number(a, "n"))
        .transpose()?
        .ok_or_else(|| StoreError::Corrupt("the activity counter answered nothing".into()))
}

pub(super) async fn after(
    client: &Client,
    table: &str,
    after: u64,
    limit: usize,
    now: OffsetDateTime,
) -> Result<Vec<(u64, Activity)>, StoreError> {
    let out = client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
        .expression_attribute_values(":pk", string(PK))
        .expression_attribute_values(":from", string(entry_sk(after.saturating_add(1))))
        .expression_attribute_values(":to", string(entry_sk(u64::MAX)))
        .consistent_read(true)
        .limit(query_limit(limit))
        .send()
        .await
        .map_err(|e| unavailable("Query", &e))?;
    let mut activities = Vec::new();
    let mut next = after.saturating_add(1);
    for item in out.items.unwrap_or_default() {
        let seq: u64 = read_string(&item, "sk")?
            .strip_prefix("E#")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| StoreError::Corrupt("activity key".into()))?;
        if seq != next {
            let at_ms: i64 = read_number(&item, "at_ms")?;
            let written = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
                .unwrap_or(now);
            if now - written < GIVE_UP_AFTER {
                break; // the missing one may still be on its way
            }
        }
        activities.push((seq, decode("activity", read_string(&item, "doc")?)?));
        next = seq.saturating_add(1);
    }
    Ok(activities)
}

pub(super) async fn last(client: &Client, table: &str) -> Result<u64, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .key("pk", string(PK))
        .key("sk", string(COUNTER_SK))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| unavailable("GetItem", &e))?;
    match out.item {
        Some(item) if matches!(item.get("n"), Some(AttributeValue::N(_))) => {
            read_number(&item, "n")
        }
        _ => Ok(0),
    }
}
