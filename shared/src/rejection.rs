//! How an order rejection names the lines that changed since the shopper saw them, worded once
//! for the API's error message and the app's explanation alike.

use crate::money;
use crate::proto::{Money, OrderRejection};

fn price(m: Option<&Money>) -> String {
    m.map_or_else(
        || "no price".to_owned(),
        |m| money::format(m.minor, &m.currency),
    )
}

/// “Desk lamp” €25.00 → €27.50, “Stool” (was “Chair”): each changed line, in cart order.
pub fn changed_lines_text(r: &OrderRejection) -> String {
    r.changed_lines
        .iter()
        .map(|c| {
            let mut s = format!("“{}”", c.title);
            if c.shown_title != c.title {
                s.push_str(&format!(" (was “{}”)", c.shown_title));
            }
            if c.shown_price != c.price {
                s.push_str(&format!(
                    " {} → {}",
                    price(c.shown_price.as_ref()),
                    price(c.price.as_ref())
                ));
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ChangedLine;

    #[test]
    fn names_each_changed_line_with_what_was_shown() {
        let r = OrderRejection {
            changed_lines: vec![
                ChangedLine {
                    product_id: 1,
                    shown_title: "Lamp".into(),
                    title: "Lamp".into(),
                    shown_price: Some(money::money(2500, "EUR")),
                    price: Some(money::money(2750, "EUR")),
                },
                ChangedLine {
                    product_id: 2,
                    shown_title: "Chair".into(),
                    title: "Stool".into(),
                    shown_price: Some(money::money(900, "EUR")),
                    price: None,
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            changed_lines_text(&r),
            "“Lamp” €25.00 → €27.50, “Stool” (was “Chair”) €9.00 → no price"
        );
    }
}
