//! OSA's shared core: the domain (pure rules), the ports it needs, the adapters
//! that implement them, and the application services the functions call.

pub mod domain;
pub mod ports;
