//! What a search result says about itself: a "did you mean" line when typos were corrected, a
//! note when not every word could be matched, and an empty state that offers the closest
//! categories instead of a blank page.

use shared::proto::SearchFacts;
use yew::prelude::*;
use yew_router::prelude::*;

use frontend::catalog_query::CatalogQuery;
use frontend::route::{catalog_href, follow_catalog};

#[derive(Properties, PartialEq)]
pub struct SearchNotesProps {
    pub query: CatalogQuery,
    pub facts: Option<SearchFacts>,
    pub total: Option<u64>,
    pub navigator: Navigator,
}

#[component]
pub fn SearchNotes(props: &SearchNotesProps) -> Html {
    let (Some(facts), Some(total)) = (&props.facts, props.total) else {
        return html! {};
    };
    let link = |target: CatalogQuery, text: String, testid: &'static str| {
        let target = target.to_query_string();
        html! {
            <a href={catalog_href(&target)} data-testid={testid}
                onclick={follow_catalog(props.navigator.clone(), target)}>{ text }</a>
        }
    };
    let q = &props.query.q;
    let mut notes: Vec<Html> = Vec::new();
    if !facts.did_you_mean.is_empty() && total > 0 {
        notes.push(html! {
            <p class="search-note" data-testid="did-you-mean">
                { "Did you mean " }
                { link(props.query.with_search(&facts.did_you_mean), facts.did_you_mean.clone(), "did-you-mean-link") }
                { "? Showing its results." }
            </p>
        });
    }
    if facts.words_matched < facts.words_typed && total > 0 {
        let matched: Vec<&str> = q
            .split_whitespace()
            .take(facts.words_matched as usize)
            .collect();
        notes.push(html! {
            <p class="search-note" data-testid="partial-match">
                { format!("No products match all of “{q}”. Showing products that match “{}”.", matched.join(" ")) }
            </p>
        });
    }
    if total == 0 {
        notes.push(html! {
            <div class="empty" data-testid="search-empty">
                <p>{ format!("No products match “{q}”.") }</p>
                if !facts.closest_categories.is_empty() {
                    <p>{ "Perhaps in one of these categories:" }</p>
                    <ul class="closest">
                        { for facts.closest_categories.iter().map(|c| html! {
                            <li>{ link(CatalogQuery::default().with_category(&c.slug), format!("{} ({})", c.name, c.product_count), "closest-category") }</li>
                        }) }
                    </ul>
                }
            </div>
        });
    }
    html! { <>{ for notes }</> }
}
