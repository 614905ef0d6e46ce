//! Reads of the checkout model, shaped as the API's views: availability, carts and orders.

use shared::ids::CartId;
use shared::money::{self, MoneyError};
use shared::proto::{
    Availability, CartLineView, CartView, OrderLineView, OrderRejection, OrderView,
    RejectionReason, StockStatus,
};
use shared::rejection::changed_lines_text;

use super::model::{Checkout, Order};

/// "in stock", "only N left" (at or below the threshold, or fewer than wanted) or "out of stock".
pub fn availability(stock: u64, wanted: u32, low_threshold: u64) -> Availability {
    let status = if stock == 0 {
        StockStatus::OutOfStock
    } else if stock <= low_threshold || stock < u64::from(wanted) {
        StockStatus::LowStock
    } else {
        StockStatus::InStock
    };
    Availability {
        status: status as i32,
        available: stock,
    }
}

/// A product's availability where it is offered (its page, a listing, a stock delivery's
/// answer): whether one unit can be bought.
pub fn product_availability(m: &Checkout, product_id: u64, low_threshold: u64) -> Availability {
    availability(m.stock(product_id), 1, low_threshold)
}

/// The cart as its shopper sees it; an unknown cart is an empty one at version 0.
pub fn cart_view(m: &Checkout, cart: CartId, low_threshold: u64) -> Result<CartView, MoneyError> {
    let Some(c) = m.cart(cart) else {
        return Ok(CartView::default());
    };
    let mut lines = Vec::with_capacity(c.lines.len());
    let mut amounts = Vec::with_capacity(c.lines.len());
    for &(product_id, quantity) in &c.lines {
        let info = m.product(product_id);
        let (title, unit, currency, orderable) = match info {
            Some(p) => (
                p.title.to_string(),
                p.price_minor,
                p.currency.as_ref(),
                p.enabled,
            ),
            None => (String::new(), 0, "", false),
        };
        let total = money::line_total(unit, quantity)?;
        if orderable {
            amounts.push((total, currency));
        }
        lines.push(CartLineView {
            product_id,
            title,
            unit_price: Some(money::money(unit, currency)),
            quantity,
            line_total: Some(money::money(total, currency)),
            availability: Some(availability(m.stock(product_id), quantity, low_threshold)),
            orderable,
        });
    }
    Ok(CartView {
        item_count: c.lines.iter().map(|(_, q)| q).sum(),
        lines,
        totals: money::totals(amounts)?,
        version: c.version,
    })
}

pub fn order_view(o: &Order) -> OrderView {
    let lines: Vec<OrderLineView> = o
        .lines
        .iter()
        .map(|l| {
            let total = l.unit_price_minor * i64::from(l.quantity); // checked when the order was placed
            OrderLineView {
                product_id: l.product_id,
                title: l.title.to_string(),
                unit_price: Some(money::money(l.unit_price_minor, &l.currency)),
                quantity: l.quantity,
                line_total: Some(money::money(total, &l.currency)),
            }
        })
        .collect();
    let totals = money::totals(o.lines.iter().map(|l| {
        (
            l.unit_price_minor * i64::from(l.quantity),
            l.currency.as_ref(),
        )
    }))
    .unwrap_or_default();
    OrderView {
        id: o.id,
        lines,
        totals,
        placed_at_ms: o.placed_at_ms,
    }
}

/// Why an order was rejected, as the API's error code and message say it (and the event log).
pub fn rejection_message(model: &Checkout, r: &OrderRejection) -> (&'static str, String) {
    let title = |id: u64| {
        model
            .product(id)
            .map(|p| format!("“{}”", p.title))
            .unwrap_or_else(|| format!("product {id}"))
    };
    match r.reason() {
        RejectionReason::OutOfStockLine if r.available == 0 => (
            "out_of_stock",
            format!("{} is sold out", title(r.product_id)),
        ),
        RejectionReason::OutOfStockLine => (
            "out_of_stock",
            format!(
                "only {} of {} left, your cart has {}",
                r.available,
                title(r.product_id),
                r.requested
            ),
        ),
        RejectionReason::CartChanged => (
            "cart_changed",
            format!(
                "your cart changed since you saw it (version {} now, {} seen); please review it and order again",
                r.current_version, r.expected_version
            ),
        ),
        RejectionReason::CartEmpty => ("cart_empty", "your cart is empty".to_owned()),
        RejectionReason::PriceChanged => (
            "price_changed",
            format!(
                "prices changed since you saw your cart: {}; nothing was charged, please review the new total and order again",
                changed_lines_text(r)
            ),
        ),
        RejectionReason::TitleChanged => (
            "title_changed",
            format!(
                "products changed since you saw your cart: {}; nothing was charged, please review your cart and order again",
                changed_lines_text(r)
            ),
        ),
        RejectionReason::ProductUnavailable | RejectionReason::Unspecified => (
            "product_unavailable",
            format!("{} is no longer available", title(r.product_id)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::fold::tests::{disable, upsert};
    use crate::checkout::fold::CheckoutFold;
    use crate::checkout::fold::tests::{A, B, fact, line, stock};
    use crate::engine::Fold;

    #[test]
    fn availability_levels() {
        assert_eq!(availability(0, 1, 5).status(), StockStatus::OutOfStock);
        assert_eq!(availability(3, 1, 5).status(), StockStatus::LowStock);
        assert_eq!(availability(50, 1, 5).status(), StockStatus::InStock);
        assert_eq!(availability(50, 60, 5).status(), StockStatus::LowStock);
    }

    #[test]
    fn cart_view_prices_lines_and_excludes_unorderable_ones_from_totals() {
        let mut m = Checkout::default();
        let events = [
            fact(0, upsert(1, "Lamp", "Home", 2500)),
            fact(1, upsert(2, "Chair", "Home", 9900)),
            stock("s", 1, 10),
            line("a", A, 1, 2),
            line("b", A, 2, 1),
            fact(2, disable(2)),
        ];
        for (i, e) in events.iter().enumerate() {
            CheckoutFold::apply(&mut m, e, i as i64);
        }
        let v = cart_view(&m, A, 5).unwrap();
        assert_eq!(v.lines.len(), 2);
        assert_eq!(v.lines[0].line_total.as_ref().unwrap().minor, 5000);
        assert_eq!(
            v.lines[0].availability.as_ref().unwrap().status(),
            StockStatus::InStock
        );
        assert!(!v.lines[1].orderable);
        assert_eq!(
            v.lines[1].availability.as_ref().unwrap().status(),
            StockStatus::OutOfStock
        );
        assert_eq!(v.totals, vec![money::money(5000, "EUR")]);
        assert_eq!((v.version, v.item_count), (2, 3));
        assert_eq!(cart_view(&m, B, 5).unwrap(), CartView::default());
    }
}
