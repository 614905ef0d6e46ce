//! The product form's fields, each with the message the API (or the form) gave about it, and
//! Save (or Create for a new product).

use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use frontend::state::product_form::{Field, ProductForm, ProductFormAction};

/// Currencies offered; a product in another keeps its own in the list.
const CURRENCIES: [&str; 5] = ["EUR", "USD", "GBP", "CHF", "JPY"];

#[derive(Properties, PartialEq)]
pub struct ProductFieldsProps {
    pub form: ProductForm,
    pub dispatch: Callback<ProductFormAction>,
    pub on_save: Callback<()>,
    /// A new product: its id is typed too.
    pub new: bool,
}

/// The form's fields with their messages, and Save.
#[component]
pub fn ProductFields(props: &ProductFieldsProps) -> Html {
    let ProductFieldsProps {
        form,
        dispatch,
        on_save,
        new,
    } = props;
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
    let on_currency = dispatch.reform(|e: Event| {
        ProductFormAction::Currency(e.target_unchecked_into::<HtmlSelectElement>().value())
    });
    let on_save = on_save.reform(|e: SubmitEvent| e.prevent_default());
    let invalid = |f: Field| form.error(f).is_some().then_some("true");
    let error = |field: Field, testid: &'static str| field_error(form, field, testid);
    let currencies = CURRENCIES
        .into_iter()
        .chain((!CURRENCIES.contains(&form.currency.as_str())).then_some(form.currency.as_str()));
    html! {
        <form class="form product-form" onsubmit={on_save} novalidate=true data-testid="product-form">
            { error(Field::Form, "error-form") }
            if *new {
                <div class="field">
                    <label for="p-id">{ "Product id" }</label>
                    <input id="p-id" data-testid="field-id" inputmode="numeric" value={form.id.clone()}
                        oninput={edit(Field::Id)} aria-invalid={invalid(Field::Id)} />
                    { error(Field::Id, "error-id") }
                </div>
            }
            <div class="field">
                <label for="p-title">{ "Title" }</label>
                <input id="p-title" data-testid="field-title" value={form.title.clone()}
                    oninput={edit(Field::Title)} aria-invalid={invalid(Field::Title)} />
                { error(Field::Title, "error-title") }
            </div>
            <div class="field">
                <label for="p-category">{ "Category" }</label>
                <input id="p-category" data-testid="field-category" value={form.category.clone()}
                    oninput={edit(Field::Category)} aria-invalid={invalid(Field::Category)} />
                { error(Field::Category, "error-category") }
            </div>
            <div class="field field--row">
                <div>
                    <label for="p-price">{ "Price" }</label>
                    <input id="p-price" data-testid="field-price" inputmode="decimal" value={form.price.clone()}
                        oninput={edit(Field::Price)} aria-invalid={invalid(Field::Price)} />
                </div>
                <div>
                    <label for="p-currency">{ "Currency" }</label>
                    <select id="p-currency" data-testid="field-currency" onchange={on_currency}>
                        { for currencies.map(|c| html! {
                            <option value={c.to_owned()} selected={form.currency == c}>{ c }</option>
                        }) }
                    </select>
                </div>
            </div>
            { error(Field::Price, "error-price") }
            <div class="field">
                <label for="p-description">{ "Description" }</label>
                <textarea id="p-description" data-testid="field-description" rows="3" value={form.description.clone()}
                    oninput={edit(Field::Description)} aria-invalid={invalid(Field::Description)} />
                { error(Field::Description, "error-description") }
            </div>
            <div class="field">
                <label for="p-long">{ "Long text" }</label>
                <textarea id="p-long" data-testid="field-long-text" rows="5" value={form.long_text.clone()}
                    oninput={edit(Field::LongText)} aria-invalid={invalid(Field::LongText)} />
                { error(Field::LongText, "error-long-text") }
            </div>
            <div class="field">
                <label for="p-images">{ "Image URLs (one per line)" }</label>
                <textarea id="p-images" data-testid="field-images" rows="2" value={form.image_urls.clone()}
                    oninput={edit(Field::Images)} aria-invalid={invalid(Field::Images)} />
                { error(Field::Images, "error-images") }
            </div>
            <button type="submit" class="button button--primary" data-testid="admin-save" disabled={form.busy}>
                { if form.busy { "Saving…" } else if *new { "Create product" } else { "Save" } }
            </button>
        </form>
    }
}

/// The message about `field`, if any.
fn field_error(form: &ProductForm, field: Field, testid: &'static str) -> Html {
    match form.error(field) {
        Some(m) => {
            html! { <p class="field-error" role="alert" data-testid={testid}>{ m.to_owned() }</p> }
        }
        None => html! {},
    }
}
