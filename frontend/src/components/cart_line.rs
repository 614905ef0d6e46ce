//! One line of the cart: title, unit price, stock, quantity stepper, line total and remove.

use shared::proto::CartLineView;
use yew::prelude::*;
use yew_router::prelude::*;

use frontend::format::price_text;
use frontend::route::Route;
use frontend::stock::StockLevel;

/// A line's stock. "Sold out" is kept for the rejection notice ("Sold out: …"), which is the
/// statement that matters on this page; a line says "Out of stock", so a line whose last units
/// just went into this shopper's own order never reads like a refusal.
fn line_stock_text(level: StockLevel) -> String {
    match level {
        StockLevel::SoldOut => "Out of stock".to_owned(),
        other => other.text(),
    }
}

#[derive(Properties, PartialEq)]
pub struct CartLineProps {
    pub line: CartLineView,
    /// A change of this line (or the order) is under way.
    pub busy: bool,
    /// Sets the line's quantity (0 removes it).
    pub on_set: Callback<u32>,
}

#[component]
pub fn CartLine(props: &CartLineProps) -> Html {
    let l = &props.line;
    let q = l.quantity;
    let level = StockLevel::of(l.availability.as_ref(), l.orderable);
    let more_allowed = l.orderable
        && l.availability
            .as_ref()
            .is_none_or(|a| u64::from(q) < a.available);
    let set = |n: u32| {
        let on_set = props.on_set.clone();
        Callback::from(move |_: MouseEvent| on_set.emit(n))
    };
    let title = l.title.clone();
    html! {
        <li class={classes!("cart-line", props.busy.then_some("cart-line--busy"))}
            data-testid="cart-line" data-product-id={l.product_id.to_string()}
            aria-busy={props.busy.to_string()}>
            <div class="cart-line__info">
                <Link<Route> to={Route::Product { id: l.product_id }} classes="cart-line__title">
                    { title.clone() }
                </Link<Route>>
                <p class="cart-line__unit">{ format!("{} each", price_text(l.unit_price.as_ref())) }</p>
                <p class={level.class()} data-testid="stock-level">{ line_stock_text(level) }</p>
            </div>
            <div class="stepper" role="group" aria-label={format!("Quantity of {title}")}>
                <button type="button" class="stepper__button" data-testid="decrement"
                    aria-label={format!("One fewer {title}")}
                    disabled={props.busy || q == 0} onclick={set(q.saturating_sub(1))}>{ "−" }</button>
                <span class="stepper__value" data-testid="line-quantity" aria-live="polite">{ q }</span>
                <button type="button" class="stepper__button" data-testid="increment"
                    aria-label={format!("One more {title}")}
                    disabled={props.busy || !more_allowed} onclick={set(q.saturating_add(1))}>{ "+" }</button>
            </div>
            <p class="cart-line__total" data-testid="line-total">{ price_text(l.line_total.as_ref()) }</p>
            <button type="button" class="button button--quiet cart-line__remove" data-testid="remove"
                aria-label={format!("Remove {title}")}
                disabled={props.busy} onclick={set(0)}>{ "Remove" }</button>
        </li>
    }
}
