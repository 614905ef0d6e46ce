//! Suggestions under the search box while the shopper types: the best-matching titles (matched
//! parts marked) and the categories with the most matches, as `use_suggestions` found them;
//! shown only while they answer what the box holds.

use shared::proto::ProductPage;
use yew::prelude::*;
use yew_router::prelude::*;

use super::highlighted;
use frontend::catalog_query::CatalogQuery;
use frontend::route::{Route, catalog_href, follow_catalog};

#[derive(Properties, PartialEq)]
pub struct SuggestionsProps {
    /// The text in the box.
    pub typed: String,
    /// Whether to show them (the box has the focus).
    pub open: bool,
    /// The newest suggestions: the text they answer and the answer.
    pub found: Option<(String, ProductPage)>,
}

#[component]
pub fn Suggestions(props: &SuggestionsProps) -> Html {
    let navigator = use_navigator().expect("inside the router");
    let Some((typed, page)) = props.found.clone() else {
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
