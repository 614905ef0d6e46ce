//! A failed read in the shopper's words, with "Try again".

use yew::prelude::*;

use frontend::api::ApiError;

#[derive(Properties, PartialEq)]
pub struct ErrorPanelProps {
    pub error: ApiError,
    pub on_retry: Callback<()>,
}

/// A read failed: what happened, in the shopper's words, and a way to try again.
#[component]
pub fn ErrorPanel(props: &ErrorPanelProps) -> Html {
    let retry = props.on_retry.clone();
    html! {
        <div class="error-panel" role="alert">
            <p>{ props.error.message() }</p>
            <button type="button" class="button" onclick={move |_| retry.emit(())}>
                { "Try again" }
            </button>
        </div>
    }
}
