//! The checkout model: what checkout knows of products, stock, carts, orders and the commands
//! it has answered. Collections are persistent (`imbl`) so the engine publishes by sharing
//! structure. The fields are the context's own: [`super::fold`] changes them and
//! [`super::codec`] stores them; the rest of the crate reads through the methods here.

use std::sync::Arc;

use imbl::{HashMap, Vector};
use shared::ids::CartId;
use shared::proto::OrderRejection;

use crate::engine::idmap::IdMap;
use crate::engine::idset::IdSet;
use crate::engine::retention::{Deadlines, LogClock, Record, Records};

/// What checkout knows of a product: enough to price a cart and describe an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductInfo {
    pub title: Arc<str>,
    pub price_minor: i64,
    pub currency: Arc<str>,
    pub enabled: bool,
}

/// A shopper's cart: lines in the order they were first added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cart {
    pub lines: Vec<(u64, u32)>,
    /// Bumped by every change, including the order that empties it.
    pub version: u64,
    /// Log time at which the cart is dropped unless touched again (`None`: kept for ever).
    pub expires_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub product_id: u64,
    pub title: Arc<str>,
    pub unit_price_minor: i64,
    pub currency: Arc<str>,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: u64,
    pub cart: CartId,
    pub lines: Vec<OrderLine>,
    pub placed_at_ms: i64,
}

/// The result of a command, kept under its idempotency key so a retry gets the first answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    CartUpdated,
    /// A legacy cart (and its orders) moved to a new name.
    CartRekeyed,
    /// The line named a product checkout does not sell (unknown or disabled).
    CartLineRefused,
    /// The line would have been one more than the cart's limit (the limit).
    CartFull(u32),
    StockAdded,
    OrderPlaced(u64),
    OrderRejected(OrderRejection),
}

pub type CommandRecord = Record<Outcome>;

/// The checkout model.
#[derive(Debug, Clone, Default)]
pub struct Checkout {
    pub(super) products: IdMap<ProductInfo>,
    /// Highest catalog offset whose copy has been applied (-1: none yet).
    pub(super) bridged_until: Option<i64>,
    pub(super) stock: IdMap<u64>,
    /// Products with stock, for search's in-stock filter (derived from `stock`, not encoded).
    pub(super) in_stock: IdSet,
    pub(super) carts: HashMap<CartId, Cart>,
    pub(super) orders: HashMap<u64, Arc<Order>>,
    pub(super) orders_by_cart: HashMap<CartId, Vector<u64>>,
    pub(super) last_order_id: u64,
    /// Units sold per product by accepted orders (derived from the orders, not encoded).
    pub(super) sold: HashMap<u64, u64>,
    pub(super) commands: Records<Outcome>,
    pub(super) clock: LogClock,
    pub(super) cart_deadlines: Deadlines<CartId>,
}

impl Checkout {
    pub fn product(&self, id: u64) -> Option<&ProductInfo> {
        self.products.get(id)
    }

    pub fn stock(&self, id: u64) -> u64 {
        self.stock.get(id).copied().unwrap_or(0)
    }

    /// Products with at least one unit in stock.
    pub fn in_stock(&self) -> &IdSet {
        &self.in_stock
    }

    pub fn cart(&self, id: CartId) -> Option<&Cart> {
        self.carts.get(&id)
    }

    /// Whether anything is kept under this cart name: the cart, or orders of it.
    pub fn holds_cart(&self, id: CartId) -> bool {
        self.carts.contains_key(&id) || self.orders_by_cart.contains_key(&id)
    }

    pub fn order(&self, id: u64) -> Option<&Arc<Order>> {
        self.orders.get(&id)
    }

    /// A cart's orders, oldest first.
    pub fn orders_of(&self, cart: CartId) -> impl DoubleEndedIterator<Item = &Arc<Order>> {
        self.orders_by_cart
            .get(&cart)
            .into_iter()
            .flat_map(|ids| ids.iter())
            .filter_map(|id| self.orders.get(id))
    }

    pub fn command(&self, key: &str) -> Option<&CommandRecord> {
        self.commands.get(key)
    }

    /// Units of a product accepted orders took, ever.
    pub fn units_sold(&self, id: u64) -> u64 {
        self.sold.get(&id).copied().unwrap_or(0)
    }

    /// The newest order's id: orders are numbered 1, 2, 3, ... in log order and never dropped,
    /// so this is also how many there are.
    pub fn last_order_id(&self) -> u64 {
        self.last_order_id
    }

    /// Orders across all carts, newest first, skipping the `skip` newest: the order ids are the
    /// index (dense, in log order), so a page costs its own size whatever the number of orders.
    pub fn orders_newest_first(&self, skip: u64) -> impl Iterator<Item = &Arc<Order>> {
        let first = self.last_order_id.saturating_sub(skip);
        (1..=first).rev().filter_map(|id| self.orders.get(&id))
    }

    /// The catalog offset up to which the bridge's copies have been applied.
    pub fn bridged_until(&self) -> Option<i64> {
        self.bridged_until
    }

    pub fn counts(&self) -> (usize, usize, usize) {
        (self.carts.len(), self.orders.len(), self.stock.len())
    }

    /// The time the log has reached (Unix ms): what retention is measured against.
    pub fn log_time_ms(&self) -> i64 {
        self.clock.0
    }
}
