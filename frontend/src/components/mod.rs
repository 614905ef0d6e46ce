//! What the shopper sees, one component per visible thing, plus the small pieces every page
//! uses: the delayed spinner, notices, error panels with retry, prices and stock labels, and
//! the plumbing that starts reads and follows live events.

pub mod cart;
pub mod catalog;
pub mod header;
pub mod orders;
pub mod product;
pub mod product_card;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use shared::money;
use shared::proto::Money;
use yew::platform::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;
use yew_router::query::Raw;

use crate::api::ApiError;
use crate::app::Route;
use crate::live::{LiveEvent, LiveHub};
use crate::notice::{Notice, Tone};
use crate::stock::StockLevel;
use crate::timing::SPINNER_DELAY_MS;

/// Starts a read: takes a new generation, tells the page it started, arms the delayed spinner,
/// and reports the answer under the same generation (so late answers of older reads are dropped
/// by the page's reducer).
pub fn start_read<A, T, F>(
    generation: &Rc<RefCell<u64>>,
    dispatch: Callback<A>,
    read: F,
    start: fn(u64) -> A,
    spinner_due: fn(u64) -> A,
    done: fn(u64, Result<T, ApiError>) -> A,
) where
    A: 'static,
    T: 'static,
    F: Future<Output = Result<T, ApiError>> + 'static,
{
    let g = {
        let mut n = generation.borrow_mut();
        *n += 1;
        *n
    };
    dispatch.emit(start(g));
    let d = dispatch.clone();
    Timeout::new(SPINNER_DELAY_MS, move || d.emit(spinner_due(g))).forget();
    spawn_local(async move {
        let result = read.await;
        dispatch.emit(done(g, result));
    });
}

/// Subscribes a page's reducer to live events for as long as the page is shown.
#[hook]
pub fn use_live_events<A: 'static>(dispatch: Callback<A>, wrap: fn(LiveEvent) -> A) {
    let hub = use_context::<LiveHub>().expect("LiveHub is provided by App");
    use_effect_with((), move |_| {
        let sub = hub.subscribe(Callback::from(move |e| dispatch.emit(wrap(e))));
        move || drop(sub)
    });
}

/// Tells the live connection which products the page shows.
#[hook]
pub fn use_watch(ids: Vec<u64>) {
    let hub = use_context::<LiveHub>().expect("LiveHub is provided by App");
    use_effect_with(ids, move |ids| hub.watch(ids.clone()));
}

/// The URL of the catalog with a query string (for `href`s, so links can be opened in new tabs).
pub fn catalog_href(query: &str) -> String {
    if query.is_empty() {
        "/".to_owned()
    } else {
        format!("/?{query}")
    }
}

/// Shows the catalog for a query string, as a new history entry.
pub fn go_catalog(navigator: &Navigator, query: &str) {
    if query.is_empty() {
        navigator.push(&Route::Catalog);
    } else {
        let _ = navigator.push_with_query(&Route::Catalog, Raw(query.to_owned()));
    }
}

/// An `onclick` for a plain `<a href>` that navigates inside the app, leaving modified clicks
/// (new tab, new window) to the browser.
pub fn follow_catalog(navigator: Navigator, query: String) -> Callback<MouseEvent> {
    Callback::from(move |e: MouseEvent| {
        if e.ctrl_key() || e.meta_key() || e.shift_key() || e.alt_key() || e.button() != 0 {
            return;
        }
        e.prevent_default();
        go_catalog(&navigator, &query);
    })
}

/// A price in its currency, or a dash when the server sent none.
pub fn price_text(m: Option<&Money>) -> String {
    m.map_or_else(|| "—".to_owned(), |m| money::format(m.minor, &m.currency))
}

/// Several totals (one per currency) joined for display; zero in `currency` when there are none.
pub fn totals_text(totals: &[Money], currency: &str) -> String {
    if totals.is_empty() {
        return money::format(0, currency);
    }
    totals
        .iter()
        .map(|m| money::format(m.minor, &m.currency))
        .collect::<Vec<_>>()
        .join(" + ")
}

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

#[derive(Properties, PartialEq)]
pub struct StockLabelProps {
    pub level: StockLevel,
}

/// "In stock" / "Only 3 left" / "Sold out".
#[component]
pub fn StockLabel(props: &StockLabelProps) -> Html {
    html! {
        <p class={props.level.class()} data-testid="stock-level">{ props.level.text() }</p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::money::money;

    #[test]
    fn prices_and_totals() {
        assert_eq!(price_text(Some(&money(123450, "EUR"))), "€1,234.50");
        assert_eq!(price_text(None), "—");
        assert_eq!(
            totals_text(&[money(100, "EUR"), money(250, "USD")], "EUR"),
            "€1.00 + $2.50"
        );
        assert_eq!(totals_text(&[], "JPY"), "¥0");
        assert_eq!(catalog_href(""), "/");
        assert_eq!(catalog_href("q=a"), "/?q=a");
    }
}
