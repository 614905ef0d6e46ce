//! An order's lines and totals, as the confirmation shows them.

use shared::proto::OrderView;
use yew::prelude::*;
use yew_router::prelude::*;

use frontend::format::{order_currency, price_text, totals_text};
use frontend::route::Route;

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
