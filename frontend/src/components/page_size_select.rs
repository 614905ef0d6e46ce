//! The catalog's "Per page" picker.

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use frontend::catalog_query::PAGE_SIZES;

#[derive(Properties, PartialEq)]
pub struct PageSizeSelectProps {
    pub value: u32,
    pub on_change: Callback<u32>,
}

#[component]
pub fn PageSizeSelect(props: &PageSizeSelectProps) -> Html {
    let on_change = props.on_change.clone();
    let onchange = Callback::from(move |e: Event| {
        if let Ok(n) = e
            .target_unchecked_into::<HtmlSelectElement>()
            .value()
            .parse()
        {
            on_change.emit(n);
        }
    });
    html! {
        <div class="field">
            <label for="page-size">{ "Per page" }</label>
            <select id="page-size" data-testid="page-size" {onchange}>
                { for PAGE_SIZES.iter().map(|n| html! {
                    <option value={n.to_string()} selected={props.value == *n}>{ n.to_string() }</option>
                }) }
            </select>
        </div>
    }
}
