//! The cart page: one `CartLine` per product with quantity steppers and remove, the total, and
//! "Place order" for exactly the cart on screen (its version, and every line's title and price).
//! When the shop refuses the order (the cart changed in another window, a line ran out, a price
//! changed since it was shown), the page shows the re-read cart and says why.

use shared::proto::{CartLineView, CartView};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{CartLine, NoticeBox, Spinner};
use frontend::api;
use frontend::format::totals_text;
use frontend::hooks::{
    ShopHandle, refresh_cart, use_cart_commands, use_live_events, use_page_state, use_watch,
};
use frontend::route::Route;
use frontend::state::cart_page::{CartCommand, CartPageAction, CartPageState};
use frontend::timing::SPINNER_DELAY_MS;

#[component]
pub fn CartPage() -> Html {
    let shop = use_context::<ShopHandle>().expect("ShopHandle is provided by App");
    let (state, dispatch) = use_page_state(CartPageState::default);
    let slow = use_state(|| false);
    {
        // Stock and prices in the cart may have moved since it was last read.
        let shop = shop.dispatcher();
        let slow = slow.clone();
        use_effect_with((), move |_| {
            refresh_cart(shop);
            let t = gloo_timers::callback::Timeout::new(SPINNER_DELAY_MS, move || slow.set(true));
            move || drop(t)
        });
    }
    use_live_events(dispatch.clone(), CartPageAction::Live);
    let cart: Option<CartView> = shop.cart.as_deref().cloned();
    use_watch(
        cart.as_ref()
            .map(|c| c.lines.iter().map(|l| l.product_id).collect())
            .unwrap_or_default(),
    );

    let run = use_cart_commands(dispatch.clone(), cart.clone());
    let on_retry = state.retry.clone().map(|cmd| {
        let run = run.clone();
        Callback::from(move |_| run.emit(cmd.clone()))
    });
    let on_dismiss = {
        let dispatch = dispatch.clone();
        Some(Callback::from(move |_| {
            dispatch.emit(CartPageAction::Dismiss)
        }))
    };
    let notice = html! { <NoticeBox notice={state.notice.clone()} {on_retry} {on_dismiss} /> };

    let Some(cart) = cart else {
        return html! {
            <section class="page cart">
                <h1>{ "Your cart" }</h1>
                { notice }
                <Spinner show={*slow} label="Loading your cart…" />
            </section>
        };
    };
    if cart.lines.is_empty() {
        return html! {
            <section class="page cart">
                <h1>{ "Your cart" }</h1>
                { notice }
                <div class="empty-cart" data-testid="empty-cart">
                    <p>{ "Your cart is empty." }</p>
                    <Link<Route> to={Route::Catalog} classes="button button--primary">{ "Browse the catalog" }</Link<Route>>
                </div>
            </section>
        };
    }

    let set_line = |line: &CartLineView| {
        let run = run.clone();
        let product_id = line.product_id;
        Callback::from(move |quantity: u32| {
            run.emit(CartCommand::SetLine {
                product_id,
                quantity,
                key: api::new_idempotency_key(),
            })
        })
    };
    let place = {
        let run = run.clone();
        let (version, lines) = (cart.version, cart.lines.clone());
        Callback::from(move |_: MouseEvent| {
            run.emit(CartCommand::PlaceOrder {
                cart_version: version,
                lines: lines.clone(),
                key: api::new_idempotency_key(),
            })
        })
    };
    let currency = cart
        .lines
        .iter()
        .find_map(|l| l.unit_price.as_ref())
        .map_or("EUR", |m| m.currency.as_str());
    let can_order = cart.lines.iter().any(|l| l.orderable);
    let busy = !state.busy_lines.is_empty() || state.placing;

    html! {
        <section class="page cart">
            <h1>{ "Your cart" }</h1>
            { notice }
            <ul class="cart-lines" aria-label="Items in your cart">
                { for cart.lines.iter().map(|line| html! {
                    <CartLine key={line.product_id} line={line.clone()}
                        busy={state.busy_lines.contains(&line.product_id) || state.placing}
                        on_set={set_line(line)} />
                }) }
            </ul>
            <div class="cart-summary">
                <p class="cart-summary__total">
                    <span>{ "Total" }</span>
                    <strong data-testid="cart-total" aria-live="polite">{ totals_text(&cart.totals, currency) }</strong>
                </p>
                <p class="cart-summary__count">{ format!("{} items", cart.item_count) }</p>
                <button type="button" class="button button--primary button--large" data-testid="place-order"
                    disabled={!can_order || busy} onclick={place}>
                    { if state.placing { "Placing order…" } else { "Place order" } }
                </button>
            </div>
        </section>
    }
}
