//! The catalog's sort order picker; its option values are a contract with the browser tests.

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use frontend::catalog_query::SORT_OPTIONS;

#[derive(Properties, PartialEq)]
pub struct SortSelectProps {
    pub value: String,
    pub on_change: Callback<String>,
    /// "Best match" is offered only while there is a search.
    #[prop_or_default]
    pub searching: bool,
}

#[component]
pub fn SortSelect(props: &SortSelectProps) -> Html {
    let on_change = props.on_change.clone();
    let onchange = Callback::from(move |e: Event| {
        on_change.emit(e.target_unchecked_into::<HtmlSelectElement>().value())
    });
    html! {
        <div class="field">
            <label for="sort">{ "Sort by" }</label>
            <select id="sort" data-testid="sort" {onchange}>
                { for SORT_OPTIONS.iter().filter(|(v, _)| props.searching || *v != "relevance").map(|(value, label)| html! {
                    <option value={*value} selected={props.value == *value}>{ *label }</option>
                }) }
            </select>
        </div>
    }
}
