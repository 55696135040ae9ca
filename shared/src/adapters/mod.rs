//! Adapters: the ports implemented over real infrastructure. A backend is a
//! folder: `sqlite` (embedded), `aws` (DynamoDB, SQS, EventBridge, Secrets
//! Manager), `http` (outbound HTTP). `codec` is how both stores write things down.

pub mod aws;
pub mod codec;
pub mod http;
pub mod log_bus;
pub mod sqlite;
