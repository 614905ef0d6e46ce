//! How a live frame changes what a page shows. Product frames are full snapshots of price,
//! availability and sale state, so applying one overwrites those fields; cart frames replace the
//! cart unless they are older than what is shown.

use shared::money;
use shared::proto::{CartView, ProductLive, ProductView};

/// Overwrites a product's live fields with a snapshot for the same product. Returns whether it
/// applied.
pub fn apply_to_product(product: &mut ProductView, live: &ProductLive) -> bool {
    if product.id != live.product_id {
        return false;
    }
    if live.price.is_some() {
        product.price = live.price.clone();
    }
    if live.availability.is_some() {
        product.availability = live.availability;
    }
    // An operator's edit of the texts shows too (older servers send none).
    if !live.title.is_empty() {
        product.title = live.title.clone();
        product.description = live.description.clone();
    }
    true
}

/// Applies a product snapshot to the cart's line for that product: unit price, line total,
/// availability and whether it can still be ordered; totals are recomputed over orderable lines
/// (as the server computes them). Returns whether any line changed.
pub fn apply_to_cart(cart: &mut CartView, live: &ProductLive) -> bool {
    let Some(line) = cart
        .lines
        .iter_mut()
        .find(|l| l.product_id == live.product_id)
    else {
        return false;
    };
    if let Some(price) = &live.price {
        line.unit_price = Some(price.clone());
        line.line_total = money::line_total(price.minor, line.quantity)
            .ok()
            .map(|minor| money::money(minor, &price.currency));
    }
    if live.availability.is_some() {
        line.availability = live.availability;
    }
    line.orderable = live.for_sale;
    if let Ok(totals) = money::totals(
        cart.lines
            .iter()
            .filter(|l| l.orderable)
            .filter_map(|l| l.line_total.as_ref())
            .map(|m| (m.minor, m.currency.as_str())),
    ) {
        cart.totals = totals;
    }
    true
}

/// Whether an incoming cart (from a command's answer, a read or a frame) should replace the one
/// shown. Versions only grow, so an older one arrived late and is dropped; the same version may
/// carry fresher prices or stock and is taken.
pub fn accept_cart(shown: Option<&CartView>, incoming: &CartView) -> bool {
    shown.is_none_or(|c| incoming.version >= c.version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::money::money;
    use shared::proto::{Availability, CartLineView};

    fn live(id: u64, price: i64, available: u64, for_sale: bool) -> ProductLive {
        ProductLive {
            product_id: id,
            price: Some(money(price, "EUR")),
            availability: Some(Availability {
                status: if available == 0 { 3 } else { 1 },
                available,
            }),
            for_sale,
            ..Default::default()
        }
    }

    fn line(id: u64, price: i64, quantity: u32) -> CartLineView {
        CartLineView {
            product_id: id,
            title: format!("P{id}"),
            unit_price: Some(money(price, "EUR")),
            quantity,
            line_total: Some(money(price * i64::from(quantity), "EUR")),
            availability: None,
            orderable: true,
        }
    }

    #[test]
    fn a_snapshot_overwrites_price_and_stock_of_its_product_only() {
        let mut p = ProductView {
            id: 7,
            price: Some(money(100, "EUR")),
            ..Default::default()
        };
        assert!(!apply_to_product(&mut p, &live(8, 1, 1, true)));
        assert_eq!(p.price, Some(money(100, "EUR")));
        assert!(apply_to_product(&mut p, &live(7, 250, 0, true)));
        assert_eq!(p.price, Some(money(250, "EUR")));
        assert_eq!(p.availability.unwrap().available, 0);
    }

    #[test]
    fn cart_lines_follow_price_and_sale_state() {
        let mut cart = CartView {
            lines: vec![line(1, 100, 2), line(2, 50, 1)],
            totals: vec![money(250, "EUR")],
            version: 3,
            item_count: 3,
        };
        assert!(apply_to_cart(&mut cart, &live(1, 120, 5, true)));
        assert_eq!(cart.lines[0].line_total, Some(money(240, "EUR")));
        assert_eq!(cart.totals, vec![money(290, "EUR")]);
        assert!(apply_to_cart(&mut cart, &live(2, 50, 5, false)));
        assert!(!cart.lines[1].orderable);
        assert_eq!(cart.totals, vec![money(240, "EUR")]);
        assert!(!apply_to_cart(&mut cart, &live(9, 1, 1, true)));
        assert_eq!(cart.version, 3, "a price change is not a cart change");
    }

    #[test]
    fn late_carts_are_dropped() {
        let v = |version| CartView {
            version,
            ..Default::default()
        };
        assert!(accept_cart(None, &v(0)));
        assert!(accept_cart(Some(&v(3)), &v(4)));
        assert!(accept_cart(Some(&v(3)), &v(3)));
        assert!(!accept_cart(Some(&v(3)), &v(2)));
    }
}
