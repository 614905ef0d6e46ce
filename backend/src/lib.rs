//! The shop's backend: Kafka-sourced contexts (catalog, checkout) behind an HTTP API, and the
//! tools that feed them (import, demo data), and live updates over a websocket.

pub mod app;
pub mod audit;
pub mod bridge;
pub mod catalog;
pub mod checkout;
pub mod commands;
pub mod config;
pub mod engine;
pub mod fuzzing;
pub mod generate;
pub mod http;
pub mod import;
pub mod kafka;
pub mod live;
pub mod metrics;
pub mod profiling;
pub mod shutdown;
pub mod snapshot;
pub mod traces;
