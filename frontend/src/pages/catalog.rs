//! The catalog page: search, sort, page size, category facets, the product grid and page
//! navigation. Everything that selects what is shown lives in the URL (see `catalog_query`);
//! the controls only change the URL, and the page reads whatever the URL says.

use yew::prelude::*;
use yew_router::prelude::*;
use yew_router::query::Raw;

use crate::components::{
    CategoryFacets, ErrorPanel, PageSizeSelect, Pager, PriceFilter, ProductCard, SearchBox,
    SearchNotes, SortSelect, Spinner,
};
use frontend::api;
use frontend::catalog_query::CatalogQuery;
use frontend::hooks::{
    ShopHandle, use_live_events, use_page_state, use_read, use_side_read, use_watch,
};
use frontend::route::{Route, go_catalog};
use frontend::state::catalog::{CatalogAction, CatalogState};

#[component]
pub fn CatalogPage() -> Html {
    let location = use_location().expect("inside the router");
    let navigator = use_navigator().expect("inside the router");
    let shop = use_context::<ShopHandle>().expect("ShopHandle is provided by App");
    let query = CatalogQuery::from_query_string(location.query_str());
    let (state, dispatch) = use_page_state(CatalogState::default);
    // Read the results whenever the URL's state changes, after a resync, and on "Try again".
    let retry = use_read(
        dispatch.clone(),
        (query.clone(), shop.resyncs),
        |(query, _)| {
            let query = query.clone();
            async move { api::products(&query).await }
        },
        CatalogAction::Load,
        CatalogAction::SpinnerDue,
        CatalogAction::Loaded,
    );
    use_side_read(
        shop.resyncs,
        |_| api::categories(),
        dispatch.reform(CatalogAction::Categories),
    );
    use_live_events(dispatch, CatalogAction::Live);
    use_watch(state.shown_ids());
    {
        // A page past the end (a stale link, or products removed) shows the last page instead.
        let navigator = navigator.clone();
        let total = state.results.value.as_ref().map(|p| p.total_pages);
        let loading = state.results.is_loading();
        use_effect_with(
            (query.clone(), total, loading),
            move |(query, total, loading)| {
                if let (Some(total), false) = (*total, *loading)
                    && total > 0
                    && query.page > total
                {
                    let _ = navigator.replace_with_query(
                        &Route::Catalog,
                        Raw(query.with_page(total).to_query_string()),
                    );
                }
            },
        );
    }

    let go = {
        let navigator = navigator.clone();
        Callback::from(move |q: CatalogQuery| go_catalog(&navigator, &q.to_query_string()))
    };
    let (page, total_pages) = state.page_info();
    let results = &state.results;
    let total_items = results.value.as_ref().map(|p| p.total_items);
    let facts = results.value.as_ref().and_then(|p| p.search.clone());
    // A search's facets count its own results; the plain catalog shows every category's size.
    let categories = match &facts {
        Some(f) => f.categories.clone(),
        None => state
            .categories
            .as_ref()
            .map(|c| c.categories.clone())
            .unwrap_or_default(),
    };
    let price_range = facts
        .as_ref()
        .and_then(|f| f.min_price.clone().zip(f.max_price.clone()));
    let title_matches = |id: u64| {
        facts
            .as_ref()
            .and_then(|f| f.matches.iter().find(|m| m.product_id == id))
            .map(|m| m.title.clone())
            .unwrap_or_default()
    };

    html! {
        <section class="page catalog">
            <h1 class="visually-hidden">{ "Catalog" }</h1>
            <div class="catalog__layout">
                <aside class="catalog__facets">
                    <CategoryFacets {categories} query={query.clone()} navigator={navigator.clone()} />
                    <PriceFilter query={query.clone()} range={price_range} on_change={go.clone()} />
                </aside>
                <div class="catalog__main">
                    <div class="toolbar">
                        <SearchBox value={query.q.clone()} on_search={
                            let go = go.clone();
                            let query = query.clone();
                            Callback::from(move |q: String| go.emit(query.with_search(&q)))
                        } />
                        <SortSelect value={query.sort_option()} searching={!query.q.is_empty()} on_change={
                            let go = go.clone();
                            let query = query.clone();
                            Callback::from(move |v: String| go.emit(query.with_sort_option(&v)))
                        } />
                        <PageSizeSelect value={query.page_size} on_change={
                            let go = go.clone();
                            let query = query.clone();
                            Callback::from(move |n: u32| go.emit(query.with_page_size(n)))
                        } />
                    </div>
                    <p class="result-count" aria-live="polite">
                        { match total_items {
                            Some(1) => "1 product".to_owned(),
                            Some(n) => format!("{n} products"),
                            None => String::new(),
                        } }
                    </p>
                    <SearchNotes query={query.clone()} facts={facts.clone()} total={total_items} navigator={navigator.clone()} />
                    if let Some(error) = results.error.clone() {
                        <ErrorPanel {error} on_retry={retry} />
                    }
                    <div class="results" aria-busy={results.is_loading().to_string()}>
                        <Spinner show={results.spinner} label="Loading products…" />
                        if results.value.is_some() && state.items().is_empty() && facts.is_none() {
                            <p class="empty">{ "No products match. Try another search or category." }</p>
                        }
                        <ul class={classes!("grid", results.spinner.then_some("grid--stale"))}>
                            { for state.items().iter().map(|p| html! {
                                <ProductCard key={p.id} product={p.clone()} for_sale={state.for_sale(p.id)}
                                    title_matches={title_matches(p.id)} />
                            }) }
                        </ul>
                    </div>
                    <Pager {page} {total_pages}
                        on_page={
                            let go = go.clone();
                            let query = query.clone();
                            Callback::from(move |n: u32| go.emit(query.with_page(n)))
                        } />
                </div>
            </div>
        </section>
    }
}
