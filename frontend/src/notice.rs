//! Messages for the shopper after an action ("Added to cart", "Your cart changed in another
//! window…"), and the wording of order rejections. Pure, so the wording is tested.

use shared::proto::{CartView, OrderRejection, RejectionReason};
use shared::rejection::changed_lines_text;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Success,
    Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub tone: Tone,
    pub text: String,
}

impl Notice {
    pub fn info(text: impl Into<String>) -> Notice {
        Notice {
            tone: Tone::Info,
            text: text.into(),
        }
    }

    pub fn success(text: impl Into<String>) -> Notice {
        Notice {
            tone: Tone::Success,
            text: text.into(),
        }
    }

    pub fn problem(text: impl Into<String>) -> Notice {
        Notice {
            tone: Tone::Problem,
            text: text.into(),
        }
    }
}

/// The product's title as the cart knows it, quoted; its id when the cart has no such line.
fn title_in(cart: Option<&CartView>, product_id: u64) -> String {
    cart.and_then(|c| c.lines.iter().find(|l| l.product_id == product_id))
        .map(|l| format!("“{}”", l.title))
        .unwrap_or_else(|| format!("product {product_id}"))
}

/// Explains why an order was not placed, naming the line and what is left.
pub fn rejection_text(r: &OrderRejection, cart: Option<&CartView>) -> String {
    match r.reason() {
        RejectionReason::CartChanged => "Your cart changed in another window, so we did not \
             place the order. Please check your cart below and place the order again."
            .to_owned(),
        RejectionReason::OutOfStockLine if r.available == 0 => format!(
            "Sold out: {} is no longer in stock. Remove it to order the rest.",
            title_in(cart, r.product_id)
        ),
        RejectionReason::OutOfStockLine => format!(
            "Only {} left of {}, but your cart has {}. Lower the quantity to order.",
            r.available,
            title_in(cart, r.product_id),
            r.requested
        ),
        RejectionReason::CartEmpty => "Your cart is empty, so there is nothing to order.".into(),
        RejectionReason::PriceChanged => format!(
            "Prices changed since you saw your cart: {}. We did not place the order. Your cart \
             below shows the new total; place the order again to buy at these prices.",
            changed_lines_text(r)
        ),
        RejectionReason::TitleChanged => format!(
            "Some products changed since you saw your cart: {}. We did not place the order. \
             Please check your cart below and place the order again.",
            changed_lines_text(r)
        ),
        RejectionReason::ProductUnavailable | RejectionReason::Unspecified => format!(
            "{} is no longer available. Remove it to order the rest.",
            capitalise(&title_in(cart, r.product_id))
        ),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// What adding to the cart would do, decided before any request is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddPlan {
    /// Set the line to this quantity.
    SetTo(u32),
    /// Refused here, with the reason for the shopper.
    Refuse(String),
}

/// Adding `picked` to a line that holds `in_cart` sets the line to the sum; more than the stock
/// `available` (when known) is refused with an explanation.
pub fn plan_add(in_cart: u32, picked: u32, available: Option<u64>) -> AddPlan {
    if picked == 0 {
        return AddPlan::Refuse("Choose a quantity of at least 1.".into());
    }
    let target = in_cart.saturating_add(picked);
    match available {
        Some(0) => AddPlan::Refuse("Sorry, this is sold out.".into()),
        Some(n) if u64::from(target) > n && in_cart > 0 => AddPlan::Refuse(format!(
            "Only {n} left, and your cart already has {in_cart}."
        )),
        Some(n) if u64::from(target) > n => AddPlan::Refuse(format!("Only {n} left.")),
        _ => AddPlan::SetTo(target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::proto::CartLineView;

    fn rejection(
        reason: RejectionReason,
        product_id: u64,
        requested: u32,
        available: u64,
    ) -> OrderRejection {
        OrderRejection {
            reason: reason as i32,
            product_id,
            requested,
            available,
            ..Default::default()
        }
    }

    fn cart() -> CartView {
        CartView {
            lines: vec![CartLineView {
                product_id: 4,
                title: "Desk lamp".into(),
                quantity: 5,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_changed_price_or_title_names_the_line_with_what_was_shown_and_what_is_now() {
        use shared::money::money;
        use shared::proto::ChangedLine;
        let mut r = rejection(RejectionReason::PriceChanged, 0, 0, 0);
        r.changed_lines = vec![
            ChangedLine {
                product_id: 4,
                shown_title: "Desk lamp".into(),
                title: "Desk lamp".into(),
                shown_price: Some(money(10399, "EUR")),
                price: Some(money(99_999_900, "EUR")),
            },
            ChangedLine {
                product_id: 5,
                shown_title: "Chair".into(),
                title: "Stool".into(),
                shown_price: Some(money(900, "EUR")),
                price: Some(money(900, "EUR")),
            },
        ];
        assert_eq!(
            rejection_text(&r, None),
            "Prices changed since you saw your cart: “Desk lamp” €103.99 → €999,999.00, “Stool” \
             (was “Chair”). We did not place the order. Your cart below shows the new total; \
             place the order again to buy at these prices."
        );
        r.reason = RejectionReason::TitleChanged as i32;
        r.changed_lines.remove(0);
        assert!(rejection_text(&r, None).starts_with(
            "Some products changed since you saw your cart: “Stool” (was “Chair”). We did not place the order."
        ));
    }

    #[test]
    fn rejections_name_the_line_and_what_is_left() {
        let c = cart();
        assert_eq!(
            rejection_text(
                &rejection(RejectionReason::OutOfStockLine, 4, 5, 0),
                Some(&c)
            ),
            "Sold out: “Desk lamp” is no longer in stock. Remove it to order the rest."
        );
        assert_eq!(
            rejection_text(
                &rejection(RejectionReason::OutOfStockLine, 4, 5, 2),
                Some(&c)
            ),
            "Only 2 left of “Desk lamp”, but your cart has 5. Lower the quantity to order."
        );
        assert!(
            rejection_text(&rejection(RejectionReason::CartChanged, 0, 0, 0), None)
                .starts_with("Your cart changed in another window")
        );
        assert_eq!(
            rejection_text(
                &rejection(RejectionReason::ProductUnavailable, 9, 1, 0),
                None
            ),
            "Product 9 is no longer available. Remove it to order the rest."
        );
    }

    #[test]
    fn adding_sets_the_line_to_the_sum() {
        assert_eq!(plan_add(0, 2, Some(10)), AddPlan::SetTo(2));
        assert_eq!(plan_add(3, 2, Some(10)), AddPlan::SetTo(5));
        assert_eq!(plan_add(3, 2, None), AddPlan::SetTo(5));
        assert_eq!(plan_add(u32::MAX, 2, None), AddPlan::SetTo(u32::MAX));
        assert_eq!(
            plan_add(3, 2, Some(4)),
            AddPlan::Refuse("Only 4 left, and your cart already has 3.".into())
        );
        assert_eq!(
            plan_add(0, 5, Some(4)),
            AddPlan::Refuse("Only 4 left.".into())
        );
        assert!(matches!(plan_add(0, 1, Some(0)), AddPlan::Refuse(_)));
        assert!(matches!(plan_add(0, 0, Some(9)), AddPlan::Refuse(_)));
    }
}
