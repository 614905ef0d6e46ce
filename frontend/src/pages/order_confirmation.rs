//! The confirmation after placing an order (`/orders/:id`).

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{ErrorPanel, OrderLines, Spinner};
use frontend::api;
use frontend::format::placed_at;
use frontend::hooks::use_load_state;
use frontend::route::Route;

#[derive(Properties, PartialEq)]
pub struct OrderConfirmationProps {
    pub id: u64,
}

#[component]
pub fn OrderConfirmation(props: &OrderConfirmationProps) -> Html {
    let id = props.id;
    let (state, retry) = use_load_state(id, |&id| api::order(id));
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
