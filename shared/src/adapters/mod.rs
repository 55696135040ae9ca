//! Adapters: the ports implemented over real infrastructure.

pub mod aws;
pub mod dynamo;
pub mod dynamo_deliveries;
pub mod dynamo_metrics;
pub mod eventbridge;
pub mod log_bus;
pub mod optimizely;
pub mod outbound;
pub mod sqlite;
pub mod sqlite_deliveries;
pub mod sqlite_metrics;
pub mod sqs;
