//! `/admin/products/{id}` and `/admin/products/new`: a product's form (the API's validation
//! messages next to their fields), its price, disabling and enabling, a stock delivery, its
//! stock and units sold. Every change names the version the form was read at (`If-Match`);
//! when someone else changes the product meanwhile (seen live, or refused with 412) the form
//! says what changed before anything is saved, and the operator chooses.
mod fields;
mod side;

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{NoticeBox, Spinner};
use fields::ProductFields;
use frontend::format::price_text;
use frontend::hooks::{ProductFormHandle, use_product_form};
use frontend::route::Route;
use frontend::state::product_form::{ProductForm, ProductFormAction};
use side::{DeliveryForm, PriceForm, SaleToggle};

#[derive(Properties, PartialEq)]
pub struct AdminProductProps {
    /// None: a new product.
    pub id: Option<u64>,
}

#[component]
pub fn AdminProduct(props: &AdminProductProps) -> Html {
    let ProductFormHandle {
        form,
        dispatch,
        save,
        set_price,
        toggle,
        deliver,
    } = use_product_form(props.id);
    let fields = |new: bool| {
        html! {
            <ProductFields form={(*form).clone()} dispatch={dispatch.clone()} on_save={save.clone()} {new} />
        }
    };
    let Some(id) = props.id else {
        return html! {
            <section class="page admin-product">
                <nav class="breadcrumbs"><Link<Route> to={Route::AdminProducts}>{ "Products" }</Link<Route>></nav>
                <h1>{ "New product" }</h1>
                { fields(true) }
            </section>
        };
    };
    let Some(base) = form.base.clone() else {
        return html! {
            <section class="page admin-product">
                <Spinner show={true} label="Loading the product…" />
                <NoticeBox notice={form.notice.clone()} />
            </section>
        };
    };
    let dismiss = {
        let dispatch = dispatch.clone();
        Some(Callback::from(move |_| {
            dispatch.emit(ProductFormAction::Notice(None))
        }))
    };
    let p = base.product.clone().unwrap_or_default();
    html! {
        <section class="page admin-product" data-testid="admin-product" data-product-id={id.to_string()} data-version={base.version.clone()}>
            <nav class="breadcrumbs"><Link<Route> to={Route::AdminProducts}>{ "Products" }</Link<Route>>{ " / " }{ id }</nav>
            <div class="page-head">
                <h1>{ format!("{} ", p.title) }
                    if base.disabled { <span class="badge badge--off" data-testid="admin-disabled-badge">{ "Disabled" }</span> }
                </h1>
                <Link<Route> to={Route::Product { id }}>{ "View in the shop" }</Link<Route>>
            </div>
            <dl class="facts">
                <div><dt>{ "Price" }</dt><dd data-testid="admin-current-price">{ price_text(p.price.as_ref()) }</dd></div>
                <div><dt>{ "In stock" }</dt><dd data-testid="admin-current-stock">{ base.stock }</dd></div>
                <div><dt>{ "Units sold" }</dt><dd data-testid="admin-units-sold">{ base.units_sold }</dd></div>
                <div><dt>{ "Version" }</dt><dd class="mono">{ base.version.clone() }</dd></div>
            </dl>
            { changed_meanwhile(&form, &dispatch) }
            <NoticeBox notice={form.notice.clone()} on_dismiss={dismiss} />
            <div class="admin-columns">
                <div>
                    <h2>{ "Details" }</h2>
                    { fields(false) }
                </div>
                <aside class="admin-side">
                    <PriceForm currency={form.currency.clone()} busy={form.busy} dispatch={dispatch.clone()} on_price={set_price} />
                    <DeliveryForm busy={form.busy} dispatch={dispatch.clone()} on_deliver={deliver} />
                    <SaleToggle disabled={base.disabled} busy={form.busy} on_toggle={toggle} />
                </aside>
            </div>
        </section>
    }
}

/// What someone else changed since the form was read, and the operator's two ways on.
fn changed_meanwhile(form: &ProductForm, dispatch: &Callback<ProductFormAction>) -> Html {
    let Some((_, what)) = form.changed_meanwhile.clone() else {
        return html! {};
    };
    let take = dispatch.reform(|_: MouseEvent| ProductFormAction::TakeTheirs);
    let keep = dispatch.reform(|_: MouseEvent| ProductFormAction::KeepMine);
    html! {
        <div class="notice notice--problem notice--stack" role="alert" data-testid="changed-meanwhile">
            <p class="notice__text">{ "Someone else changed this product since you opened it:" }</p>
            <ul>{ for what.iter().map(|w| html! { <li>{ w.clone() }</li> }) }</ul>
            <p>{ "Saving now would overwrite their change." }</p>
            <div class="notice__actions">
                <button type="button" class="button button--small" data-testid="take-theirs" onclick={take}>{ "Load their version" }</button>
                <button type="button" class="button button--small button--quiet" data-testid="keep-mine" onclick={keep}>{ "Keep my edits" }</button>
            </div>
        </div>
    }
}
