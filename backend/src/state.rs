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
use crate::config::{Config, ShopSettings, SocketSettings};
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
    /// The endpoints' part of `config`.
    pub shop: ShopSettings,
    /// The websockets' part of `config`.
    pub sockets: SocketSettings,
}

impl State {
    /// The admin API's bearer token; None (or empty) switches the admin API off.
    pub fn admin_token(&self) -> Option<&str> {
        self.config.admin_token.as_deref()
    }

    /// What the catalog's endpoints use.
    pub fn catalog_api(&self) -> crate::catalog::http::Api<'_> {
        crate::catalog::http::Api {
            catalog: &self.catalog,
            checkout: &self.checkout,
            commands: &self.commands,
            search: &self.search,
            shop: &self.shop,
        }
    }

    /// What the operator's reads use.
    pub fn admin_api(&self) -> crate::admin::Api<'_> {
        crate::admin::Api {
            catalog: &self.catalog,
            checkout: &self.checkout,
            search: &self.search,
            shop: &self.shop,
        }
    }

    /// What an upload uses.
    pub fn uploads_api(&self) -> crate::admin::uploads::Api<'_> {
        crate::admin::uploads::Api {
            catalog: &self.catalog,
            checkout: &self.checkout,
            imports: &self.imports,
            kafka: &self.config.kafka,
            max_import_bytes: self.config.admin.max_import_bytes,
            body_timeout: self.config.limits.body_timeout,
        }
    }

    /// What the event log's endpoints use.
    pub fn events_api(&self) -> crate::eventlog::Api<'_> {
        crate::eventlog::Api {
            events: &self.events,
            metrics: &self.metrics,
            topics: [
                ("catalog", &self.config.kafka.catalog_topic),
                ("checkout", &self.config.kafka.checkout_topic),
            ],
            sockets: &self.sockets,
            live: &self.live,
            admin_token: self.admin_token(),
        }
    }

    /// What the live-update socket uses.
    pub fn live_api(&self) -> crate::live::Api<'_> {
        crate::live::Api {
            catalog: &self.catalog,
            checkout: &self.checkout,
            live: &self.live,
            cart_keys: &self.cart_keys,
            shop: &self.shop,
            sockets: &self.sockets,
            metrics: &self.metrics.live,
        }
    }

    /// What checkout's endpoints use.
    pub fn checkout_api(&self) -> crate::checkout::http::Api<'_> {
        crate::checkout::http::Api {
            catalog: &self.catalog,
            checkout: &self.checkout,
            commands: &self.commands,
            cart_keys: &self.cart_keys,
            cart_limiter: &self.cart_limiter,
            shop: &self.shop,
        }
    }
}
