//! The loading indicator of a slow read.

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct SpinnerProps {
    pub show: bool,
    #[prop_or(AttrValue::Static("Loading…"))]
    pub label: AttrValue,
}

/// A spinner that the page only asks for once a read has taken longer than the spinner delay.
#[component]
pub fn Spinner(props: &SpinnerProps) -> Html {
    if !props.show {
        return html! {};
    }
    html! {
        <div class="spinner" role="status">
            <span class="spinner__wheel" aria-hidden="true"></span>
            <span class="spinner__label">{ props.label.clone() }</span>
        </div>
    }
}
