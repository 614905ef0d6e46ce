//! The price range and in-stock filters beside the catalog: the result's own price range as the
//! fields' hints, and whole currency units typed (stored in the URL in minor units).

use web_sys::HtmlInputElement;
use yew::prelude::*;

use frontend::catalog_query::CatalogQuery;
use frontend::format::price_text;
use shared::proto::Money;

#[derive(Properties, PartialEq)]
pub struct PriceFilterProps {
    pub query: CatalogQuery,
    /// The lowest and highest price of the current result, if any.
    pub range: Option<(Money, Money)>,
    pub on_change: Callback<CatalogQuery>,
}

/// "12.50" or "12,50" → 1250; empty → none.
fn minor_units(text: &str) -> Option<i64> {
    let t = text.trim().replace(',', ".");
    if t.is_empty() {
        return None;
    }
    let v: f64 = t.parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| (v * 100.0).round() as i64)
}

fn units_text(minor: Option<i64>) -> String {
    minor.map_or_else(String::new, |m| format!("{}.{:02}", m / 100, m % 100))
}

#[component]
pub fn PriceFilter(props: &PriceFilterProps) -> Html {
    let min_ref = use_node_ref();
    let max_ref = use_node_ref();
    let onsubmit = {
        let (min_ref, max_ref) = (min_ref.clone(), max_ref.clone());
        let (query, on_change) = (props.query.clone(), props.on_change.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let value = |r: &NodeRef| {
                r.cast::<HtmlInputElement>()
                    .map(|i| i.value())
                    .unwrap_or_default()
            };
            on_change.emit(
                query
                    .with_price_range(minor_units(&value(&min_ref)), minor_units(&value(&max_ref))),
            );
        })
    };
    let on_stock = {
        let (query, on_change) = (props.query.clone(), props.on_change.clone());
        Callback::from(move |e: Event| {
            on_change
                .emit(query.with_in_stock(e.target_unchecked_into::<HtmlInputElement>().checked()))
        })
    };
    let (lo_hint, hi_hint) = match &props.range {
        Some((lo, hi)) => (price_text(Some(lo)), price_text(Some(hi))),
        None => ("Min".to_owned(), "Max".to_owned()),
    };
    html! {
        <section class="filters" aria-label="Price and stock">
            <h2 class="facets__title">{ "Price" }</h2>
            <form class="price-filter" {onsubmit}>
                <label class="visually-hidden" for="price-min">{ "Lowest price" }</label>
                <input id="price-min" data-testid="price-min" type="text" inputmode="decimal"
                    ref={min_ref} placeholder={lo_hint} value={units_text(props.query.min_price)} />
                <span aria-hidden="true">{ "–" }</span>
                <label class="visually-hidden" for="price-max">{ "Highest price" }</label>
                <input id="price-max" data-testid="price-max" type="text" inputmode="decimal"
                    ref={max_ref} placeholder={hi_hint} value={units_text(props.query.max_price)} />
                <button type="submit" data-testid="price-apply">{ "Apply" }</button>
            </form>
            <label class="in-stock">
                <input type="checkbox" data-testid="in-stock" checked={props.query.in_stock} onchange={on_stock} />
                { " In stock only" }
            </label>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_prices_become_minor_units() {
        assert_eq!(minor_units("12.5"), Some(1250));
        assert_eq!(minor_units(" 12,99 "), Some(1299));
        assert_eq!(minor_units(""), None);
        assert_eq!(minor_units("-3"), None);
        assert_eq!(minor_units("abc"), None);
        assert_eq!(units_text(Some(1205)), "12.05");
    }
}
