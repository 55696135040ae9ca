//! Outbound HTTP: the reqwest client behind the `HttpClient` port, and the
//! resilient Optimizely client behind credential checks.

pub mod client;
pub mod optimizely;
