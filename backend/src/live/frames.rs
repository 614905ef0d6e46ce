//! The frames a batch means for one socket, built from the published models with the views
//! the HTTP reads use.

use std::collections::HashSet;

use shared::ids::CartId;
use shared::proto::{LiveFrame, OrderRejectedLive, ProductLive, live_frame::Frame};

use crate::catalog::Catalog;
use crate::catalog::query::price;
use crate::checkout::query::{cart_view, order_view, product_availability};
use crate::checkout::{Checkout, Outcome};

use super::changes::*;

/// A product's live fields from the current models; None for a product the catalog never had.
pub fn product_live(
    catalog: &Catalog,
    checkout: &Checkout,
    id: u64,
    low_threshold: u64,
) -> Option<ProductLive> {
    let p = catalog.product(id)?;
    Some(ProductLive {
        product_id: id,
        price: Some(price(p)),
        availability: Some(product_availability(checkout, id, low_threshold)),
        for_sale: !p.disabled,
        title: p.title().to_owned(),
        description: p.description().to_owned(),
    })
}

/// The cart's frame; None (logged) if its totals cannot be computed, as a read would fail.
pub fn cart_frame(checkout: &Checkout, cart: CartId, low_threshold: u64) -> Option<LiveFrame> {
    match cart_view(checkout, cart, low_threshold) {
        Ok(view) => Some(frame(Frame::Cart(view))),
        Err(e) => {
            tracing::warn!(%e, "cannot price a cart for its live frame");
            None
        }
    }
}

/// The frame of a decided order: the order, or why it was rejected.
pub fn order_frame(checkout: &Checkout, order: &OrderDecided) -> Option<LiveFrame> {
    match &checkout.command(&order.key)?.outcome {
        Outcome::OrderPlaced(id) => {
            Some(frame(Frame::OrderPlaced(order_view(checkout.order(*id)?))))
        }
        Outcome::OrderRejected(r) => Some(frame(Frame::OrderRejected(OrderRejectedLive {
            rejection: Some(r.clone()),
            cart_version: order.cart_version,
        }))),
        _ => None,
    }
}

/// The frames a batch means for one socket: its watched products (by id), then its cart's
/// decided orders, then its cart if it changed or a product in it did.
pub fn frames_for(
    batch: &Batch,
    watched: &HashSet<u64>,
    cart: Option<CartId>,
    catalog: &Catalog,
    checkout: &Checkout,
    low_threshold: u64,
) -> Vec<LiveFrame> {
    let mut products: Vec<u64> = if watched.len() < batch.products.len() {
        let mut ids: Vec<u64> = watched
            .iter()
            .copied()
            .filter(|&id| batch.touches_product(id))
            .collect();
        ids.sort_unstable();
        ids
    } else {
        batch.products.clone()
    };
    products.retain(|id| watched.contains(id));
    let mut frames: Vec<LiveFrame> = products
        .into_iter()
        .filter_map(|id| product_live(catalog, checkout, id, low_threshold))
        .map(|p| frame(Frame::Product(p)))
        .collect();
    if let Some(cart) = cart {
        frames.extend(
            batch
                .orders
                .iter()
                .filter(|o| o.cart == cart)
                .filter_map(|o| order_frame(checkout, o)),
        );
        let lines_touched = checkout
            .cart(cart)
            .is_some_and(|c| c.lines.iter().any(|&(p, _)| batch.touches_product(p)));
        if batch.touches_cart(cart) || lines_touched {
            frames.extend(cart_frame(checkout, cart, low_threshold));
        }
    }
    frames
}

pub(super) fn frame(f: Frame) -> LiveFrame {
    LiveFrame { frame: Some(f) }
}

/// A frame's kind, as the `kind` label of `shop_live_frames_sent_total`.
pub fn kind(f: &LiveFrame) -> &'static str {
    match &f.frame {
        Some(Frame::Product(_)) => "product",
        Some(Frame::Cart(_)) => "cart",
        Some(Frame::OrderPlaced(_)) => "order_placed",
        Some(Frame::OrderRejected(_)) => "order_rejected",
        Some(Frame::Resync(_)) => "resync",
        None => "empty",
    }
}
