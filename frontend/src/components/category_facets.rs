//! The catalog's category filter. Facets are real links so they open in new tabs.

use shared::proto::CategoryView;
use yew::prelude::*;
use yew_router::prelude::*;

use frontend::catalog_query::CatalogQuery;
use frontend::route::{catalog_href, follow_catalog};

#[derive(Properties, PartialEq)]
pub struct CategoryFacetsProps {
    pub categories: Vec<CategoryView>,
    pub query: CatalogQuery,
    pub navigator: Navigator,
}

/// The category filter: "All" and one link per category with its product count.
#[component]
pub fn CategoryFacets(props: &CategoryFacetsProps) -> Html {
    let all: u64 = props.categories.iter().map(|c| c.product_count).sum();
    let facet = |slug: &str, name: &str, count: Option<u64>| {
        let target = props.query.with_category(slug).to_query_string();
        let current = props.query.category == slug;
        html! {
            <li>
                <a class={classes!("facet", current.then_some("facet--current"))}
                    data-testid="category-facet" data-slug={slug.to_owned()}
                    href={catalog_href(&target)}
                    aria-current={current.then_some("page")}
                    onclick={follow_catalog(props.navigator.clone(), target)}>
                    <span class="facet__name">{ name.to_owned() }</span>
                    if let Some(n) = count {
                        <span class="facet__count" aria-label={format!("{n} products")}>{ n }</span>
                    }
                </a>
            </li>
        }
    };
    html! {
        <nav class="facets" aria-label="Categories">
            <h2 class="facets__title">{ "Categories" }</h2>
            <ul class="facets__list">
                { facet("", "All", (!props.categories.is_empty()).then_some(all)) }
                { for props.categories.iter().map(|c| facet(&c.slug, &c.name, Some(c.product_count))) }
            </ul>
        </nav>
    }
}
