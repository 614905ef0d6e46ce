//! `/admin/products/{id}` and `/admin/products/new`: a product's form (the API's validation
//! messages next to their fields), its price, disabling and enabling, a stock delivery, its
//! stock and units sold. Every change names the version the form was read at (`If-Match`);
//! when someone else changes the product meanwhile (seen live, or refused with 412) the form
//! says what changed before anything is saved, and the operator chooses.

use shared::proto::{AdminProductView, LogEntry};
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::platform::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::admin_api;
use crate::admin_live::AdminEvent;
use crate::api::{ApiError, new_idempotency_key};
use crate::components::{NoticeBox, Spinner};
use crate::format::price_text;
use crate::hooks::use_admin_events;
use crate::notice::Notice;
use crate::route::Route;
use crate::state::product_form::{Field, ProductForm, ProductFormAction, parse_price};

#[derive(Properties, PartialEq)]
pub struct AdminProductProps {
    /// None: a new product.
    pub id: Option<u64>,
}

/// Reads the product and hands it to the form as `wrap` says (a fresh form, or a live check).
fn read(
    id: u64,
    form: Callback<ProductFormAction>,
    wrap: fn(AdminProductView) -> ProductFormAction,
) {
    spawn_local(async move {
        match admin_api::product(id).await {
            Ok(view) => form.emit(wrap(view)),
            Err(e) => form.emit(ProductFormAction::Notice(Some(Notice::problem(
                e.operator_message(),
            )))),
        }
    });
}

/// After a change went through: the product as it is now (its new version), with `done`.
fn reread(id: u64, form: Callback<ProductFormAction>, done: &'static str) {
    spawn_local(async move {
        match admin_api::product(id).await {
            Ok(view) => form.emit(ProductFormAction::Saved(view, Notice::success(done))),
            Err(e) => {
                form.emit(ProductFormAction::Busy(false));
                form.emit(ProductFormAction::Notice(Some(Notice::problem(
                    e.operator_message(),
                ))));
            }
        }
    });
}

/// A refused change: a 412 shows what someone else changed; others go next to their field.
fn refused(id: u64, e: ApiError, form: Callback<ProductFormAction>) {
    if e.status() == Some(412) {
        form.emit(ProductFormAction::Busy(false));
        read(id, form, ProductFormAction::Seen);
        return;
    }
    match &e {
        ApiError::Status { status, body } if *status < 500 && !body.message.is_empty() => {
            form.emit(ProductFormAction::Refused(body.message.clone()))
        }
        _ => {
            form.emit(ProductFormAction::Busy(false));
            form.emit(ProductFormAction::Notice(Some(Notice::problem(
                e.operator_message(),
            ))))
        }
    }
}

#[component]
pub fn AdminProduct(props: &AdminProductProps) -> Html {
    let form = use_reducer(|| match props.id {
        Some(_) => ProductForm::default(),
        None => ProductForm::new_product(),
    });
    let dispatch = {
        let d = form.dispatcher();
        Callback::from(move |a| d.dispatch(a))
    };
    let navigator = use_navigator().expect("inside the router");
    let new_price = use_state(String::new);
    let delivery = use_state(|| "10".to_owned());
    {
        let dispatch = dispatch.clone();
        use_effect_with(props.id, move |id| {
            if let Some(id) = *id {
                read(id, dispatch, ProductFormAction::Loaded);
            }
        });
    }
    {
        // Another operator's edit or a shopper's order of this product: read it again.
        let (dispatch, id) = (dispatch.clone(), props.id);
        use_admin_events(Callback::from(move |e: AdminEvent| {
            let touches = |e: &LogEntry| id.is_some_and(|id| e.product_ids.contains(&id));
            if let (AdminEvent::Entries(entries), Some(id)) = (&e, id)
                && entries.iter().any(touches)
            {
                read(id, dispatch.clone(), ProductFormAction::Seen);
            }
        }));
    }
    let edit = |field: Field| {
        let dispatch = dispatch.clone();
        Callback::from(move |e: InputEvent| {
            let target = e.target().expect("an input event has a target");
            let value = if let Ok(t) =
                wasm_bindgen::JsCast::dyn_into::<HtmlTextAreaElement>(target.clone())
            {
                t.value()
            } else {
                wasm_bindgen::JsCast::unchecked_into::<HtmlInputElement>(target).value()
            };
            dispatch.emit(ProductFormAction::Edit(field, value));
        })
    };
    let on_currency = {
        let dispatch = dispatch.clone();
        Callback::from(move |e: Event| {
            dispatch.emit(ProductFormAction::Currency(
                e.target_unchecked_into::<HtmlSelectElement>().value(),
            ))
        })
    };
    let on_save = {
        let (form, dispatch, navigator, is_new) = (
            form.clone(),
            dispatch.clone(),
            navigator.clone(),
            props.id.is_none(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if form.busy {
                return;
            }
            let (id, upsert) = match form.upsert() {
                Ok(ok) => ok,
                Err(errors) => {
                    for (_, m) in errors {
                        dispatch.emit(ProductFormAction::Refused(m));
                    }
                    return;
                }
            };
            let version = form.version();
            let (dispatch, navigator) = (dispatch.clone(), navigator.clone());
            dispatch.emit(ProductFormAction::Busy(true));
            spawn_local(async move {
                let key = new_idempotency_key();
                match admin_api::save_product(id, &upsert, &key, version.as_deref()).await {
                    Ok(_) if is_new => navigator.push(&Route::AdminProduct { id }),
                    Ok(_) => reread(id, dispatch, "Saved."),
                    Err(e) => refused(id, e, dispatch),
                }
            });
        })
    };
    let Some(id) = props.id else {
        return html! {
            <section class="page admin-product">
                <nav class="breadcrumbs"><Link<Route> to={Route::AdminProducts}>{ "Products" }</Link<Route>></nav>
                <h1>{ "New product" }</h1>
                { product_fields(&form, &edit, &on_currency, on_save, true) }
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
    let on_price = {
        let (form, dispatch, new_price) = (form.clone(), dispatch.clone(), new_price.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let currency = form.currency.clone();
            let minor = match parse_price(&new_price, &currency) {
                Ok(m) => m,
                Err(m) => {
                    return dispatch.emit(ProductFormAction::Notice(Some(Notice::problem(m))));
                }
            };
            let (dispatch, version) = (dispatch.clone(), form.version());
            dispatch.emit(ProductFormAction::Busy(true));
            new_price.set(String::new());
            spawn_local(async move {
                let key = new_idempotency_key();
                match admin_api::set_price(id, minor, &key, version.as_deref()).await {
                    Ok(_) => reread(id, dispatch, "Price changed."),
                    Err(e) => refused(id, e, dispatch),
                }
            });
        })
    };
    let on_toggle = {
        let (form, dispatch) = (form.clone(), dispatch.clone());
        let disabled = base.disabled;
        Callback::from(move |_: MouseEvent| {
            let (dispatch, version) = (dispatch.clone(), form.version());
            // Enabling is an upsert of the product as it was (what the form shows, if valid).
            let upsert = form.upsert();
            dispatch.emit(ProductFormAction::Busy(true));
            spawn_local(async move {
                let key = new_idempotency_key();
                let result = if disabled {
                    match upsert {
                        Ok((_, u)) => admin_api::save_product(id, &u, &key, version.as_deref())
                            .await
                            .map(|_| ()),
                        Err(errors) => {
                            dispatch.emit(ProductFormAction::Busy(false));
                            for (_, m) in errors {
                                dispatch.emit(ProductFormAction::Refused(m));
                            }
                            return;
                        }
                    }
                } else {
                    admin_api::disable(id, &key, version.as_deref())
                        .await
                        .map(|_| ())
                };
                match result {
                    Ok(()) => reread(
                        id,
                        dispatch,
                        if disabled {
                            "Enabled: for sale again."
                        } else {
                            "Disabled: hidden from shoppers."
                        },
                    ),
                    Err(e) => refused(id, e, dispatch),
                }
            });
        })
    };
    let on_deliver = {
        let (dispatch, delivery) = (dispatch.clone(), delivery.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Ok(quantity) = delivery.trim().parse::<u32>() else {
                return dispatch.emit(ProductFormAction::Notice(Some(Notice::problem(
                    "Enter the units delivered, a whole number.",
                ))));
            };
            let dispatch = dispatch.clone();
            dispatch.emit(ProductFormAction::Busy(true));
            spawn_local(async move {
                let key = new_idempotency_key();
                match admin_api::deliver(id, quantity, &key).await {
                    Ok(_) => reread(id, dispatch, "Delivery recorded."),
                    Err(e) => {
                        dispatch.emit(ProductFormAction::Busy(false));
                        dispatch.emit(ProductFormAction::Notice(Some(Notice::problem(
                            e.operator_message(),
                        ))));
                    }
                }
            });
        })
    };
    let take = {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| dispatch.emit(ProductFormAction::TakeTheirs))
    };
    let keep = {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| dispatch.emit(ProductFormAction::KeepMine))
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
            if let Some((_, what)) = form.changed_meanwhile.clone() {
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
            <NoticeBox notice={form.notice.clone()} on_dismiss={dismiss} />
            <div class="admin-columns">
                <div>
                    <h2>{ "Details" }</h2>
                    { product_fields(&form, &edit, &on_currency, on_save, false) }
                </div>
                <aside class="admin-side">
                    <form class="form card-form" onsubmit={on_price}>
                        <h2>{ "Change the price" }</h2>
                        <div class="field">
                            <label for="new-price">{ format!("New price ({})", form.currency) }</label>
                            <input id="new-price" data-testid="admin-new-price" inputmode="decimal"
                                value={(*new_price).clone()}
                                oninput={let s = new_price.clone(); Callback::from(move |e: InputEvent| s.set(e.target_unchecked_into::<HtmlInputElement>().value()))} />
                        </div>
                        <button type="submit" class="button" data-testid="admin-set-price" disabled={form.busy}>{ "Change price" }</button>
                    </form>
                    <form class="form card-form" onsubmit={on_deliver}>
                        <h2>{ "Stock delivery" }</h2>
                        <div class="field">
                            <label for="delivery">{ "Units delivered" }</label>
                            <input id="delivery" type="number" min="1" step="1" data-testid="admin-delivery"
                                value={(*delivery).clone()}
                                oninput={let s = delivery.clone(); Callback::from(move |e: InputEvent| s.set(e.target_unchecked_into::<HtmlInputElement>().value()))} />
                        </div>
                        <button type="submit" class="button" data-testid="admin-deliver" disabled={form.busy}>{ "Record delivery" }</button>
                    </form>
                    <div class="card-form">
                        <h2>{ "Sale" }</h2>
                        <p>{ if base.disabled { "Disabled: shoppers cannot see or buy it." } else { "For sale." } }</p>
                        <button type="button" class={classes!("button", (!base.disabled).then_some("button--danger"))}
                            data-testid="admin-toggle" onclick={on_toggle} disabled={form.busy}>
                            { if base.disabled { "Enable again" } else { "Disable" } }
                        </button>
                    </div>
                </aside>
            </div>
        </section>
    }
}

fn field_error(form: &ProductForm, field: Field, testid: &'static str) -> Html {
    match form.error(field) {
        Some(m) => {
            html! { <p class="field-error" role="alert" data-testid={testid}>{ m.to_owned() }</p> }
        }
        None => html! {},
    }
}

/// The form's fields with their messages, and Save.
fn product_fields(
    form: &ProductForm,
    edit: &dyn Fn(Field) -> Callback<InputEvent>,
    on_currency: &Callback<Event>,
    on_save: Callback<SubmitEvent>,
    new: bool,
) -> Html {
    let invalid = |f: Field| form.error(f).is_some().then_some("true");
    html! {
        <form class="form product-form" onsubmit={on_save} novalidate=true data-testid="product-form">
            { field_error(form, Field::Form, "error-form") }
            if new {
                <div class="field">
                    <label for="p-id">{ "Product id" }</label>
                    <input id="p-id" data-testid="field-id" inputmode="numeric" value={form.id.clone()}
                        oninput={edit(Field::Id)} aria-invalid={invalid(Field::Id)} />
                    { field_error(form, Field::Id, "error-id") }
                </div>
            }
            <div class="field">
                <label for="p-title">{ "Title" }</label>
                <input id="p-title" data-testid="field-title" value={form.title.clone()}
                    oninput={edit(Field::Title)} aria-invalid={invalid(Field::Title)} />
                { field_error(form, Field::Title, "error-title") }
            </div>
            <div class="field">
                <label for="p-category">{ "Category" }</label>
                <input id="p-category" data-testid="field-category" value={form.category.clone()}
                    oninput={edit(Field::Category)} aria-invalid={invalid(Field::Category)} />
                { field_error(form, Field::Category, "error-category") }
            </div>
            <div class="field field--row">
                <div>
                    <label for="p-price">{ "Price" }</label>
                    <input id="p-price" data-testid="field-price" inputmode="decimal" value={form.price.clone()}
                        oninput={edit(Field::Price)} aria-invalid={invalid(Field::Price)} />
                </div>
                <div>
                    <label for="p-currency">{ "Currency" }</label>
                    <select id="p-currency" data-testid="field-currency" onchange={on_currency.clone()}>
                        { for ["EUR", "USD", "GBP", "CHF", "JPY"].into_iter().chain((!["EUR", "USD", "GBP", "CHF", "JPY"].contains(&form.currency.as_str())).then_some(form.currency.as_str())).map(|c| html! {
                            <option value={c.to_owned()} selected={form.currency == c}>{ c }</option>
                        }) }
                    </select>
                </div>
            </div>
            { field_error(form, Field::Price, "error-price") }
            <div class="field">
                <label for="p-description">{ "Description" }</label>
                <textarea id="p-description" data-testid="field-description" rows="3" value={form.description.clone()}
                    oninput={edit(Field::Description)} aria-invalid={invalid(Field::Description)} />
                { field_error(form, Field::Description, "error-description") }
            </div>
            <div class="field">
                <label for="p-long">{ "Long text" }</label>
                <textarea id="p-long" data-testid="field-long-text" rows="5" value={form.long_text.clone()}
                    oninput={edit(Field::LongText)} aria-invalid={invalid(Field::LongText)} />
                { field_error(form, Field::LongText, "error-long-text") }
            </div>
            <div class="field">
                <label for="p-images">{ "Image URLs (one per line)" }</label>
                <textarea id="p-images" data-testid="field-images" rows="2" value={form.image_urls.clone()}
                    oninput={edit(Field::Images)} aria-invalid={invalid(Field::Images)} />
                { field_error(form, Field::Images, "error-images") }
            </div>
            <button type="submit" class="button button--primary" data-testid="admin-save" disabled={form.busy}>
                { if form.busy { "Saving…" } else if new { "Create product" } else { "Save" } }
            </button>
        </form>
    }
}
