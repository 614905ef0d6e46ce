//! The product page: large image, title, price, live stock, description and long text, and the
//! quantity picker with "Add to cart" (which sets the cart line to what it held plus the picked
//! quantity).

use web_sys::HtmlInputElement;
use yew::platform::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api;
use crate::catalog_query;
use crate::components::{ErrorPanel, NoticeBox, ProductImage, Spinner, StockLabel};
use crate::format::price_text;
use crate::hooks::{ShopHandle, use_live_events, use_page_state, use_read, use_watch};
use crate::notice::{AddPlan, Notice, plan_add};
use crate::route::{Route, catalog_href, follow_catalog};
use crate::state::product::{AddCommand, ProductAction, ProductState};
use crate::state::shop::ShopAction;

#[derive(Properties, PartialEq)]
pub struct ProductDetailProps {
    pub id: u64,
}

#[component]
pub fn ProductDetail(props: &ProductDetailProps) -> Html {
    let id = props.id;
    let shop = use_context::<ShopHandle>().expect("ShopHandle is provided by App");
    let navigator = use_navigator().expect("inside the router");
    let (state, dispatch) = use_page_state(ProductState::default);
    let retry = use_read(
        dispatch.clone(),
        (id, shop.resyncs),
        |&(id, _)| api::product(id),
        ProductAction::Load,
        ProductAction::SpinnerDue,
        ProductAction::Loaded,
    );
    use_live_events(dispatch.clone(), ProductAction::Live);
    use_watch(vec![id]);

    // Sends exactly this command; a retry sends the same one again (same key, same quantity).
    let send = {
        let dispatch = dispatch.clone();
        let shop = shop.dispatcher();
        Callback::from(move |cmd: AddCommand| {
            dispatch.emit(ProductAction::Adding(cmd.clone()));
            let (dispatch, shop) = (dispatch.clone(), shop.clone());
            spawn_local(async move {
                match api::set_cart_line(cmd.product_id, cmd.set_to, &cmd.key).await {
                    Ok(cart) => {
                        shop.dispatch(ShopAction::Cart(cart));
                        dispatch.emit(ProductAction::Added);
                    }
                    Err(e) => dispatch.emit(ProductAction::AddFailed(cmd, e)),
                }
            });
        })
    };
    let onsubmit = {
        let dispatch = dispatch.clone();
        let send = send.clone();
        let shop = shop.clone();
        let state = state.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if state.adding {
                return;
            }
            let (dispatch, send, cart_known, in_cart) = (
                dispatch.clone(),
                send.clone(),
                shop.cart.is_some(),
                shop.quantity_in_cart(id),
            );
            let (picked, max) = (state.quantity, state.max_quantity());
            spawn_local(async move {
                // "Add" means on top of what the cart holds, so the cart must be known first.
                let in_cart = if cart_known {
                    in_cart
                } else {
                    match api::cart().await {
                        Ok(c) => c
                            .lines
                            .iter()
                            .find(|l| l.product_id == id)
                            .map_or(0, |l| l.quantity),
                        Err(e) => {
                            dispatch
                                .emit(ProductAction::Notice(Some(Notice::problem(e.message()))));
                            return;
                        }
                    }
                };
                match plan_add(in_cart, picked, max) {
                    AddPlan::SetTo(set_to) => send.emit(AddCommand {
                        product_id: id,
                        set_to,
                        key: api::new_idempotency_key(),
                    }),
                    AddPlan::Refuse(why) => {
                        dispatch.emit(ProductAction::Notice(Some(Notice::problem(why))))
                    }
                }
            });
        })
    };
    let oninput = {
        let dispatch = dispatch.clone();
        Callback::from(move |e: InputEvent| {
            // An empty or partial entry is left alone while the shopper types.
            if let Ok(n) = e
                .target_unchecked_into::<HtmlInputElement>()
                .value()
                .parse::<u32>()
            {
                dispatch.emit(ProductAction::Quantity(n));
            }
        })
    };
    let on_retry = state.retry.clone().map(|cmd| {
        let send = send.clone();
        Callback::from(move |_| send.emit(cmd.clone()))
    });
    let on_dismiss = {
        let dispatch = dispatch.clone();
        Some(Callback::from(move |_| {
            dispatch.emit(ProductAction::Notice(None))
        }))
    };

    let loaded = &state.product;
    let Some(p) = loaded.value.as_ref().filter(|p| p.id == id) else {
        return html! {
            <section class="page">
                <Spinner show={loaded.spinner} label="Loading product…" />
                if let Some(error) = loaded.error.clone() {
                    if error.status() == Some(404) {
                        <h1>{ "Product not found" }</h1>
                        <p>{ "This product is not (or no longer) in the shop. " }
                            <Link<Route> to={Route::Catalog}>{ "Back to the catalog" }</Link<Route>></p>
                    } else {
                        <ErrorPanel {error} on_retry={retry} />
                    }
                }
            </section>
        };
    };
    let level = state.stock();
    let in_cart = shop.quantity_in_cart(id);
    let max = state.max_quantity().map(|m| m.max(1).to_string());
    let category_query = format!("category={}", catalog_query::encode(&p.category_slug));
    html! {
        <section class="page">
            <nav class="breadcrumbs" aria-label="Breadcrumbs">
                <Link<Route> to={Route::Catalog}>{ "Catalog" }</Link<Route>>
                if !p.category.is_empty() {
                    { " / " }
                    <a href={catalog_href(&category_query)}
                        onclick={follow_catalog(navigator.clone(), category_query.clone())}>
                        { p.category.clone() }
                    </a>
                }
            </nav>
            <article class="detail" data-testid="product-detail" data-product-id={id.to_string()}>
                <div class="detail__media">
                    <ProductImage url={p.image_urls.first().map(|u| AttrValue::from(u.clone()))}
                        title={p.title.clone()} large={true} />
                </div>
                <div class="detail__info">
                    <h1 class="detail__title" data-testid="detail-title">{ p.title.clone() }</h1>
                    <p class="detail__price" data-testid="detail-price">{ price_text(p.price.as_ref()) }</p>
                    <div aria-live="polite"><StockLabel {level} /></div>
                    if !p.description.is_empty() {
                        <p class="detail__description">{ p.description.clone() }</p>
                    }
                    <form class="add-to-cart" {onsubmit}>
                        <label for="quantity">{ "Quantity" }</label>
                        <input id="quantity" class="quantity-input" type="number" inputmode="numeric"
                            data-testid="quantity" min="1" max={max} step="1"
                            value={state.quantity.to_string()} {oninput}
                            disabled={!level.can_buy()} />
                        <button type="submit" class="button button--primary" data-testid="add-to-cart"
                            disabled={!level.can_buy() || state.adding}>
                            { if state.adding { "Adding…" } else { "Add to cart" } }
                        </button>
                    </form>
                    if in_cart > 0 {
                        <p class="detail__in-cart">
                            { format!("You have {in_cart} in your cart. ") }
                            <Link<Route> to={Route::Cart}>{ "View cart" }</Link<Route>>
                        </p>
                    }
                    <NoticeBox notice={state.notice.clone()} {on_retry} {on_dismiss} />
                </div>
            </article>
            if !p.long_text.is_empty() {
                <section class="detail__long">
                    <h2>{ "Details" }</h2>
                    { for p.long_text.split("\n\n").filter(|s| !s.trim().is_empty()).map(|para| html! {
                        <p>{ para.to_owned() }</p>
                    }) }
                </section>
            }
        </section>
    }
}
