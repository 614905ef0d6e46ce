//! `/admin/orders`: the newest orders across all carts, with their lines and totals, a page at
//! a time; carts by the short hash the event log shows. Read again when an order is placed.

use std::rc::Rc;

use shared::proto::LogEntry;
use yew::prelude::*;

use crate::components::{ErrorPanel, Pager, Spinner};
use frontend::admin_api;
use frontend::format::{order_currency, placed_at, price_text, totals_text};
use frontend::hooks::{use_changes, use_load_state};

const PAGE_SIZE: u32 = 20;

#[component]
pub fn AdminOrders() -> Html {
    let page = use_state(|| 1u32);
    let touches: Rc<dyn Fn(&LogEntry) -> bool> = Rc::new(|e: &LogEntry| e.order_id > 0);
    let changes = use_changes(touches);
    let (state, retry) = use_load_state((*page, changes), |&(page, _)| {
        admin_api::orders(page, PAGE_SIZE)
    });
    let on_page = {
        let page = page.clone();
        Callback::from(move |p: u32| page.set(p))
    };
    html! {
        <section class="page admin-orders">
            <h1>{ "Orders" }</h1>
            <Spinner show={state.spinner} label="Loading orders…" />
            if let Some(error) = state.error.clone() {
                <ErrorPanel {error} on_retry={retry} />
            }
            if let Some(list) = state.value.as_ref() {
                <p class="result-count" data-testid="admin-order-count">{ format!("{} orders, newest first", list.total_items) }</p>
                <div class="table-wrap">
                    <table class="admin-table" data-testid="admin-orders-table">
                        <thead>
                            <tr><th class="num">{ "Order" }</th><th>{ "Placed" }</th><th>{ "Cart" }</th>
                                <th>{ "Lines" }</th><th class="num">{ "Total" }</th></tr>
                        </thead>
                        <tbody>
                            { for list.items.iter().filter_map(|item| {
                                let o = item.order.as_ref()?;
                                Some(html! {
                                    <tr key={o.id} data-testid="admin-order-row" data-order-id={o.id.to_string()}>
                                        <td class="num">{ format!("#{}", o.id) }</td>
                                        <td>{ placed_at(o.placed_at_ms) }</td>
                                        <td class="mono" title="A short hash of the cart (its id is the shopper's and is never shown)">{ item.cart.clone() }</td>
                                        <td>
                                            <ul class="plain-list">
                                                { for o.lines.iter().map(|l| html! {
                                                    <li>{ format!("{} × {} ({}) at {}", l.quantity, l.title, l.product_id, price_text(l.unit_price.as_ref())) }</li>
                                                }) }
                                            </ul>
                                        </td>
                                        <td class="num">{ totals_text(&o.totals, order_currency(o)) }</td>
                                    </tr>
                                })
                            }) }
                        </tbody>
                    </table>
                </div>
                if list.items.is_empty() {
                    <p class="empty">{ "No orders yet." }</p>
                }
                <Pager page={list.page} total_pages={list.total_pages.max(1)} {on_page} />
            }
        </section>
    }
}
