//! The order history (`/orders`) of this browser's cart.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{ErrorPanel, Spinner};
use frontend::api;
use frontend::format::{order_currency, placed_at, totals_text};
use frontend::hooks::{ShopHandle, use_load_state};
use frontend::route::Route;

#[component]
pub fn OrderHistory() -> Html {
    let shop = use_context::<ShopHandle>().expect("ShopHandle is provided by App");
    // An order placed in another window shows up after the cart changes.
    let cart_version = shop.cart.as_ref().map(|c| c.version);
    let (state, retry) = use_load_state((shop.resyncs, cart_version), |_| api::orders());
    html! {
        <section class="page orders">
            <h1>{ "Your orders" }</h1>
            <Spinner show={state.spinner} label="Loading your orders…" />
            if let Some(error) = state.error.clone() {
                <ErrorPanel {error} on_retry={retry} />
            }
            if let Some(list) = state.value.as_ref() {
                if list.orders.is_empty() {
                    <p class="empty">{ "No orders yet. " }
                        <Link<Route> to={Route::Catalog}>{ "Start shopping" }</Link<Route>></p>
                } else {
                    <ul class="order-list">
                        { for list.orders.iter().map(|o| {
                            let items: u32 = o.lines.iter().map(|l| l.quantity).sum();
                            html! {
                                <li key={o.id} class="order-row" data-testid="order-row" data-order-id={o.id.to_string()}>
                                    <Link<Route> to={Route::Order { id: o.id }} classes="order-row__link">
                                        { format!("Order #{}", o.id) }
                                    </Link<Route>>
                                    <span class="order-row__date">{ placed_at(o.placed_at_ms) }</span>
                                    <span class="order-row__items">{ format!("{items} {}", if items == 1 { "item" } else { "items" }) }</span>
                                    <span class="order-row__total">{ totals_text(&o.totals, order_currency(o)) }</span>
                                </li>
                            }
                        }) }
                    </ul>
                }
            }
        </section>
    }
}
