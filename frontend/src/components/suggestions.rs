//! Suggestions under the search box while the shopper types: the best-matching titles (matched
//! parts marked) and the categories with the most matches. Fetched a moment after the last key
//! (sooner than the results below commit to the URL), and only the newest answer is shown.

use std::cell::Cell;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use shared::proto::ProductPage;
use yew::platform::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use super::highlighted;
use crate::api;
use crate::catalog_query::CatalogQuery;
use crate::route::{Route, catalog_href, follow_catalog};

/// Milliseconds after the last key before suggestions are asked for.
const SUGGEST_AFTER_MS: u32 = 120;

#[derive(Properties, PartialEq)]
pub struct SuggestionsProps {
    /// The text in the box.
    pub typed: String,
    /// Whether to show them (the box has the focus).
    pub open: bool,
}

#[component]
pub fn Suggestions(props: &SuggestionsProps) -> Html {
    let found = use_state(|| None::<(String, ProductPage)>);
    let generation = use_mut_ref(|| Rc::new(Cell::new(0u64)));
    let navigator = use_navigator().expect("inside the router");
    {
        let found = found.clone();
        let generation = generation.borrow().clone();
        use_effect_with(props.typed.clone(), move |typed| {
            let g = generation.get() + 1;
            generation.set(g);
            let typed = typed.trim_start().to_owned();
            let timer = (!typed.trim().is_empty()).then(|| {
                Timeout::new(SUGGEST_AFTER_MS, move || {
                    spawn_local(async move {
                        if let Ok(page) = api::suggestions(&typed).await
                            && generation.get() == g
                        {
                            found.set(Some((typed, page)));
                        }
                    });
                })
            });
            move || drop(timer)
        });
    }
    let Some((typed, page)) = (*found).clone() else {
        return html! {};
    };
    if !props.open || typed.trim() != props.typed.trim() || page.items.is_empty() {
        return html! {};
    }
    let facts = page.search.clone().unwrap_or_default();
    let mut categories = facts.categories.clone();
    categories.sort_by(|a, b| {
        b.product_count
            .cmp(&a.product_count)
            .then(a.slug.cmp(&b.slug))
    });
    html! {
        <div class="suggestions" data-testid="suggestions" role="listbox" aria-label="Suggestions">
            <ul class="suggestions__products">
                { for page.items.iter().map(|p| {
                    let spans = facts.matches.iter().find(|m| m.product_id == p.id).map(|m| m.title.clone()).unwrap_or_default();
                    html! {
                        <li role="option">
                            <Link<Route> to={Route::Product { id: p.id }} classes="suggestion">
                                <span data-testid="suggestion-title">{ highlighted(&p.title, &spans) }</span>
                            </Link<Route>>
                        </li>
                    }
                }) }
            </ul>
            if !categories.is_empty() {
                <ul class="suggestions__categories">
                    { for categories.iter().take(3).map(|c| {
                        let target = CatalogQuery::default().with_search(typed.trim()).with_category(&c.slug).to_query_string();
                        html! {
                            <li role="option">
                                <a class="suggestion" data-testid="suggestion-category" href={catalog_href(&target)}
                                    onclick={follow_catalog(navigator.clone(), target.clone())}>
                                    { format!("in {} ({})", c.name, c.product_count) }
                                </a>
                            </li>
                        }
                    }) }
                </ul>
            }
        </div>
    }
}
