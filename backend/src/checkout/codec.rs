//! The checkout model's snapshot encoding: every map in key order, so equal models give equal
//! bytes; a load rebuilds what is derived (the in-stock set, units sold) rather than reading it.

use std::sync::Arc;

use imbl::HashMap;
use shared::ids::CartId;

use super::model::{Cart, Checkout, CommandRecord, Order, OrderLine, Outcome, ProductInfo};
use crate::engine::idmap::IdMap;
use crate::engine::idset;
use crate::engine::retention::LogClock;
use crate::engine::snapshot::{DecodeError, Decoder, Encoder};

/// A map's entries in key order: what makes an encoding deterministic.
fn sorted<K: Ord, V>(map: &HashMap<K, V>) -> Vec<(&K, &V)> {
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

/// Every map in key order; texts shared by `Arc` are written once per place they appear.
pub(super) fn encode(m: &Checkout, out: &mut Encoder) {
    out.len(m.products.len());
    for (id, p) in m.products.iter() {
        out.u64(id);
        out.str(&p.title);
        out.i64(p.price_minor);
        out.str(&p.currency);
        out.bool(p.enabled);
    }
    out.bool(m.bridged_until.is_some());
    out.i64(m.bridged_until.unwrap_or(-1));
    out.len(m.stock.len());
    for (id, units) in m.stock.iter() {
        out.u64(id);
        out.u64(*units);
    }
    out.len(m.carts.len());
    for (id, cart) in sorted(&m.carts) {
        out.u128(id.0);
        out.u64(cart.version);
        out.opt_i64(cart.expires_at_ms);
        out.len(cart.lines.len());
        for &(product, quantity) in &cart.lines {
            out.u64(product);
            out.u32(quantity);
        }
    }
    out.len(m.orders.len());
    for (id, order) in sorted(&m.orders) {
        out.u64(*id);
        out.u128(order.cart.0);
        out.i64(order.placed_at_ms);
        out.len(order.lines.len());
        for l in &order.lines {
            out.u64(l.product_id);
            out.str(&l.title);
            out.i64(l.unit_price_minor);
            out.str(&l.currency);
            out.u32(l.quantity);
        }
    }
    out.len(m.orders_by_cart.len());
    for (cart, ids) in sorted(&m.orders_by_cart) {
        out.u128(cart.0);
        out.len(ids.len());
        for id in ids {
            out.u64(*id);
        }
    }
    out.u64(m.last_order_id);
    out.i64(m.clock.0);
    out.len(m.commands.len());
    for (key, c) in m.commands.sorted() {
        out.str(key);
        out.u64(c.fingerprint);
        out.i64(c.offset);
        out.opt_i64(c.expires_at_ms);
        match &c.outcome {
            Outcome::CartUpdated => out.u8(0),
            Outcome::CartLineRefused => out.u8(1),
            Outcome::StockAdded => out.u8(2),
            Outcome::OrderPlaced(id) => {
                out.u8(3);
                out.u64(*id);
            }
            Outcome::OrderRejected(r) => {
                out.u8(4);
                out.bytes(&prost::Message::encode_to_vec(r));
            }
            Outcome::CartFull(max) => {
                out.u8(5);
                out.u32(*max);
            }
            Outcome::CartRekeyed => out.u8(6),
        }
    }
}

pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Checkout, DecodeError> {
    let mut m = Checkout::default();
    // The same currency in every product: one shared text, as most folds would make it.
    let mut currencies: Vec<Arc<str>> = vec![];
    let text = |s: &str, shared: &mut Vec<Arc<str>>| match shared.iter().find(|c| &***c == s) {
        Some(c) => c.clone(),
        None => {
            let c: Arc<str> = s.into();
            if shared.len() < 16 {
                shared.push(c.clone());
            }
            c
        }
    };
    let count = d.len(8 + 8 + 8 + 8 + 1)?;
    let mut products = Vec::with_capacity(count);
    for _ in 0..count {
        let id = d.u64()?;
        if products.last().is_some_and(|&(last, _)| last >= id) {
            return Err(DecodeError(format!("product {id} out of order")));
        }
        let info = ProductInfo {
            title: d.str()?.into(),
            price_minor: d.i64()?,
            currency: text(d.str()?, &mut currencies),
            enabled: d.bool()?,
        };
        products.push((id, info));
    }
    let bridged = d.bool()?;
    let until = d.i64()?;
    m.bridged_until = bridged.then_some(until);
    let count = d.len(16)?;
    let mut stock = Vec::with_capacity(count);
    for _ in 0..count {
        let (id, units) = (d.u64()?, d.u64()?);
        if stock.last().is_some_and(|&(last, _)| last >= id) {
            return Err(DecodeError(format!("stock of product {id} out of order")));
        }
        stock.push((id, units));
    }
    // The product and stock maps are built on a second thread while this one decodes the
    // rest: at a million products each map takes a good part of a start-up.
    std::thread::scope(|s| {
        let maps = s.spawn(move || {
            let products = IdMap::from_sorted(products);
            let mut in_stock = idset::Builder::default();
            // Encoded in id order.
            stock
                .iter()
                .filter(|&&(_, units)| units > 0)
                .for_each(|&(id, _)| in_stock.push(id));
            (products, IdMap::from_sorted(stock), in_stock.build())
        });
        let rest = decode_rest(d, &mut m, &mut |s| text(s, &mut currencies));
        (m.products, m.stock, m.in_stock) = maps.join().expect("building a map does not panic");
        rest
    })?;
    Ok(m)
}

/// Carts, orders and command records of a snapshot.
fn decode_rest(
    d: &mut Decoder<'_>,
    m: &mut Checkout,
    text: &mut dyn FnMut(&str) -> Arc<str>,
) -> Result<(), DecodeError> {
    for _ in 0..d.len(16 + 8 + 1 + 8)? {
        let id = CartId(d.u128()?);
        let version = d.u64()?;
        let expires_at_ms = d.opt_i64()?;
        let lines = (0..d.len(12)?)
            .map(|_| Ok((d.u64()?, d.u32()?)))
            .collect::<Result<_, DecodeError>>()?;
        m.cart_deadlines.set(&id, None, expires_at_ms);
        m.carts.insert(
            id,
            Cart {
                lines,
                version,
                expires_at_ms,
            },
        );
    }
    for _ in 0..d.len(8 + 16 + 8 + 8)? {
        let id = d.u64()?;
        let cart = CartId(d.u128()?);
        let placed_at_ms = d.i64()?;
        let lines = (0..d.len(8 + 8 + 8 + 8 + 4)?)
            .map(|_| {
                Ok(OrderLine {
                    product_id: d.u64()?,
                    title: d.str()?.into(),
                    unit_price_minor: d.i64()?,
                    currency: text(d.str()?),
                    quantity: d.u32()?,
                })
            })
            .collect::<Result<_, DecodeError>>()?;
        let order = Order {
            id,
            cart,
            lines,
            placed_at_ms,
        };
        for l in &order.lines {
            *m.sold.entry(l.product_id).or_default() += u64::from(l.quantity);
        }
        m.orders.insert(id, Arc::new(order));
    }
    for _ in 0..d.len(16 + 8)? {
        let cart = CartId(d.u128()?);
        let ids = (0..d.len(8)?).map(|_| d.u64()).collect::<Result<_, _>>()?;
        m.orders_by_cart.insert(cart, ids);
    }
    m.last_order_id = d.u64()?;
    m.clock = LogClock(d.i64()?);
    let mut last: Option<&str> = None;
    for _ in 0..d.len(8 + 8 + 8 + 1 + 1)? {
        let key = d.str()?;
        if last.is_some_and(|l| l >= key) {
            return Err(DecodeError(format!("command {key:?} out of order")));
        }
        last = Some(key);
        let fingerprint = d.u64()?;
        let offset = d.i64()?;
        let expires_at_ms = d.opt_i64()?;
        let outcome = match d.u8()? {
            0 => Outcome::CartUpdated,
            1 => Outcome::CartLineRefused,
            2 => Outcome::StockAdded,
            3 => Outcome::OrderPlaced(d.u64()?),
            4 => Outcome::OrderRejected(
                prost::Message::decode(d.bytes()?)
                    .map_err(|e| DecodeError(format!("order rejection: {e}")))?,
            ),
            5 => Outcome::CartFull(d.u32()?),
            6 => Outcome::CartRekeyed,
            tag => return Err(DecodeError(format!("outcome tag {tag}"))),
        };
        let record = CommandRecord {
            fingerprint,
            offset,
            outcome,
            expires_at_ms,
        };
        m.commands.insert_new(key, record);
    }
    Ok(())
}
