//! The order pages: the confirmation after placing an order (`/orders/:id`) and the order
//! history (`/orders`) of this browser's cart.

use shared::proto::OrderView;
use yew::prelude::*;
use yew_router::prelude::*;

use super::{ErrorPanel, Spinner, price_text, totals_text};
use crate::api;
use crate::app::{Route, ShopHandle};
use crate::page::use_loadable;

/// When an order was placed, in the shopper's locale and time zone.
fn placed_at(ms: i64) -> String {
    if ms <= 0 {
        return String::new();
    }
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

fn order_currency(o: &OrderView) -> &str {
    o.lines
        .iter()
        .find_map(|l| l.unit_price.as_ref())
        .map_or("EUR", |m| m.currency.as_str())
}

#[derive(Properties, PartialEq)]
pub struct OrderConfirmationProps {
    pub id: u64,
}

#[component]
pub fn OrderConfirmation(props: &OrderConfirmationProps) -> Html {
    let id = props.id;
    let (state, retry) = use_loadable(id, |&id| api::order(id));
    let Some(order) = state.value.as_ref().filter(|o| o.id == id) else {
        return html! {
            <section class="page">
                <Spinner show={state.spinner} label="Loading your order…" />
                if let Some(error) = state.error.clone() {
                    if error.status() == Some(404) {
                        <h1>{ "Order not found" }</h1>
                        <p>{ "There is no such order for this browser. " }
                            <Link<Route> to={Route::Orders}>{ "See your orders" }</Link<Route>></p>
                    } else {
                        <ErrorPanel {error} on_retry={retry} />
                    }
                }
            </section>
        };
    };
    html! {
        <section class="page order" data-testid="order-confirmation" data-order-id={id.to_string()}>
            <h1>{ "Thank you for your order" }</h1>
            <p class="order__lead" role="status">
                { format!("Order #{id} is placed") }
                { match placed_at(order.placed_at_ms) { s if s.is_empty() => String::new(), s => format!(" ({s})") } }
                { "." }
            </p>
            <OrderLines order={order.clone()} />
            <p class="order__links">
                <Link<Route> to={Route::Catalog} classes="button button--primary">{ "Continue shopping" }</Link<Route>>
                { " " }
                <Link<Route> to={Route::Orders} classes="button">{ "All orders" }</Link<Route>>
            </p>
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct OrderLinesProps {
    pub order: OrderView,
}

/// An order's lines and totals as a table.
#[component]
pub fn OrderLines(props: &OrderLinesProps) -> Html {
    let o = &props.order;
    html! {
        <table class="order-lines">
            <caption class="visually-hidden">{ format!("Items of order {}", o.id) }</caption>
            <thead>
                <tr>
                    <th scope="col">{ "Product" }</th>
                    <th scope="col" class="num">{ "Quantity" }</th>
                    <th scope="col" class="num">{ "Price" }</th>
                    <th scope="col" class="num">{ "Total" }</th>
                </tr>
            </thead>
            <tbody>
                { for o.lines.iter().map(|l| html! {
                    <tr key={l.product_id}>
                        <td><Link<Route> to={Route::Product { id: l.product_id }}>{ l.title.clone() }</Link<Route>></td>
                        <td class="num">{ l.quantity }</td>
                        <td class="num">{ price_text(l.unit_price.as_ref()) }</td>
                        <td class="num">{ price_text(l.line_total.as_ref()) }</td>
                    </tr>
                }) }
            </tbody>
            <tfoot>
                <tr>
                    <th scope="row" colspan="3">{ "Total" }</th>
                    <td class="num"><strong>{ totals_text(&o.totals, order_currency(o)) }</strong></td>
                </tr>
            </tfoot>
        </table>
    }
}

#[component]
pub fn OrderHistory() -> Html {
    let shop = use_context::<ShopHandle>().expect("ShopHandle is provided by App");
    // An order placed in another window shows up after the cart changes.
    let cart_version = shop.cart.as_ref().map(|c| c.version);
    let (state, retry) = use_loadable((shop.resyncs, cart_version), |_| api::orders());
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
