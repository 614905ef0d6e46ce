//! `/admin`: the whole catalog as a table, a page at a time on the server (the shop's own
//! queries: search, category, sort; plus disabled products), each row with price, stock, units
//! sold and state. Read again whenever an applied event touches a product shown (or adds one).

use std::cell::RefCell;
use std::rc::Rc;

use shared::proto::LogEntry;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::{ErrorPanel, Pager, Spinner};
use frontend::admin_api;
use frontend::catalog_query::encode;
use frontend::format::price_text;
use frontend::hooks::{use_changes, use_load_state};
use frontend::route::Route;

/// What the table asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableQuery {
    pub text: String,
    pub category: String,
    pub sort: String,
    pub descending: bool,
    pub include_disabled: bool,
    pub page: u32,
}

impl Default for TableQuery {
    fn default() -> Self {
        TableQuery {
            text: String::new(),
            category: String::new(),
            sort: "id".into(),
            descending: false,
            include_disabled: true,
            page: 1,
        }
    }
}

pub const PAGE_SIZE: u32 = 20;

impl TableQuery {
    /// The admin list's query string. Disabled products are not in the search index, so with
    /// them the text is a title prefix; without them it is the shop's search.
    pub fn query_string(&self) -> String {
        let mut q = format!(
            "page={}&page_size={PAGE_SIZE}&sort={}&order={}",
            self.page,
            self.sort,
            if self.descending { "desc" } else { "asc" }
        );
        let text = self.text.trim();
        if !text.is_empty() {
            let name = if self.include_disabled { "prefix" } else { "q" };
            q.push_str(&format!("&{name}={}", encode(text)));
        }
        if !self.category.is_empty() {
            q.push_str(&format!("&category={}", encode(&self.category)));
        }
        if self.include_disabled {
            q.push_str("&include_disabled=true");
        }
        q
    }
}

#[component]
pub fn AdminProducts() -> Html {
    let query = use_state(TableQuery::default);
    let shown: Rc<RefCell<Vec<u64>>> = use_mut_ref(Vec::new);
    let touches: Rc<dyn Fn(&LogEntry) -> bool> = {
        let shown = shown.clone();
        Rc::new(move |e: &LogEntry| {
            e.kind == "product_upserted" || e.product_ids.iter().any(|p| shown.borrow().contains(p))
        })
    };
    let changes = use_changes(touches);
    let (state, retry) = use_load_state(((*query).clone(), changes), |(q, _)| {
        let q = q.query_string();
        async move { admin_api::products(&q).await }
    });
    let (categories, _) = use_load_state((), |_| admin_api::categories());
    if let Some(page) = &state.value {
        *shown.borrow_mut() = page
            .items
            .iter()
            .filter_map(|i| i.product.as_ref().map(|p| p.id))
            .collect();
    }
    let set = |f: fn(&mut TableQuery, String)| {
        let query = query.clone();
        move |value: String| {
            let mut q = (*query).clone();
            f(&mut q, value);
            q.page = 1;
            query.set(q);
        }
    };
    let on_text = {
        let set = set(|q, v| q.text = v);
        Callback::from(move |e: InputEvent| {
            set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_category = {
        let set = set(|q, v| q.category = v);
        Callback::from(move |e: Event| set(e.target_unchecked_into::<HtmlSelectElement>().value()))
    };
    let on_sort = {
        let set = set(|q, v| {
            let (sort, order) = v.split_once(':').unwrap_or(("id", "asc"));
            q.sort = sort.to_owned();
            q.descending = order == "desc";
        });
        Callback::from(move |e: Event| set(e.target_unchecked_into::<HtmlSelectElement>().value()))
    };
    let on_disabled = {
        let set = set(|q, v| q.include_disabled = v == "true");
        Callback::from(move |e: Event| {
            set(e
                .target_unchecked_into::<HtmlInputElement>()
                .checked()
                .to_string())
        })
    };
    let on_page = {
        let query = query.clone();
        Callback::from(move |page: u32| {
            query.set(TableQuery {
                page,
                ..(*query).clone()
            })
        })
    };
    let sort_value = format!(
        "{}:{}",
        query.sort,
        if query.descending { "desc" } else { "asc" }
    );
    html! {
        <section class="page admin-products">
            <div class="page-head">
                <h1>{ "Products" }</h1>
                <Link<Route> to={Route::AdminNewProduct} classes="button button--primary">
                    <span data-testid="admin-new-product">{ "New product" }</span>
                </Link<Route>>
            </div>
            <div class="toolbar admin-toolbar">
                <label class="field field--inline">
                    <span>{ if query.include_disabled { "Title starts with" } else { "Search" } }</span>
                    <input type="search" data-testid="admin-search" value={query.text.clone()} oninput={on_text} />
                </label>
                <label class="field field--inline">
                    <span>{ "Category" }</span>
                    <select data-testid="admin-category" onchange={on_category}>
                        <option value="" selected={query.category.is_empty()}>{ "All" }</option>
                        { for categories.value.iter().flat_map(|c| c.categories.iter()).map(|c| html! {
                            <option value={c.slug.clone()} selected={query.category == c.slug}>{ c.name.clone() }</option>
                        }) }
                    </select>
                </label>
                <label class="field field--inline">
                    <span>{ "Sort" }</span>
                    <select data-testid="admin-sort" onchange={on_sort}>
                        { for [("id:asc", "Id"), ("name:asc", "Name A–Z"), ("name:desc", "Name Z–A"), ("price:asc", "Price, lowest first"), ("price:desc", "Price, highest first"), ("id:desc", "Newest id first")]
                            .into_iter().map(|(v, label)| html! { <option value={v} selected={sort_value == v}>{ label }</option> }) }
                    </select>
                </label>
                <label class="in-stock">
                    <input type="checkbox" data-testid="admin-include-disabled" checked={query.include_disabled} onchange={on_disabled} />
                    { " Show disabled products" }
                </label>
            </div>
            <Spinner show={state.spinner} label="Loading products…" />
            if let Some(error) = state.error.clone() {
                <ErrorPanel {error} on_retry={retry} />
            }
            if let Some(page) = state.value.as_ref() {
                <p class="result-count" data-testid="admin-product-count">
                    { format!("{} products", page.total_items) }
                </p>
                <div class="table-wrap">
                    <table class="admin-table" data-testid="admin-products-table">
                        <thead>
                            <tr>
                                <th class="num">{ "Id" }</th><th>{ "Title" }</th><th>{ "Category" }</th>
                                <th class="num">{ "Price" }</th><th class="num">{ "Stock" }</th>
                                <th class="num">{ "Sold" }</th><th>{ "State" }</th>
                            </tr>
                        </thead>
                        <tbody>
                            { for page.items.iter().filter_map(|item| {
                                let p = item.product.as_ref()?;
                                let id = p.id;
                                Some(html! {
                                    <tr key={id} data-testid="admin-product-row" data-product-id={id.to_string()}
                                        class={classes!(item.disabled.then_some("row--disabled"))}>
                                        <td class="num">{ id }</td>
                                        <td><Link<Route> to={Route::AdminProduct { id }}>
                                            <span data-testid="admin-product-title">{ p.title.clone() }</span>
                                        </Link<Route>></td>
                                        <td>{ p.category.clone() }</td>
                                        <td class="num" data-testid="admin-price">{ price_text(p.price.as_ref()) }</td>
                                        <td class="num" data-testid="admin-stock">{ item.stock }</td>
                                        <td class="num" data-testid="admin-sold">{ item.units_sold }</td>
                                        <td data-testid="admin-state">{ if item.disabled { "Disabled" } else { "For sale" } }</td>
                                    </tr>
                                })
                            }) }
                        </tbody>
                    </table>
                </div>
                if page.items.is_empty() {
                    <p class="empty">{ "No products match." }</p>
                }
                <Pager page={page.page} total_pages={page.total_pages.max(1)} {on_page} />
            }
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_products_are_found_by_title_prefix() {
        let mut q = TableQuery {
            text: "desk lamp".into(),
            ..TableQuery::default()
        };
        assert_eq!(
            q.query_string(),
            "page=1&page_size=20&sort=id&order=asc&prefix=desk+lamp&include_disabled=true"
        );
        q.include_disabled = false;
        q.category = "home-garden".into();
        q.sort = "price".into();
        q.descending = true;
        assert_eq!(
            q.query_string(),
            "page=1&page_size=20&sort=price&order=desc&q=desk+lamp&category=home-garden"
        );
    }
}
