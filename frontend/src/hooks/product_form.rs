//! The admin product form's effects: reading the product (and again when an applied event
//! touches it), and its commands (save, price, disable or enable, a stock delivery), each naming
//! the version the form was read at. Answers and refusals go to the form's reducer.

use shared::proto::{AdminProductView, LogEntry};
use yew::platform::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use super::use_admin_events;
use crate::admin_api;
use crate::admin_live::AdminEvent;
use crate::api::{ApiError, new_idempotency_key};
use crate::notice::Notice;
use crate::route::Route;
use crate::state::product_form::{ProductForm, ProductFormAction};

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

/// The form's state and what it can do.
pub struct ProductFormHandle {
    pub form: UseReducerHandle<ProductForm>,
    pub dispatch: Callback<ProductFormAction>,
    /// Saves the form (a new product opens its own page once created).
    pub save: Callback<()>,
    /// Sets the price, in minor units.
    pub set_price: Callback<i64>,
    /// Disables the product, or enables it again (an upsert of the form).
    pub toggle: Callback<()>,
    /// Records a stock delivery of this many units.
    pub deliver: Callback<u32>,
}

/// The product `id`'s form (`None`: a new product), read when shown and again whenever another
/// operator's edit or a shopper's order touches it.
#[hook]
pub fn use_product_form(id: Option<u64>) -> ProductFormHandle {
    let form = use_reducer(|| match id {
        Some(_) => ProductForm::default(),
        None => ProductForm::new_product(),
    });
    let dispatch = {
        let d = form.dispatcher();
        Callback::from(move |a| d.dispatch(a))
    };
    let navigator = use_navigator().expect("inside the router");
    {
        let dispatch = dispatch.clone();
        use_effect_with(id, move |id| {
            if let Some(id) = *id {
                read(id, dispatch, ProductFormAction::Loaded);
            }
        });
    }
    {
        // Another operator's edit or a shopper's order of this product: read it again.
        let dispatch = dispatch.clone();
        use_admin_events(Callback::from(move |e: AdminEvent| {
            let touches = |e: &LogEntry| id.is_some_and(|id| e.product_ids.contains(&id));
            if let (AdminEvent::Entries(entries), Some(id)) = (&e, id)
                && entries.iter().any(touches)
            {
                read(id, dispatch.clone(), ProductFormAction::Seen);
            }
        }));
    }
    let save = save(&form, &dispatch, id, navigator);
    // The other commands exist only for a product that is there.
    let id = id.unwrap_or_default();
    let set_price = set_price(&form, &dispatch, id);
    let toggle = toggle(&form, &dispatch, id);
    let deliver = deliver(&dispatch, id);
    ProductFormHandle {
        form,
        dispatch,
        save,
        set_price,
        toggle,
        deliver,
    }
}

/// Saves the form; a new product opens its own page once created.
fn save(
    form: &UseReducerHandle<ProductForm>,
    dispatch: &Callback<ProductFormAction>,
    id: Option<u64>,
    navigator: Navigator,
) -> Callback<()> {
    let (form, dispatch, is_new) = (form.clone(), dispatch.clone(), id.is_none());
    Callback::from(move |()| {
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
}

/// Sets the price, in minor units.
fn set_price(
    form: &UseReducerHandle<ProductForm>,
    dispatch: &Callback<ProductFormAction>,
    id: u64,
) -> Callback<i64> {
    let (form, dispatch) = (form.clone(), dispatch.clone());
    Callback::from(move |minor: i64| {
        let (dispatch, version) = (dispatch.clone(), form.version());
        dispatch.emit(ProductFormAction::Busy(true));
        spawn_local(async move {
            let key = new_idempotency_key();
            match admin_api::set_price(id, minor, &key, version.as_deref()).await {
                Ok(_) => reread(id, dispatch, "Price changed."),
                Err(e) => refused(id, e, dispatch),
            }
        });
    })
}

/// Disables the product, or enables it again (an upsert of the product as the form shows it).
fn toggle(
    form: &UseReducerHandle<ProductForm>,
    dispatch: &Callback<ProductFormAction>,
    id: u64,
) -> Callback<()> {
    let (form, dispatch) = (form.clone(), dispatch.clone());
    Callback::from(move |()| {
        let disabled = form.base.as_ref().is_some_and(|b| b.disabled);
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
}

/// Records a stock delivery.
fn deliver(dispatch: &Callback<ProductFormAction>, id: u64) -> Callback<u32> {
    let dispatch = dispatch.clone();
    Callback::from(move |quantity: u32| {
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
}
