//! Adapters: the ports implemented over real infrastructure.

pub mod outbound;
pub mod sqlite;
