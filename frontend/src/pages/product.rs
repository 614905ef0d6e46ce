//! The product page: large image, title, price, live stock, description and long text, and the
//! quantity picker with "Add to cart" (which sets the cart line to what it held plus the picked
//! quantity).

use web_sys::HtmlInputElement;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{ErrorPanel, NoticeBox, ProductImage, Spinner, StockLabel};
use frontend::api;
use frontend::catalog_query;
use frontend::format::price_text;
use frontend::hooks::{
    AddRequest, AddToCart, ShopHandle, use_add_to_cart, use_live_events, use_page_state, use_read,
    use_watch,
};
use frontend::route::{Route, catalog_href, follow_catalog};
use frontend::state::product::{ProductAction, ProductState};

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

    let AddToCart { add, send } = use_add_to_cart(id, dispatch.clone());
    let onsubmit = {
        let state = state.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if state.adding {
                return;
            }
            add.emit(AddRequest {
                picked: state.quantity,
                available: state.max_quantity(),
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
