//! Live updates: `GET /api/ws` upgrades to a websocket on which the server pushes
//! `shop.LiveFrame`s (binary, one per message) and the app sends `shop.LiveRequest`s naming the
//! products it shows.
//!
//! - **What changed.** A [`Collector`] observes the checkout writer: checkout's log holds every
//!   fact a frame shows (bridged catalog facts, stock, cart lines, orders). It gathers what each
//!   batch touched and, once the batch is published, announces it as one [`Batch`] on a broadcast
//!   channel. The writer never waits for a socket.
//! - **Frames.** Each socket's task picks what concerns it (its watched products, the cart of its
//!   cart cookie and that cart's orders) and builds the frames from the published models with the
//!   views the HTTP reads use, so a frame never shows what a read could not.
//! - **Bounds.** A socket that missed announcements gets a `Resync` frame. Frames wait for the
//!   socket in a bounded queue; a client that lets it fill is disconnected (1013) instead of
//!   slowing anyone else.
//! - **Keepalive and shutdown.** The server pings every 20 s and closes a socket it has heard
//!   nothing from for 60 s; at shutdown every socket is closed with 1001.

pub mod changes;
pub mod frames;
pub mod session;
pub mod socket;
#[cfg(test)]
mod tests;

pub use changes::{Batch, Collector, Live, OrderDecided, Touched};
pub use socket::{MAX_WATCHED, upgrade};

use crate::catalog::CatalogFold;
use crate::checkout::CheckoutFold;
use crate::config::{ShopSettings, SocketSettings};
use crate::engine::Context;
use crate::http::cookie::CartKeys;
use crate::ops::metrics::live::LiveMetrics;

/// What the live-update socket uses: both models, the hub, the cart keys (to follow the
/// shopper's cart), the shop's and the sockets' settings, and its metrics.
pub struct Api<'a> {
    pub catalog: &'a Context<CatalogFold>,
    pub checkout: &'a Context<CheckoutFold>,
    pub live: &'a Live,
    pub cart_keys: &'a CartKeys,
    pub shop: &'a ShopSettings,
    pub sockets: &'a SocketSettings,
    pub metrics: &'a LiveMetrics,
}
