//! OSA's shared core: the domain (pure rules), the ports it needs, the adapters
//! that implement them, and the application services the functions call.

pub mod adapters;
pub mod app;
pub mod bootstrap;
pub mod config;
pub mod domain;
pub mod http;
pub mod ports;
