//! The HTTP server (hyper 1.x): accepts connections, routes `/api/` to the contexts' handlers
//! and the live-update websocket, answers health probes and `/metrics`, serves the browser app's
//! files, records every request in the metrics, and drains connections on shutdown.
//!
//! - [`server`]: accept (capped, with backoff on errors) and drain; [`send_deadline`]: the write
//!   deadline of every connection. [`dispatch`]: one request, its server span and its metrics.
//! - [`request`]: what handlers read from a request (admin token, query, command body, ids);
//!   [`if_match`]: the `If-Match` precondition of a product change (RFC 9110).
//! - [`route`]: the API's routes, one table; [`openapi`]: the OpenAPI document written from it
//!   and the interactive docs; [`wire`]: formats, bodies, errors and replies.
//! - [`origin`]: which browser origins may open the live socket and call the API (CORS).
//! - [`cookie`]: the cart cookie (a server-issued secret with a MAC) and the cart names derived
//!   from it; [`cart_limit`]: new carts per client address. [`static_files`]: the app's files.

pub mod cart_limit;
pub mod cookie;
pub mod dispatch;
pub mod if_match;
pub mod openapi;
pub mod origin;
pub mod request;
pub mod route;
pub mod send_deadline;
pub mod server;
pub mod static_files;
pub mod wire;

pub use server::{PeerAddr, raise_open_file_limit, serve};
