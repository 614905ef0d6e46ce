//! The shop's backend: Kafka-sourced contexts (catalog, checkout) behind an HTTP API, live
//! updates over a websocket, and the tools that feed them.
//!
//! The map, in rows from the inside out. A module imports only its own row and the rows above it
//! here; `tests/layout.rs` holds the same rows and fails on any import the other way, on a module
//! in no row, on any import cycle, and on an engine that imports anything but itself and the stop
//! signal.
//!
//! 1. [`engine`]: the generic fold of one Kafka partition into a published model (fold contract,
//!    context, writer thread, Kafka clients, snapshots). Its metrics and traces reach it through
//!    hooks ([`engine::Observer`], the recorder traits of [`engine::metrics`] that [`ops`]
//!    implements), its settings through types of its own that [`config`] makes. [`shutdown`]: the
//!    stop signal passed down.
//! 2. [`config`]: every setting, read once, and the parts handed out ([`config::ShopSettings`],
//!    [`config::SocketSettings`], the engine's settings). [`ops`]: metrics (one file per group),
//!    traces, the heap. `commands::meta`: a command's idempotency key and fingerprint (pure).
//! 3. [`catalog`], [`checkout`]: the contexts, the same rooms each (model, fold rules, snapshot
//!    codec, queries; the catalog's `validate`, the product rules the API and the import share,
//!    with their own error type). [`bridge`] copies catalog facts into checkout's log.
//! 4. [`http`]: the HTTP vocabulary (wire formats and the API's error, request helpers, declared
//!    parameters, the domain errors as answers, cookie, origins, `If-Match`, the new-cart limit).
//!    [`commands`]`::execute`: produce, wait for the apply, answer, with its own error type.
//!    `catalog::view`: the product views on the wire.
//! 5. The handlers, each given a view of what it uses: `catalog::http`, `checkout::http`,
//!    [`admin`] (the operator's reads, uploads and the import's core), [`eventlog`] (each
//!    context's newest events for the operator), [`live`] (change detection, hub, sockets).
//! 6. [`server`]: accept and drain, one route table whose rows carry their handlers, dispatch,
//!    the admin gate, OpenAPI, health, profiles, static files. [`state`]: what the server holds
//!    and the views it hands each handler.
//! 7. [`app`]: the composition root that builds and starts it all (only [`cli`], the `shop`
//!    command, and the tests use it). [`tools`]: demo data, the flash-sale audit, fuzz target
//!    bodies.

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
