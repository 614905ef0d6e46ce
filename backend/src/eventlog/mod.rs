//! The event log: what flows through each context's topic, decoded, as the operator sees it.
//!
//! - [`ring`]: a recorder observes each context's writer and keeps its newest events (a ring of
//!   `EVENT_LOG_SIZE` per context, so memory stays bounded), published with the model's
//!   batches for wait-free reads and announced to the sockets.
//! - [`describe`]: what one event did (products, cart as a short hash, order, a summary, each
//!   change before and after), from the model before and after it.
//! - [`figures`]: each context's offsets, lag, readiness and event counts, read from the metrics
//!   registry `/metrics` exports.
//! - [`http`]: `GET /api/admin/events`; [`socket`]: `GET /api/admin/events/ws`, live.

pub mod describe;
pub mod figures;
pub mod http;
pub mod ring;
pub mod socket;

pub use describe::{Describe, cart_hash};
pub use ring::{EventLog, Recorded};

use std::sync::Arc;

use crate::config::SocketSettings;
use crate::live::Live;
use crate::ops::metrics::Metrics;

/// What the event log's endpoints use: the rings, the metrics (for the contexts' figures), each
/// context's topic, the socket settings, the live hub (its shutdown signal) and, for the socket
/// that takes it as a subprotocol, the admin token.
pub struct Api<'a> {
    pub events: &'a Arc<EventLog>,
    pub metrics: &'a Metrics,
    pub topics: [(&'static str, &'a str); 2],
    pub sockets: &'a SocketSettings,
    pub live: &'a Live,
    pub admin_token: Option<&'a str>,
}
