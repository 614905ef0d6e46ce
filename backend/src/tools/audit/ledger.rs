//! The audit's own ledger: the checkout log replayed by a second, deliberately plain set of rules
//! that shares no code with checkout's fold, so a bug in the fold (which every replica runs)
//! cannot hide from the audit. It decides each order request itself and counts stock per
//! product from the deliveries and the orders it accepted.
//!
//! The rules, as the shop documents them: a command's idempotency key takes effect once (per
//! cart for a shopper, once for the admin); a catalog copy counts only if it continues the
//! bridge's chain; a cart line names a product that is for sale (or removes one); an order is
//! accepted when the cart version matches what the shopper saw, the cart is not empty, and
//! every line is for sale, in stock and priced without overflow — then its units leave stock
//! and the cart empties. Every change of a cart bumps its version. An order that names the lines
//! it showed (V2) is accepted only for exactly those lines, at those titles and unit prices. A
//! line beyond the cart's limit (as its event names it) is not added.
//!
//! Carts are told apart by the name the log gives them: an event's `cart_name`, or for an event
//! written before names, the legacy name of its `cart_id` (the log's naming convention, which
//! every reader shares); a re-keying moves a legacy cart to its new name.
//!
//! Retention is left out on purpose: an audited run (a flash sale, a chaos run) lasts minutes,
//! far less than any record or cart retention, so nothing it writes expires during it.

use std::collections::{BTreeMap, HashMap, HashSet};

use shared::proto::{catalog_event, checkout_event::Event};

use super::LogEntry;
use crate::checkout::cart_name;

/// The cart an event's fields name, as text (None: neither field is a cart).
fn cart_of(name: &str, id: &str) -> Option<String> {
    cart_name::named(name, id).map(|c| c.to_string())
}

/// What the ledger decided for an order request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted(Vec<(u64, u32)>),
    /// The API code of the reason, and the line it names (0: none).
    Rejected(&'static str, u64),
    /// The key had already taken effect.
    Repeat,
}

#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// Per order request, by its log offset.
    pub verdicts: BTreeMap<i64, Verdict>,
    pub delivered: BTreeMap<u64, u64>,
    pub sold: BTreeMap<u64, u64>,
    /// Delivered minus sold at the end.
    pub stock: BTreeMap<u64, u64>,
}

#[derive(Default)]
struct Product {
    for_sale: bool,
    price_minor: i64,
    currency: String,
    title: String,
}

/// A line as an order request named it: product, quantity, title, unit price and currency.
type Named = (u64, u32, String, i64, String);

#[derive(Default)]
struct Cart {
    version: u64,
    lines: Vec<(u64, u32)>,
}

impl Ledger {
    pub fn replay(log: &[LogEntry]) -> Ledger {
        let mut ledger = Ledger::default();
        // (cart, key); `None` for the admin's keys.
        let mut taken: HashSet<(Option<String>, String)> = HashSet::new();
        let mut products: HashMap<u64, Product> = HashMap::new();
        let mut chain_end = -1i64;
        let mut carts: HashMap<String, Cart> = HashMap::new();
        for entry in log {
            let Some(event) = &entry.event else { continue };
            let key = event
                .meta
                .as_ref()
                .map(|m| m.idempotency_key.clone())
                .unwrap_or_default();
            match &event.event {
                Some(Event::CatalogFactV1(copy)) => {
                    if copy.previous_source_offset != chain_end {
                        continue;
                    }
                    chain_end = copy.source_offset;
                    match copy.event.as_ref().and_then(|e| e.event.as_ref()) {
                        Some(catalog_event::Event::ProductUpsertedV1(u)) => {
                            products.insert(
                                u.product_id,
                                Product {
                                    for_sale: true,
                                    price_minor: u.price_minor,
                                    currency: u.currency.clone(),
                                    title: u.title.clone(),
                                },
                            );
                        }
                        Some(catalog_event::Event::PriceChangedV1(c)) => {
                            if let Some(p) = products.get_mut(&c.product_id) {
                                p.price_minor = c.price_minor;
                            }
                        }
                        Some(catalog_event::Event::ProductDisabledV1(d)) => {
                            if let Some(p) = products.get_mut(&d.product_id) {
                                p.for_sale = false;
                            }
                        }
                        None => {}
                    }
                }
                Some(Event::StockDeliveredV1(d)) if taken.insert((None, key.clone())) => {
                    *ledger.stock.entry(d.product_id).or_default() += u64::from(d.quantity);
                    *ledger.delivered.entry(d.product_id).or_default() += u64::from(d.quantity);
                }
                Some(Event::StockDeliveredV1(_)) => {}
                Some(Event::CartLineSetV1(l)) => {
                    let Some(cart_key) = cart_of(&l.cart_name, &l.cart_id) else {
                        continue;
                    };
                    if !taken.insert((Some(cart_key.clone()), key)) {
                        continue;
                    }
                    let for_sale = products.get(&l.product_id).is_some_and(|p| p.for_sale);
                    if l.quantity > 0 && !for_sale {
                        continue;
                    }
                    let cart = carts.entry(cart_key).or_default();
                    let before = cart.lines.clone();
                    let full = l.max_lines > 0 && cart.lines.len() >= l.max_lines as usize;
                    match cart.lines.iter().position(|(p, _)| *p == l.product_id) {
                        Some(i) if l.quantity == 0 => {
                            cart.lines.remove(i);
                        }
                        Some(i) => cart.lines[i].1 = l.quantity,
                        None if l.quantity > 0 && !full => {
                            cart.lines.push((l.product_id, l.quantity))
                        }
                        None => {}
                    }
                    if cart.lines != before {
                        cart.version += 1;
                    }
                }
                Some(Event::OrderRequestedV1(_)) | Some(Event::OrderRequestedV2(_)) => {
                    let (cart_key, version, named) = match &event.event {
                        Some(Event::OrderRequestedV1(o)) => {
                            (cart_of(&o.cart_name, &o.cart_id), o.cart_version, None)
                        }
                        Some(Event::OrderRequestedV2(o)) => {
                            let named: Vec<Named> = o
                                .lines
                                .iter()
                                .map(|l| {
                                    let price = l.unit_price.clone().unwrap_or_default();
                                    let t = l.title.clone();
                                    (l.product_id, l.quantity, t, price.minor, price.currency)
                                })
                                .collect();
                            (
                                cart_of(&o.cart_name, &o.cart_id),
                                o.cart_version,
                                Some(named),
                            )
                        }
                        _ => unreachable!("matched above"),
                    };
                    let Some(cart_key) = cart_key else {
                        continue;
                    };
                    let verdict = if !taken.insert((Some(cart_key.clone()), key)) {
                        Verdict::Repeat
                    } else {
                        let cart = carts.entry(cart_key).or_default();
                        let verdict =
                            decide(cart, version, named.as_deref(), &products, &ledger.stock);
                        if let Verdict::Accepted(lines) = &verdict {
                            for &(p, q) in lines {
                                *ledger.stock.entry(p).or_default() -= u64::from(q);
                                *ledger.sold.entry(p).or_default() += u64::from(q);
                            }
                            cart.lines.clear();
                            cart.version += 1;
                        }
                        verdict
                    };
                    ledger.verdicts.insert(entry.offset, verdict);
                }
                // A cart written before names moves to a name (once per name); a cart already
                // there stays.
                Some(Event::CartRekeyedV1(r)) => {
                    let (Some(from), Some(to)) =
                        (cart_of(&r.from_cart_name, ""), cart_of(&r.cart_name, ""))
                    else {
                        continue;
                    };
                    if !taken.insert((Some(format!("rekey/{to}")), String::new())) {
                        continue;
                    }
                    if let Some(cart) = carts.remove(&from) {
                        carts.entry(to).or_insert(cart);
                    }
                }
                None => {}
            }
        }
        ledger
    }
}

fn decide(
    cart: &Cart,
    seen_version: u64,
    named: Option<&[Named]>,
    products: &HashMap<u64, Product>,
    stock: &BTreeMap<u64, u64>,
) -> Verdict {
    if cart.version != seen_version {
        return Verdict::Rejected("cart_changed", 0);
    }
    if cart.lines.is_empty() {
        return Verdict::Rejected("cart_empty", 0);
    }
    if let Some(named) = named {
        let mut shown: Vec<(u64, u32)> = named.iter().map(|n| (n.0, n.1)).collect();
        let mut lines = cart.lines.clone();
        shown.sort_unstable();
        lines.sort_unstable();
        if shown != lines {
            return Verdict::Rejected("cart_changed", 0);
        }
    }
    if let Some(named) = named {
        for &(p, _) in &cart.lines {
            if !products.get(&p).is_some_and(|p| p.for_sale) {
                return Verdict::Rejected("product_unavailable", p);
            }
        }
        let (mut price, mut title) = (false, false);
        for (p, _, t, minor, currency) in named {
            let product = &products[p];
            price |= product.price_minor != *minor || product.currency != *currency;
            title |= product.title != *t;
        }
        if price {
            return Verdict::Rejected("price_changed", 0);
        }
        if title {
            return Verdict::Rejected("title_changed", 0);
        }
    }
    for &(p, q) in &cart.lines {
        let Some(product) = products.get(&p).filter(|p| p.for_sale) else {
            return Verdict::Rejected("product_unavailable", p);
        };
        if stock.get(&p).copied().unwrap_or(0) < u64::from(q) {
            return Verdict::Rejected("out_of_stock", p);
        }
        if product.price_minor.checked_mul(i64::from(q)).is_none() {
            return Verdict::Rejected("product_unavailable", p);
        }
    }
    Verdict::Accepted(cart.lines.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::fold::tests::{disable, upsert};
    use crate::checkout::fold::tests::{A, B, fact, line, order, stock};
    use crate::tools::audit::tests::log;

    #[test]
    fn the_ledger_decides_by_its_own_rules() {
        let l = Ledger::replay(&log(vec![
            fact(0, upsert(7, "Teapot", "Kitchen", 3200)),
            fact(1, upsert(8, "Cup", "Kitchen", 500)),
            stock("s1", 7, 1),
            stock("s1", 7, 1),
            line("a1", A, 7, 1),
            line("b1", B, 7, 1),
            order("oa", A, 1),
            order("oa", A, 1),
            order("ob", B, 1),
            line("b2", B, 7, 0),
            line("b3", B, 8, 2),
            fact(2, disable(8)),
            order("ob2", B, 3),
            order("ob3", B, 2),
        ]));
        assert_eq!(
            l.verdicts.into_iter().collect::<Vec<_>>(),
            vec![
                (6, Verdict::Accepted(vec![(7, 1)])),
                (7, Verdict::Repeat),
                (8, Verdict::Rejected("out_of_stock", 7)),
                (12, Verdict::Rejected("product_unavailable", 8)),
                (13, Verdict::Rejected("cart_changed", 0)),
            ]
        );
        assert_eq!((l.delivered[&7], l.sold[&7], l.stock[&7]), (1, 1, 0));
    }
}
