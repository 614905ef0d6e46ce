//! The cart page: one `CartLine` per product with quantity steppers and remove, the total, and
//! "Place order" for exactly the cart version on screen. When the shop refuses the order (the
//! cart changed in another window, a line ran out), the page shows the re-read cart and says why.

use shared::proto::{CartLineView, CartView};
use yew::platform::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use super::{NoticeBox, Spinner, price_text, totals_text, use_live_events, use_watch};
use crate::api;
use crate::app::{Route, ShopHandle, refresh_cart};
use crate::cart_state::{CartCommand, CartPageAction, CartPageState};
use crate::shop::ShopAction;
use crate::stock::StockLevel;
use crate::timing::SPINNER_DELAY_MS;

#[component]
pub fn CartPage() -> Html {
    let shop = use_context::<ShopHandle>().expect("ShopHandle is provided by App");
    let navigator = use_navigator().expect("inside the router");
    let state = use_reducer(CartPageState::default);
    let slow = use_state(|| false);
    let dispatch = {
        let d = state.dispatcher();
        Callback::from(move |a| d.dispatch(a))
    };
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

    let run = {
        let dispatch = dispatch.clone();
        let shop_d = shop.dispatcher();
        let navigator = navigator.clone();
        let cart = cart.clone();
        Callback::from(move |cmd: CartCommand| {
            dispatch.emit(CartPageAction::Sent(cmd.clone()));
            let (dispatch, shop_d, navigator, cart) = (
                dispatch.clone(),
                shop_d.clone(),
                navigator.clone(),
                cart.clone(),
            );
            spawn_local(async move {
                let failed = match &cmd {
                    CartCommand::SetLine {
                        product_id,
                        quantity,
                        key,
                    } => match api::set_cart_line(*product_id, *quantity, key).await {
                        Ok(c) => {
                            shop_d.dispatch(ShopAction::Cart(c));
                            dispatch.emit(CartPageAction::LineSet(*product_id));
                            None
                        }
                        Err(e) => Some(e),
                    },
                    CartCommand::PlaceOrder { cart_version, key } => {
                        match api::place_order(*cart_version, key).await {
                            Ok(order) => {
                                let id = order.id;
                                dispatch.emit(CartPageAction::Placed(order));
                                refresh_cart(shop_d.clone());
                                navigator.push(&Route::Order { id });
                                None
                            }
                            Err(e) => Some(e),
                        }
                    }
                };
                if let Some(error) = failed {
                    if error.rejection().is_some() || error.status() == Some(404) {
                        // Show the cart as it is now, next to the explanation.
                        refresh_cart(shop_d);
                    }
                    dispatch.emit(CartPageAction::Failed {
                        command: cmd,
                        error,
                        cart,
                    });
                }
            });
        })
    };
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
        let version = cart.version;
        Callback::from(move |_: MouseEvent| {
            run.emit(CartCommand::PlaceOrder {
                cart_version: version,
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
