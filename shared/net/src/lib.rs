//! The network adapters both runtimes use: outbound HTTP (`http`: the reqwest
//! client behind `HttpClient`, the resilient Optimizely client behind credential
//! checks) and bearer tokens (`jwt`: the `TokenVerifier` over public keys or a
//! JWKS). `setup` builds them from their settings.

pub mod http;
pub mod jwt;
mod setup;

pub use setup::{optimizely, verifier};
