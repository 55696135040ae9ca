//! Adapters: the ports implemented over real infrastructure.

pub mod log_bus;
pub mod outbound;
pub mod sqlite;
