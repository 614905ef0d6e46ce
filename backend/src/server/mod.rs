//! The HTTP server (hyper 1.x) at the top of the crate map: accepts connections and drains them
//! on shutdown, routes `/api/` through one table to the handlers, answers health probes,
//! `/metrics` and profiles, serves the browser app's files, and records every request in the
//! metrics.
//!
//! - [`accept`]: accept (capped, with backoff on errors) and drain; [`send_deadline`]: the write
//!   deadline of every connection. [`dispatch`]: one request, its server span and its metrics.
//! - [`route`]: the API's routes, one table of [`table`] rows, each with its handler;
//!   [`openapi`]: the OpenAPI document written from it and the interactive docs.
//! - [`health`]: liveness and readiness; [`profiling`]: pprof CPU and heap profiles.
//! - [`static_files`]: the app's files.

pub mod accept;
pub mod dispatch;
pub mod health;
pub mod openapi;
pub mod profiling;
pub mod route;
pub mod send_deadline;
pub mod static_files;
pub mod table;

pub use accept::{raise_open_file_limit, serve};
