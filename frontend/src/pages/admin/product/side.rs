//! The product page's side column: a new price, a stock delivery, and disabling or enabling
//! the product. Each checks what was typed before it asks for the change.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use frontend::notice::Notice;
use frontend::state::product_form::{ProductFormAction, parse_price};

/// Keeps what is typed in `state`.
fn typed(state: &UseStateHandle<String>) -> Callback<InputEvent> {
    let state = state.clone();
    Callback::from(move |e: InputEvent| {
        state.set(e.target_unchecked_into::<HtmlInputElement>().value())
    })
}

#[derive(Properties, PartialEq)]
pub struct PriceFormProps {
    /// The form's currency, which the new price is typed in.
    pub currency: String,
    pub busy: bool,
    /// Where a mistyped price is explained.
    pub dispatch: Callback<ProductFormAction>,
    /// The new price, in minor units.
    pub on_price: Callback<i64>,
}

#[component]
pub fn PriceForm(props: &PriceFormProps) -> Html {
    let new_price = use_state(String::new);
    let onsubmit = {
        let (currency, dispatch, on_price, new_price) = (
            props.currency.clone(),
            props.dispatch.clone(),
            props.on_price.clone(),
            new_price.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            match parse_price(&new_price, &currency) {
                Ok(minor) => {
                    new_price.set(String::new());
                    on_price.emit(minor);
                }
                Err(m) => dispatch.emit(ProductFormAction::Notice(Some(Notice::problem(m)))),
            }
        })
    };
    html! {
        <form class="form card-form" {onsubmit}>
            <h2>{ "Change the price" }</h2>
            <div class="field">
                <label for="new-price">{ format!("New price ({})", props.currency) }</label>
                <input id="new-price" data-testid="admin-new-price" inputmode="decimal"
                    value={(*new_price).clone()} oninput={typed(&new_price)} />
            </div>
            <button type="submit" class="button" data-testid="admin-set-price" disabled={props.busy}>{ "Change price" }</button>
        </form>
    }
}

#[derive(Properties, PartialEq)]
pub struct DeliveryFormProps {
    pub busy: bool,
    /// Where a mistyped quantity is explained.
    pub dispatch: Callback<ProductFormAction>,
    /// The units delivered.
    pub on_deliver: Callback<u32>,
}

#[component]
pub fn DeliveryForm(props: &DeliveryFormProps) -> Html {
    let delivery = use_state(|| "10".to_owned());
    let onsubmit = {
        let (dispatch, on_deliver, delivery) = (
            props.dispatch.clone(),
            props.on_deliver.clone(),
            delivery.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            match delivery.trim().parse::<u32>() {
                Ok(quantity) => on_deliver.emit(quantity),
                Err(_) => dispatch.emit(ProductFormAction::Notice(Some(Notice::problem(
                    "Enter the units delivered, a whole number.",
                )))),
            }
        })
    };
    html! {
        <form class="form card-form" {onsubmit}>
            <h2>{ "Stock delivery" }</h2>
            <div class="field">
                <label for="delivery">{ "Units delivered" }</label>
                <input id="delivery" type="number" min="1" step="1" data-testid="admin-delivery"
                    value={(*delivery).clone()} oninput={typed(&delivery)} />
            </div>
            <button type="submit" class="button" data-testid="admin-deliver" disabled={props.busy}>{ "Record delivery" }</button>
        </form>
    }
}

#[derive(Properties, PartialEq)]
pub struct SaleToggleProps {
    /// Whether the product is disabled now.
    pub disabled: bool,
    pub busy: bool,
    pub on_toggle: Callback<()>,
}

#[component]
pub fn SaleToggle(props: &SaleToggleProps) -> Html {
    let disabled = props.disabled;
    html! {
        <div class="card-form">
            <h2>{ "Sale" }</h2>
            <p>{ if disabled { "Disabled: shoppers cannot see or buy it." } else { "For sale." } }</p>
            <button type="button" class={classes!("button", (!disabled).then_some("button--danger"))}
                data-testid="admin-toggle" onclick={props.on_toggle.reform(|_: MouseEvent| ())} disabled={props.busy}>
                { if disabled { "Enable again" } else { "Disable" } }
            </button>
        </div>
    }
}
