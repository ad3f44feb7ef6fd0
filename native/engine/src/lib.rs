//! Finetune Studio's engine: everything that touches tensors lives here, in plain Rust on tch.
//! The N-API addon (`../addon`) only binds these modules for JavaScript.

pub mod encoder;
pub mod heads;
pub mod hf_config;
pub mod model;
pub mod optim;
pub mod runtime;
pub mod tokenize;
