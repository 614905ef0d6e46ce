//! The HTTP server (hyper 1.x): accepts connections, routes `/api/` to the contexts' handlers
//! and the live-update websocket, answers health probes and `/metrics`, serves the browser app's
//! files, records every request in the metrics, and drains connections on shutdown.
//!
//! - [`server`]: accept and drain. [`dispatch`]: one request, its server span and its metrics.
//! - [`request`]: what handlers read from a request (admin token, query, command body, ids).
//! - [`route`]: the API's routes; [`wire`]: formats, bodies, errors and replies.
//! - [`cookie`]: the cart cookie (a random cart id); [`static_files`]: the browser app's files.

pub mod cookie;
pub mod dispatch;
pub mod request;
pub mod route;
pub mod server;
pub mod static_files;
pub mod wire;

pub use server::serve;
