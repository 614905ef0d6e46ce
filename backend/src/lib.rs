//! The shop's backend: Kafka-sourced contexts (catalog, checkout) behind an HTTP API, live
//! updates over a websocket, and the tools that feed them.
//!
//! The map, from the inside out (a module only imports those above it or beside it in its row;
//! `tests/layout.rs` fails on any import cycle and on an engine that reaches a context):
//!
//! - [`engine`]: the generic fold of one Kafka partition into a published model (fold contract,
//!   context, writer thread, Kafka clients, snapshots). Imports only [`shutdown`]: no context, no
//!   HTTP, no state, no metrics, no configuration; those reach it through its hooks
//!   ([`engine::Observer`], the recorder traits of [`engine::metrics`] that [`ops`] implements)
//!   and its settings types, which [`config`] makes.
//! - [`catalog`], [`checkout`]: the contexts, the same rooms each: `fold` (pure model), `query`
//!   (reads), `http` (endpoints), and the catalog's `validate` (product rules the import shares).
//!   [`bridge`] copies catalog facts into checkout's log.
//! - [`commands`]: the path of every command (`meta`: idempotency key and fingerprint, pure;
//!   `execute`: produce, wait for the apply, answer).
//! - [`http`]: accept and drain, dispatch and the request span, request helpers, routes, wire
//!   formats, the cart cookie and the new-cart limit, static files. [`live`]: change detection
//!   and hub, frames, sockets.
//! - [`ops`]: metrics (one file per group), traces, health probes, profiling.
//! - [`eventlog`]: each context's newest events, decoded and described, for the operator (read
//!   and live). [`admin`]: the operator's reads (the whole catalog, orders across carts) and
//!   CSV uploads.
//! - [`state`]: what handlers read. [`app`]: the composition root that builds and starts it all
//!   (only [`cli`], the `shop` command, and the tests use it). [`config`]: every setting, read
//!   once. [`shutdown`]: the stop signal passed down.
//! - [`tools`]: import, demo data, the flash-sale audit, fuzz target bodies.

pub mod admin;
pub mod app;
pub mod bridge;
pub mod catalog;
pub mod checkout;
pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod eventlog;
pub mod http;
pub mod live;
pub mod ops;
pub mod server;
pub mod shutdown;
pub mod state;
pub mod tools;
