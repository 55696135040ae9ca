//! Adapters: the ports implemented over real infrastructure. A backend is a
//! folder: `sqlite` (embedded), `aws` (DynamoDB, SQS, EventBridge, Secrets
//! Manager), `http` (outbound HTTP), `jwt` (bearer tokens). `codec` is how both stores write things down.

pub mod aws;
pub mod codec;
pub mod http;
pub mod jwt;
pub mod log_bus;
pub mod sqlite;
