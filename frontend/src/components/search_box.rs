//! The catalog's search box: it debounces typing and leaves the URL alone while the shopper
//! types, so back/forward never fights the keyboard; suggestions open under it meanwhile.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::Suggestions;
use frontend::hooks::use_suggestions;
use frontend::timing::{Generations, SEARCH_DEBOUNCE_MS, search_to_commit};

#[derive(Properties, PartialEq)]
pub struct SearchBoxProps {
    /// The search text the URL holds.
    pub value: String,
    pub on_search: Callback<String>,
}

/// The search box: typing searches once the shopper pauses (debounced), Enter searches at once.
#[component]
pub fn SearchBox(props: &SearchBoxProps) -> Html {
    let text = use_state(|| props.value.clone());
    let typed = use_mut_ref(|| props.value.clone());
    let in_url = use_mut_ref(String::new);
    let generations = use_mut_ref(Generations::default);
    let pending = use_mut_ref(|| false);
    let timer: Rc<RefCell<Option<Timeout>>> = use_mut_ref(|| None);
    let focused = use_state(|| false);
    let blur_timer: Rc<RefCell<Option<Timeout>>> = use_mut_ref(|| None);
    let found = use_suggestions((*text).clone());
    // The timer compares with what the URL says when it fires, not when it was armed.
    *in_url.borrow_mut() = props.value.clone();

    {
        // Back/forward or a link changed the search: show it, unless the shopper is typing.
        let text = text.clone();
        let typed = typed.clone();
        let pending = pending.clone();
        use_effect_with(props.value.clone(), move |v| {
            if !*pending.borrow() {
                text.set(v.clone());
                *typed.borrow_mut() = v.clone();
            }
        });
    }

    let oninput = {
        let text = text.clone();
        let on_search = props.on_search.clone();
        let generations = generations.clone();
        let pending = pending.clone();
        let timer = timer.clone();
        let typed = typed.clone();
        Callback::from(move |e: InputEvent| {
            let value = e.target_unchecked_into::<HtmlInputElement>().value();
            text.set(value.clone());
            *typed.borrow_mut() = value;
            *pending.borrow_mut() = true;
            let g = generations.borrow_mut().start();
            let (generations, typed, in_url, pending, on_search) = (
                generations.clone(),
                typed.clone(),
                in_url.clone(),
                pending.clone(),
                on_search.clone(),
            );
            // Replacing the timer drops (cancels) the previous one.
            *timer.borrow_mut() = Some(Timeout::new(SEARCH_DEBOUNCE_MS, move || {
                if !generations.borrow().is_current(g) {
                    return;
                }
                *pending.borrow_mut() = false;
                let commit =
                    search_to_commit(&generations.borrow(), g, &typed.borrow(), &in_url.borrow());
                if let Some(q) = commit {
                    on_search.emit(q);
                }
            }));
        })
    };
    let onfocus = {
        let (focused, blur_timer) = (focused.clone(), blur_timer.clone());
        Callback::from(move |_: FocusEvent| {
            blur_timer.borrow_mut().take();
            focused.set(true);
        })
    };
    let onblur = {
        let (focused, blur_timer) = (focused.clone(), blur_timer.clone());
        // Closed a moment later, so a click on a suggestion still lands.
        Callback::from(move |_: FocusEvent| {
            let focused = focused.clone();
            *blur_timer.borrow_mut() = Some(Timeout::new(200, move || focused.set(false)));
        })
    };
    let onkeydown = {
        let focused = focused.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Escape" {
                focused.set(false);
            }
        })
    };
    let onsubmit = {
        let focused = focused.clone();
        let on_search = props.on_search.clone();
        let value = props.value.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            focused.set(false);
            generations.borrow_mut().cancel();
            timer.borrow_mut().take();
            *pending.borrow_mut() = false;
            let q = typed.borrow().trim().to_owned();
            if q != value.trim() {
                on_search.emit(q);
            }
        })
    };

    html! {
        <form class="search" role="search" {onsubmit}>
            <label for="search" class="visually-hidden">{ "Search products" }</label>
            <input id="search" class="search__input" type="search" data-testid="search"
                placeholder="Search products" autocomplete="off" maxlength="200"
                value={(*text).clone()} {oninput} {onfocus} {onblur} {onkeydown} />
            <Suggestions typed={(*text).clone()} open={*focused} {found} />
        </form>
    }
}
