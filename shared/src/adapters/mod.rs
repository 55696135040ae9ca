//! Adapters: the ports implemented over real infrastructure.

pub mod aws;
pub mod dynamo;
pub mod eventbridge;
pub mod log_bus;
pub mod optimizely;
pub mod outbound;
pub mod sqlite;
pub mod sqs;
