//! The catalog page: search, sort, page size, category facets, the product grid and page
//! navigation. Everything that selects what is shown lives in the URL (see `catalog_query`);
//! the controls only change the URL, and the page reads whatever the URL says.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use shared::proto::CategoryView;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::platform::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use super::product_card::ProductCard;
use super::{
    ErrorPanel, Spinner, catalog_href, follow_catalog, go_catalog, use_live_events, use_watch,
};
use crate::api;
use crate::app::ShopHandle;
use crate::catalog_query::{CatalogQuery, PAGE_SIZES, SORT_OPTIONS};
use crate::catalog_state::{CatalogAction, CatalogState};
use crate::page::{use_page_state, use_read};
use crate::timing::{Generations, SEARCH_DEBOUNCE_MS, search_to_commit};

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
    {
        let dispatch = dispatch.clone();
        use_effect_with(shop.resyncs, move |_| {
            spawn_local(async move {
                if let Ok(c) = api::categories().await {
                    dispatch.emit(CatalogAction::Categories(c));
                }
            });
        });
    }
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
                        &crate::app::Route::Catalog,
                        yew_router::query::Raw(query.with_page(total).to_query_string()),
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

    html! {
        <section class="page catalog">
            <h1 class="visually-hidden">{ "Catalog" }</h1>
            <div class="catalog__layout">
                <aside class="catalog__facets">
                    <CategoryFacets categories={state.categories.as_ref().map(|c| c.categories.clone()).unwrap_or_default()}
                        query={query.clone()} navigator={navigator.clone()} />
                </aside>
                <div class="catalog__main">
                    <div class="toolbar">
                        <SearchBox value={query.q.clone()} on_search={
                            let go = go.clone();
                            let query = query.clone();
                            Callback::from(move |q: String| go.emit(query.with_search(&q)))
                        } />
                        <SortSelect value={query.sort_option()} on_change={
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
                    if let Some(error) = results.error.clone() {
                        <ErrorPanel {error} on_retry={retry} />
                    }
                    <div class="results" aria-busy={results.is_loading().to_string()}>
                        <Spinner show={results.spinner} label="Loading products…" />
                        if results.value.is_some() && state.items().is_empty() {
                            <p class="empty">{ "No products match. Try another search or category." }</p>
                        }
                        <ul class={classes!("grid", results.spinner.then_some("grid--stale"))}>
                            { for state.items().iter().map(|p| html! {
                                <ProductCard key={p.id} product={p.clone()} for_sale={state.for_sale(p.id)} />
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
    let onsubmit = {
        let on_search = props.on_search.clone();
        let value = props.value.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
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
                value={(*text).clone()} {oninput} />
        </form>
    }
}

#[derive(Properties, PartialEq)]
pub struct SortSelectProps {
    pub value: String,
    pub on_change: Callback<String>,
}

#[component]
pub fn SortSelect(props: &SortSelectProps) -> Html {
    let on_change = props.on_change.clone();
    let onchange = Callback::from(move |e: Event| {
        on_change.emit(e.target_unchecked_into::<HtmlSelectElement>().value())
    });
    html! {
        <div class="field">
            <label for="sort">{ "Sort by" }</label>
            <select id="sort" data-testid="sort" {onchange}>
                { for SORT_OPTIONS.iter().map(|(value, label)| html! {
                    <option value={*value} selected={props.value == *value}>{ *label }</option>
                }) }
            </select>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct PageSizeSelectProps {
    pub value: u32,
    pub on_change: Callback<u32>,
}

#[component]
pub fn PageSizeSelect(props: &PageSizeSelectProps) -> Html {
    let on_change = props.on_change.clone();
    let onchange = Callback::from(move |e: Event| {
        if let Ok(n) = e
            .target_unchecked_into::<HtmlSelectElement>()
            .value()
            .parse()
        {
            on_change.emit(n);
        }
    });
    html! {
        <div class="field">
            <label for="page-size">{ "Per page" }</label>
            <select id="page-size" data-testid="page-size" {onchange}>
                { for PAGE_SIZES.iter().map(|n| html! {
                    <option value={n.to_string()} selected={props.value == *n}>{ n.to_string() }</option>
                }) }
            </select>
        </div>
    }
}

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

#[derive(Properties, PartialEq)]
pub struct PagerProps {
    pub page: u32,
    pub total_pages: u32,
    pub on_page: Callback<u32>,
}

/// Previous / "Page 2 of 10" / Next.
#[component]
pub fn Pager(props: &PagerProps) -> Html {
    let (page, total) = (props.page, props.total_pages);
    let prev = {
        let on_page = props.on_page.clone();
        Callback::from(move |_: MouseEvent| on_page.emit(page.saturating_sub(1).max(1)))
    };
    let next = {
        let on_page = props.on_page.clone();
        Callback::from(move |_: MouseEvent| on_page.emit(page + 1))
    };
    html! {
        <nav class="pager" aria-label="Pages">
            <button type="button" class="button" data-testid="prev-page"
                disabled={page <= 1} onclick={prev}>{ "← Previous" }</button>
            <span class="pager__info" data-testid="page-info" aria-live="polite">
                { format!("Page {page} of {total}") }
            </span>
            <button type="button" class="button" data-testid="next-page"
                disabled={page >= total} onclick={next}>{ "Next →" }</button>
        </nav>
    }
}
