//! How money and dates read on screen, so a card, a cart line and an order never disagree.

use shared::money;
use shared::proto::{Money, OrderView};

/// A price in its currency, or a dash when the server sent none.
pub fn price_text(m: Option<&Money>) -> String {
    m.map_or_else(|| "—".to_owned(), |m| money::format(m.minor, &m.currency))
}

/// Several totals (one per currency) joined for display; zero in `currency` when there are none.
pub fn totals_text(totals: &[Money], currency: &str) -> String {
    if totals.is_empty() {
        return money::format(0, currency);
    }
    totals
        .iter()
        .map(|m| money::format(m.minor, &m.currency))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The currency of an order's first priced line: an order without totals still shows a zero in
/// the currency it was placed in.
pub fn order_currency(o: &OrderView) -> &str {
    o.lines
        .iter()
        .find_map(|l| l.unit_price.as_ref())
        .map_or("EUR", |m| m.currency.as_str())
}

/// When an order was placed, in the shopper's locale and time zone.
pub fn placed_at(ms: i64) -> String {
    if ms <= 0 {
        return String::new();
    }
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::money::money;

    #[test]
    fn prices_and_totals() {
        assert_eq!(price_text(Some(&money(123450, "EUR"))), "€1,234.50");
        assert_eq!(price_text(None), "—");
        assert_eq!(
            totals_text(&[money(100, "EUR"), money(250, "USD")], "EUR"),
            "€1.00 + $2.50"
        );
        assert_eq!(totals_text(&[], "JPY"), "¥0");
    }
}
