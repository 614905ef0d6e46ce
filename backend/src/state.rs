//! What a request handler reads: the two contexts, the command runner, the live-update hub,
//! the event log, the imports under way, the cart keys and limiter, broker reachability, the
//! metrics and the configuration. Built once by the composition root
//! ([`crate::app`]) and shared by reference; nothing here starts anything.

use std::sync::Arc;

use crate::admin::Imports;
use crate::catalog::CatalogFold;
use crate::catalog::search::SearchPool;
use crate::checkout::CheckoutFold;
use crate::commands::Commands;
use crate::config::Config;
use crate::engine::Context;
use crate::engine::kafka::BrokerStatus;
use crate::eventlog::EventLog;
use crate::http::cart_limit::CartLimiter;
use crate::http::cookie::CartKeys;
use crate::live::Live;
use crate::ops::metrics::Metrics;

/// The running shop as its handlers see it.
pub struct State {
    pub config: Config,
    pub catalog: Context<CatalogFold>,
    pub checkout: Context<CheckoutFold>,
    pub commands: Commands,
    pub broker: Arc<BrokerStatus>,
    pub metrics: Metrics,
    pub live: Live,
    /// Where searches too large for a request worker run.
    pub search: SearchPool,
    /// The contexts' newest events, for the operator.
    pub events: Arc<EventLog>,
    /// CSV uploads this replica runs.
    pub imports: Imports,
    /// What issues and checks cart cookies and names carts (from `CART_KEY`).
    pub cart_keys: CartKeys,
    /// New carts per client address.
    pub cart_limiter: CartLimiter,
}

impl State {
    /// The admin API's bearer token; None (or empty) switches the admin API off.
    pub fn admin_token(&self) -> Option<&str> {
        self.config.admin_token.as_deref()
    }
}
