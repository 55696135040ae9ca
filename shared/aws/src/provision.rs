//! The table and queues the AWS adapters use, created if missing (idempotent):
//! for tests and for the local runtime pointed at an AWS-compatible endpoint.
//! Production creates them from `template.yaml`, which must declare the same.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_sqs::types::QueueAttributeName;

use super::describe;
use super::schema::{
    EXPIRES_AT, RECENT_INDEX, RECENT_PK, RECENT_SK, RUNNING_INDEX, RUNNING_PK, RUNNING_SK,
};
use osa_app::ports::{QueueError, StoreError};

/// Receives of one message before SQS moves it to the dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 5;

/// How long the dead-letter queue keeps a message: the SQS maximum, 14 days.
const DLQ_RETENTION_SECS: u32 = 14 * 24 * 3600;

/// How long `ensure_table` waits for a new table to become active.
const TABLE_READY_TIMEOUT: Duration = Duration::from_secs(120);

// ---- DynamoDB ------------------------------------------------------------------

/// Creates the single table (keys `pk`/`sk`, the `recent` and `running` indexes,
/// on-demand capacity) and turns on TTL on `expires_at`, unless that is already so.
/// Idempotent; waits until the table is active.
pub async fn ensure_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), StoreError> {
    let exists = match client.describe_table().table_name(table).send().await {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            false
        }
        Err(e) => return Err(StoreError::Unavailable(describe("DescribeTable", &e))),
    };
    if !exists {
        create_table(client, table).await?;
    }
    wait_until_active(client, table).await?;
    ensure_ttl(client, table).await
}

async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), StoreError> {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build_error)
    };
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(build_error)
    };
    let keys_only = Projection::builder()
        .projection_type(ProjectionType::KeysOnly)
        .build();
    let index = |name: &str, pk: &str, sk: &str| -> Result<GlobalSecondaryIndex, StoreError> {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(pk, KeyType::Hash)?)
            .key_schema(key(sk, KeyType::Range)?)
            .projection(keys_only.clone())
            .build()
            .map_err(build_error)
    };
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(vec![
            attr("pk")?,
            attr("sk")?,
            attr(RECENT_PK)?,
            attr(RECENT_SK)?,
            attr(RUNNING_PK)?,
            attr(RUNNING_SK)?,
        ]))
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(index(RECENT_INDEX, RECENT_PK, RECENT_SK)?)
        .global_secondary_indexes(index(RUNNING_INDEX, RUNNING_PK, RUNNING_SK)?)
        // The outbox relay's source, as the template declares it.
        .stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewImage)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        // Someone else created it meanwhile: fine.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(StoreError::Unavailable(describe("CreateTable", &e))),
    }
}

async fn wait_until_active(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + TABLE_READY_TIMEOUT;
    loop {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(describe("DescribeTable", &e)))?;
        let status = described.table().and_then(|t| t.table_status());
        if status == Some(&TableStatus::Active) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StoreError::Unavailable(format!(
                "table {table} is not active after {TABLE_READY_TIMEOUT:?} (status {status:?})"
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn ensure_ttl(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), StoreError> {
    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| StoreError::Unavailable(describe("DescribeTimeToLive", &e)))?;
    let current = ttl.time_to_live_description();
    let enabled = current.is_some_and(|d| {
        matches!(
            d.time_to_live_status(),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) && d.attribute_name() == Some(EXPIRES_AT)
    });
    if enabled {
        return Ok(());
    }
    let spec = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(EXPIRES_AT)
        .build()
        .map_err(build_error)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|e| StoreError::Unavailable(describe("UpdateTimeToLive", &e)))?;
    Ok(())
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unavailable(format!("building a request: {e}"))
}

// ---- SQS -----------------------------------------------------------------------

/// The job queue and its dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queues {
    pub url: String,
    pub arn: String,
    pub dlq_url: String,
    pub dlq_arn: String,
}

/// Creates (or finds) `<name>-dlq` and `<name>`, the latter redriving to the former
/// after [`MAX_RECEIVE_COUNT`] receives. Idempotent: `CreateQueue` returns an existing
/// queue with the same attributes.
pub async fn ensure_queues(client: &aws_sdk_sqs::Client, name: &str) -> Result<Queues, QueueError> {
    let dlq_name = format!("{name}-dlq");
    let dlq_url = create_queue(
        client,
        &dlq_name,
        HashMap::from([(
            QueueAttributeName::MessageRetentionPeriod,
            DLQ_RETENTION_SECS.to_string(),
        )]),
    )
    .await?;
    let dlq_arn = queue_arn(client, &dlq_url).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT.to_string(),
    })
    .to_string();
    let url = create_queue(
        client,
        name,
        HashMap::from([(QueueAttributeName::RedrivePolicy, redrive)]),
    )
    .await?;
    let arn = queue_arn(client, &url).await?;
    Ok(Queues {
        url,
        arn,
        dlq_url,
        dlq_arn,
    })
}

async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    attributes: HashMap<QueueAttributeName, String>,
) -> Result<String, QueueError> {
    let out = client
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(|e| QueueError::Unavailable(describe("CreateQueue", &e)))?;
    out.queue_url()
        .map(str::to_owned)
        .ok_or_else(|| QueueError::Unavailable(format!("CreateQueue {name}: no queue URL")))
}

/// The ARN of a queue (EventBridge targets and redrive policies name queues by ARN).
pub async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> Result<String, QueueError> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| QueueError::Unavailable(describe("GetQueueAttributes", &e)))?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| QueueError::Unavailable(format!("no ARN for queue {url}")))
}
