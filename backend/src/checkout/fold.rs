//! The checkout's rules: its pure fold over the checkout topic.
//!
//! Every decision that depends on state is taken here, in log order: whether an order is
//! accepted (every line in stock, the cart version the shopper saw is current), and therefore
//! how much stock is left. Replicas folding the same log agree, and stock can never go below
//! zero.
//!
//! An order confirms what the shopper was shown (`OrderRequestedV2`: the cart version and every
//! line's title, unit price and quantity): a price or title that changed since is rejected here,
//! naming each changed line, so no replica ever charges a price the request did not name.
//!
//! Nothing an anonymous client writes stays for ever: a cart is dropped once the log's time
//! passes its last change plus the retention its events carry (30 days by default), an
//! idempotency record once it passes the command's time plus its retention (24 h), and a cart
//! holds at most the number of lines its events allow (see [`crate::engine::retention`]).
//!
//! Carts are kept under their names ([`super::cart_name`]): a new event names its cart by a
//! keyed hash of the shopper's secret, an event written before names by the legacy name of the
//! old cookie it carries. `CartRekeyedV1` moves a legacy cart, and its orders, to a new name.

use std::sync::Arc;

use shared::ids::CartId;
use shared::money;
use shared::proto::{
    CatalogEvent, ChangedLine, CheckoutEvent, CommandMeta, Money, OrderRejection, RejectionReason,
    ShownLine, catalog_event, checkout_event::Event,
};

use super::cart_name;
use super::codec;
use crate::engine::snapshot::{DecodeError, Decoder, Encoder};
use crate::engine::{Applied, Fold};

use super::model::{CommandRecord, Order};
// The model's names where the rest of the crate has named them (`checkout::fold::Outcome`).
pub use super::model::{Checkout, OrderLine, Outcome, ProductInfo};

/// Idempotency keys are scoped: a cart's keys cannot collide with another cart's or the admin's.
pub fn cart_command_key(cart: CartId, key: &str) -> String {
    format!("{cart}/{key}")
}

pub fn admin_command_key(key: &str) -> String {
    format!("admin/{key}")
}

/// The record of moving a legacy cart to `to`: one per new name, apart from the shopper's keys.
pub fn rekey_command_key(to: CartId) -> String {
    format!("rekey/{to}")
}

impl Checkout {
    /// Moves the log's time to a command's time and drops what fell due.
    fn advance_clock(&mut self, at: i64) {
        if !self.clock.advance(at) {
            return;
        }
        let now = self.clock.0;
        self.commands.expire(now);
        for cart in self.cart_deadlines.take_due(now) {
            self.carts.remove(&cart);
        }
    }

    /// The cart was changed or ordered at `at`: it stays `retention_ms` from then.
    fn touch(&mut self, cart_id: CartId, at: i64, retention_ms: i64) {
        let Some(cart) = self.carts.get_mut(&cart_id) else {
            return;
        };
        let next = self.clock.deadline(at, retention_ms);
        self.cart_deadlines.set(&cart_id, cart.expires_at_ms, next);
        cart.expires_at_ms = next;
    }

    /// Moves the cart and orders kept under `from` to `to`. A cart already under `to` (written
    /// by a replica of the old version after an earlier move) stays and the moved one is
    /// dropped; orders of both are kept, in id order.
    fn rekey(&mut self, from: CartId, to: CartId) {
        if let Some(cart) = self.carts.remove(&from) {
            self.cart_deadlines.set(&from, cart.expires_at_ms, None);
            if !self.carts.contains_key(&to) {
                self.cart_deadlines.set(&to, None, cart.expires_at_ms);
                self.carts.insert(to, cart);
            }
        }
        if let Some(moved) = self.orders_by_cart.remove(&from) {
            for id in &moved {
                if let Some(order) = self.orders.get_mut(id) {
                    Arc::make_mut(order).cart = to;
                }
            }
            let ids = self.orders_by_cart.entry(to).or_default();
            ids.append(moved);
            ids.sort();
        }
    }

    fn apply_catalog(&mut self, event: &CatalogEvent) -> Applied {
        match &event.event {
            Some(catalog_event::Event::ProductUpsertedV1(e)) => {
                self.products.insert(
                    e.product_id,
                    ProductInfo {
                        title: e.title.as_str().into(),
                        price_minor: e.price_minor,
                        currency: e.currency.as_str().into(),
                        enabled: true,
                    },
                );
            }
            Some(catalog_event::Event::PriceChangedV1(e)) => {
                match self.products.get_mut(e.product_id) {
                    Some(p) => p.price_minor = e.price_minor,
                    None => return Applied::Ignored("price of unknown product"),
                }
            }
            Some(catalog_event::Event::ProductDisabledV1(e)) => {
                match self.products.get_mut(e.product_id) {
                    Some(p) => p.enabled = false,
                    None => return Applied::Ignored("disable of unknown product"),
                }
            }
            None => return Applied::Ignored("unknown catalog event kind"),
        }
        Applied::Changed
    }

    fn sellable(&self, id: u64) -> bool {
        self.products.get(id).is_some_and(|p| p.enabled)
    }

    fn set_line(
        &mut self,
        cart_id: CartId,
        product_id: u64,
        quantity: u32,
        max_lines: u32,
    ) -> Outcome {
        if quantity > 0 && !self.sellable(product_id) {
            return Outcome::CartLineRefused;
        }
        if quantity == 0 && !self.carts.contains_key(&cart_id) {
            // Removing a line from a cart that does not exist creates no cart.
            return Outcome::CartUpdated;
        }
        let cart = self.carts.entry(cart_id).or_default();
        let at = cart.lines.iter().position(|(p, _)| *p == product_id);
        let changed = match (at, quantity) {
            (None, 0) => false,
            (None, _) if max_lines > 0 && cart.lines.len() >= max_lines as usize => {
                return Outcome::CartFull(max_lines);
            }
            (None, q) => {
                cart.lines.push((product_id, q));
                true
            }
            (Some(i), 0) => {
                cart.lines.remove(i);
                true
            }
            (Some(i), q) => std::mem::replace(&mut cart.lines[i].1, q) != q,
        };
        if changed {
            cart.version += 1;
        }
        Outcome::CartUpdated
    }

    /// Places the cart if it is the one the shopper saw: its version and, for a V2 request
    /// (`shown` is `Some`), every line with the title and unit price shown.
    fn place_order(
        &mut self,
        cart_id: CartId,
        seen_version: u64,
        shown: Option<&[ShownLine]>,
        placed_at_ms: i64,
    ) -> Outcome {
        let reject = |reason: RejectionReason, f: &dyn Fn(&mut OrderRejection)| {
            let mut r = OrderRejection {
                reason: reason as i32,
                ..Default::default()
            };
            f(&mut r);
            Outcome::OrderRejected(r)
        };
        let cart = self.carts.get(&cart_id).cloned().unwrap_or_default();
        if cart.version != seen_version {
            return reject(RejectionReason::CartChanged, &|r| {
                r.expected_version = seen_version;
                r.current_version = cart.version;
            });
        }
        if cart.lines.is_empty() {
            return reject(RejectionReason::CartEmpty, &|_| {});
        }
        if let Some(shown) = shown
            && !same_lines(&cart.lines, shown)
        {
            return reject(RejectionReason::CartChanged, &|r| {
                r.expected_version = seen_version;
                r.current_version = cart.version;
            });
        }
        if let Some(shown) = shown {
            // Every line for sale before prices are compared (a disabled product is not a
            // price change). V1 requests keep their old order of checks: line by line below.
            for &(product_id, quantity) in &cart.lines {
                if !self.sellable(product_id) {
                    return reject(RejectionReason::ProductUnavailable, &|r| {
                        r.product_id = product_id;
                        r.requested = quantity;
                    });
                }
            }
            let changed = self.changed_lines(&cart.lines, shown);
            if !changed.is_empty() {
                let prices = changed.iter().any(|c| c.shown_price != c.price);
                let reason = if prices {
                    RejectionReason::PriceChanged
                } else {
                    RejectionReason::TitleChanged
                };
                return reject(reason, &|r| r.changed_lines = changed.clone());
            }
        }
        let mut lines = Vec::with_capacity(cart.lines.len());
        for &(product_id, quantity) in &cart.lines {
            let Some(p) = self.products.get(product_id).filter(|p| p.enabled) else {
                return reject(RejectionReason::ProductUnavailable, &|r| {
                    r.product_id = product_id;
                    r.requested = quantity;
                });
            };
            let available = self.stock(product_id);
            if available < u64::from(quantity) {
                return reject(RejectionReason::OutOfStockLine, &|r| {
                    r.product_id = product_id;
                    r.requested = quantity;
                    r.available = available;
                });
            }
            if money::line_total(p.price_minor, quantity).is_err() {
                return reject(RejectionReason::ProductUnavailable, &|r| {
                    r.product_id = product_id
                });
            }
            lines.push(OrderLine {
                product_id,
                title: p.title.clone(),
                unit_price_minor: p.price_minor,
                currency: p.currency.clone(),
                quantity,
            });
        }
        for line in &lines {
            if let Some(s) = self.stock.get_mut(line.product_id) {
                *s -= u64::from(line.quantity);
                if *s == 0 {
                    self.in_stock.remove(line.product_id);
                }
            }
            *self.sold.entry(line.product_id).or_default() += u64::from(line.quantity);
        }
        self.last_order_id += 1;
        let id = self.last_order_id;
        self.orders.insert(
            id,
            Arc::new(Order {
                id,
                cart: cart_id,
                lines,
                placed_at_ms,
            }),
        );
        self.orders_by_cart
            .entry(cart_id)
            .or_default()
            .push_back(id);
        let cart = self.carts.entry(cart_id).or_default();
        cart.lines.clear();
        cart.version += 1;
        Outcome::OrderPlaced(id)
    }

    /// The cart's lines whose title or unit price is not what the shopper was shown, in cart
    /// order (the lines themselves are known to match).
    fn changed_lines(&self, lines: &[(u64, u32)], shown: &[ShownLine]) -> Vec<ChangedLine> {
        let mut changed = vec![];
        for &(product_id, _) in lines {
            let (Some(p), Some(s)) = (
                self.products.get(product_id),
                shown.iter().find(|s| s.product_id == product_id),
            ) else {
                continue;
            };
            let price = Money {
                minor: p.price_minor,
                currency: p.currency.to_string(),
            };
            let shown_price = s.unit_price.clone().unwrap_or_default();
            if shown_price != price || s.title != *p.title {
                changed.push(ChangedLine {
                    product_id,
                    shown_title: s.title.clone(),
                    title: p.title.to_string(),
                    shown_price: Some(shown_price),
                    price: Some(price),
                });
            }
        }
        changed
    }
}

/// Whether the shown lines are exactly the cart's (product and quantity, in any order).
fn same_lines(lines: &[(u64, u32)], shown: &[ShownLine]) -> bool {
    shown.len() == lines.len()
        && lines.iter().all(|&(product_id, quantity)| {
            shown
                .iter()
                .filter(|s| s.product_id == product_id)
                .map(|s| s.quantity)
                .eq(std::iter::once(quantity))
        })
}

/// The checkout's fold.
pub struct CheckoutFold;

impl Fold for CheckoutFold {
    type Model = Checkout;
    type Event = CheckoutEvent;
    const NAME: &'static str = "checkout";

    fn kind(event: &CheckoutEvent) -> &'static str {
        match &event.event {
            Some(Event::CatalogFactV1(_)) => "catalog_fact",
            Some(Event::StockDeliveredV1(_)) => "stock_delivered",
            Some(Event::CartLineSetV1(_)) => "cart_line_set",
            Some(Event::OrderRequestedV1(_)) => "order_requested",
            Some(Event::OrderRequestedV2(_)) => "order_requested_v2",
            Some(Event::CartRekeyedV1(_)) => "cart_rekeyed",
            None => "unknown",
        }
    }

    fn entries(model: &Checkout) -> Vec<(&'static str, usize)> {
        vec![
            ("products", model.products.len()),
            ("stock", model.stock.len()),
            ("carts", model.carts.len()),
            ("orders", model.orders.len()),
            ("commands", model.commands.len()),
            ("sold", model.sold.len()),
        ]
    }

    /// 3: carts kept under their names (legacy carts under a hash of their old id).
    const MODEL_VERSION: u32 = 3;

    fn encode(m: &Checkout, out: &mut Encoder) {
        codec::encode(m, out)
    }

    fn decode(d: &mut Decoder<'_>) -> Result<Checkout, DecodeError> {
        codec::decode(d)
    }

    fn apply(model: &mut Checkout, event: &CheckoutEvent, offset: i64) -> Applied {
        let meta = event.meta.clone().unwrap_or_default();
        model.advance_clock(meta.requested_at_ms);
        let at = meta.requested_at_ms;
        let outcome = match &event.event {
            Some(Event::CatalogFactV1(fact)) => {
                if fact.previous_source_offset != model.bridged_until.unwrap_or(-1) {
                    return Applied::Ignored("bridge copy out of chain (already applied)");
                }
                model.bridged_until = Some(fact.source_offset);
                return match &fact.event {
                    Some(e) => model.apply_catalog(e),
                    None => Applied::Ignored("empty bridge copy"),
                };
            }
            Some(Event::StockDeliveredV1(e)) => {
                let key = admin_command_key(&meta.idempotency_key);
                if model.commands.contains(&key) {
                    return Applied::Ignored("duplicate command");
                }
                let units = model
                    .stock
                    .get(e.product_id)
                    .copied()
                    .unwrap_or(0)
                    .saturating_add(u64::from(e.quantity));
                model.stock.insert(e.product_id, units);
                if units > 0 {
                    model.in_stock.insert(e.product_id);
                }
                (key, Outcome::StockAdded)
            }
            Some(Event::CartLineSetV1(e)) => {
                let Some(cart) = cart_name::named(&e.cart_name, &e.cart_id) else {
                    return Applied::Ignored("bad cart id");
                };
                let key = cart_command_key(cart, &meta.idempotency_key);
                if model.commands.contains(&key) {
                    return Applied::Ignored("duplicate command");
                }
                let outcome = model.set_line(cart, e.product_id, e.quantity, e.max_lines);
                model.touch(cart, at, e.cart_retention_ms);
                (key, outcome)
            }
            Some(Event::OrderRequestedV1(e)) => {
                let Some(cart) = cart_name::named(&e.cart_name, &e.cart_id) else {
                    return Applied::Ignored("bad cart id");
                };
                let key = cart_command_key(cart, &meta.idempotency_key);
                if model.commands.contains(&key) {
                    return Applied::Ignored("duplicate command");
                }
                (key, model.place_order(cart, e.cart_version, None, at))
            }
            Some(Event::OrderRequestedV2(e)) => {
                let Some(cart) = cart_name::named(&e.cart_name, &e.cart_id) else {
                    return Applied::Ignored("bad cart id");
                };
                let key = cart_command_key(cart, &meta.idempotency_key);
                if model.commands.contains(&key) {
                    return Applied::Ignored("duplicate command");
                }
                let outcome = model.place_order(cart, e.cart_version, Some(&e.lines), at);
                model.touch(cart, at, e.cart_retention_ms);
                (key, outcome)
            }
            Some(Event::CartRekeyedV1(e)) => {
                let (Ok(from), Ok(to)) = (
                    e.from_cart_name.parse::<CartId>(),
                    e.cart_name.parse::<CartId>(),
                ) else {
                    return Applied::Ignored("bad cart name");
                };
                let key = rekey_command_key(to);
                if model.commands.contains(&key) {
                    return Applied::Ignored("duplicate command");
                }
                model.rekey(from, to);
                (key, Outcome::CartRekeyed)
            }
            None => return Applied::Ignored("unknown event kind"),
        };
        let (key, outcome) = outcome;
        let CommandMeta {
            fingerprint,
            record_retention_ms,
            ..
        } = meta;
        model.commands.insert(
            &key,
            CommandRecord {
                fingerprint,
                offset,
                outcome,
                expires_at_ms: model.clock.deadline(at, record_retention_ms),
            },
        );
        Applied::Changed
    }
}

// The context's tests, in a file of their own; declared here so that their event builders keep
// the path other modules' tests import them by (`checkout::fold::tests::line`).
#[cfg(test)]
#[path = "tests.rs"]
pub(crate) mod tests;
