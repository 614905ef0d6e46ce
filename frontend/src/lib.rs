//! The shop's app: a Yew single-page app that talks protobuf to the shop's API and follows
//! live updates over a websocket; under `/admin`, the operator's pages (products, imports,
//! orders, the event log) over the admin API and the event-log socket.
//!
//! This library is everything but the view: `hooks` (every effect: reads, commands, the live
//! connections) over `state` (every reducer), the API clients, and pure logic (URL state,
//! wording, live-frame merging, timing decisions) in plain modules with native unit tests. The
//! view (`app`, `pages`, `components`) is the binary's (`main.rs`), so a save in a page or a
//! component recompiles the binary alone: the view holds every `html!`, whose expansion is
//! most of a rebuild, and a binary writes no crate metadata (BENCHMARKS.md, i).

pub mod admin_api;
pub mod admin_live;
pub mod api;
pub mod backoff;
pub mod catalog_query;
pub mod format;
pub mod hooks;
pub mod hub;
pub mod live;
pub mod live_apply;
pub mod notice;
pub mod route;
pub mod state;
pub mod stock;
pub mod timing;
pub mod upload;
