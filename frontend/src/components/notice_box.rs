//! The message after a shopper's action, with optional "Try again" and dismiss buttons.

use yew::prelude::*;

use frontend::notice::{Notice, Tone};

#[derive(Properties, PartialEq)]
pub struct NoticeBoxProps {
    pub notice: Option<Notice>,
    /// Shown as a "Try again" button when set.
    #[prop_or_default]
    pub on_retry: Option<Callback<()>>,
    #[prop_or_default]
    pub on_dismiss: Option<Callback<()>>,
    #[prop_or_default]
    pub children: Html,
}

/// A message after an action. The region is always in the page so screen readers announce
/// what appears in it.
#[component]
pub fn NoticeBox(props: &NoticeBoxProps) -> Html {
    let Some(n) = &props.notice else {
        return html! { <div class="notice-region" aria-live="polite"></div> };
    };
    let tone = match n.tone {
        Tone::Info => "notice notice--info",
        Tone::Success => "notice notice--success",
        Tone::Problem => "notice notice--problem",
    };
    let role = if n.tone == Tone::Problem {
        "alert"
    } else {
        "status"
    };
    html! {
        <div class="notice-region" aria-live="polite">
            <div class={tone} role={role} data-testid="notice">
                <p class="notice__text">{ n.text.clone() }</p>
                { props.children.clone() }
                if let Some(retry) = props.on_retry.clone() {
                    <button type="button" class="button button--small"
                        onclick={move |_| retry.emit(())}>{ "Try again" }</button>
                }
                if let Some(dismiss) = props.on_dismiss.clone() {
                    <button type="button" class="button button--quiet button--small"
                        aria-label="Dismiss message"
                        onclick={move |_| dismiss.emit(())}>{ "✕" }</button>
                }
            </div>
        </div>
    }
}
