//! The catalog's endpoints: product list, product, categories, and the admin commands that
//! create, reprice and disable products.

use std::sync::Arc;
use std::time::Duration;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use prost::Message;
use shared::money::MAX_PRICE_MINOR;
use shared::paging::{DEFAULT_PAGE_SIZE, PageRequest};
use shared::proto::{
    Availability, CatalogEvent, CategoryList, CategoryView, ItemMatches, PriceChangedV1,
    ProductDisabledV1, ProductPage, SearchFacts, SetPrice, TextSpan, UpsertProduct,
    catalog_event::Event,
};
use shared::{ids, money};

use arc_swap::Guard;

use super::CatalogFold;
use super::fold::{Catalog, Product, SortKey, admin_command_key};
use super::query::{self, ListQuery, product_view};
use super::search;
use super::search::SearchPool;
use super::validate::validate_product;
use super::view;
use crate::checkout::Checkout;
use crate::checkout::CheckoutFold;
use crate::checkout::query::product_availability;
use crate::commands::Commands;
use crate::commands::Submission;
use crate::commands::meta::idempotency_key;
use crate::config::ShopSettings;
use crate::engine::Context;
use crate::http::if_match::IfMatch;
use crate::http::params::{Kind, PAGE, PAGE_SIZE, Param};
use crate::http::request::{parse_query, product_id, read_command};
use crate::http::wire::{ApiError, Format, Resp, reply, reply_body};

/// What the catalog's endpoints use: its model and checkout's (for stock), the command runner,
/// the search pool and the shop's settings. Nothing of Kafka, the admin token or other handlers.
pub struct Api<'a> {
    pub catalog: &'a Context<CatalogFold>,
    pub checkout: &'a Context<CheckoutFold>,
    pub commands: &'a Commands,
    pub search: &'a SearchPool,
    pub shop: &'a ShopSettings,
}

/// The product list's query parameters.
pub const LIST_PRODUCTS_QUERY: &[Param] = &[
    PAGE,
    PAGE_SIZE,
    Param {
        name: "sort",
        about: "Sort key; `relevance` (the default with `q`) ranks search results.",
        kind: Kind::OneOf(&["relevance", "name", "price", "id"]),
    },
    Param {
        name: "order",
        about: "Sort direction.",
        kind: Kind::OneOf(&["asc", "desc"]),
    },
    Param {
        name: "prefix",
        about: "Title prefix, case-insensitive (not with a search).",
        kind: Kind::Text(100),
    },
    Param {
        name: "q",
        about: "Search words (titles, categories, descriptions, long texts); the last word matches as a prefix while typing.",
        kind: Kind::Text(200),
    },
    Param {
        name: "category",
        about: "Category slug or name.",
        kind: Kind::Text(u32::MAX),
    },
    Param {
        name: "min_price",
        about: "Lowest price in minor units (included).",
        kind: Kind::Integer(0, MAX_PRICE_MINOR as u64),
    },
    Param {
        name: "max_price",
        about: "Highest price in minor units (included).",
        kind: Kind::Integer(0, MAX_PRICE_MINOR as u64),
    },
    Param {
        name: "in_stock",
        about: "Only products with stock.",
        kind: Kind::Bool,
    },
];

/// The product list's parameter names, as the list's parser checks them.
pub const LIST_PRODUCTS_PARAMS: &[&str] = &[
    "page",
    "page_size",
    "sort",
    "order",
    "prefix",
    "q",
    "category",
    "min_price",
    "max_price",
    "in_stock",
];

/// The product list's query string (without the `?`), checked.
pub fn parse_list_query(query: &str) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery::default();
    let (mut page, mut page_size) = (1u32, DEFAULT_PAGE_SIZE);
    let mut sorted = false;
    let number = |name: &str, v: &str| {
        v.parse::<u32>().map_err(|_| {
            ApiError::bad_request(format!("{name} must be a positive integer, got {v:?}"))
        })
    };
    let price = |name: &str, v: &str| {
        v.parse::<i64>()
            .ok()
            .filter(|p| (0..=money::MAX_PRICE_MINOR).contains(p))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{name} must be a price in minor units (cents) from 0 to {}, got {v:?}",
                    money::MAX_PRICE_MINOR
                ))
            })
    };
    for (k, v) in parse_query(query, LIST_PRODUCTS_PARAMS)? {
        match k.as_str() {
            "page" => page = number("page", &v)?,
            "page_size" => page_size = number("page_size", &v)?,
            "sort" if v == "relevance" => {
                sorted = true;
                q.relevance = true;
            }
            "sort" => {
                sorted = true;
                q.sort = SortKey::parse(&v).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "sort must be relevance, name, price or id, got {v:?}"
                    ))
                })?
            }
            "order" => {
                q.descending = match v.as_str() {
                    "asc" => false,
                    "desc" => true,
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "order must be asc or desc, got {v:?}"
                        )));
                    }
                }
            }
            "prefix" if v.chars().count() > 100 => {
                return Err(ApiError::bad_request("prefix is limited to 100 characters"));
            }
            "prefix" => q.prefix = Some(v.to_lowercase()),
            "q" if v.chars().count() > 200 => {
                return Err(ApiError::bad_request("q is limited to 200 characters"));
            }
            "q" => q.text = v,
            "category" if !v.is_empty() => q.category = Some(ids::category_slug(&v)),
            "min_price" => q.min_price = Some(price("min_price", &v)?),
            "max_price" => q.max_price = Some(price("max_price", &v)?),
            "in_stock" => {
                q.in_stock = match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "in_stock must be true or false, got {v:?}"
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    if let (Some(lo), Some(hi)) = (q.min_price, q.max_price)
        && lo > hi
    {
        return Err(ApiError::bad_request(format!(
            "min_price ({lo}) is above max_price ({hi})"
        )));
    }
    if q.prefix.as_deref().is_some_and(|p| !p.is_empty()) && q.is_search() {
        return Err(ApiError::bad_request(
            "prefix cannot be combined with q, min_price, max_price or in_stock \
             (the last word of q already matches as a prefix)",
        ));
    }
    // With search words, the best matches come first unless the shopper chose an order.
    if !sorted && q.text.chars().any(char::is_alphanumeric) {
        q.relevance = true;
    }
    q.page = PageRequest::new(page, page_size).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(q)
}

/// A catalog whose enabled products span at most this many id blocks (about 65,000 ids) is
/// searched on the request's worker: every search there costs less than a hop to another
/// thread. A larger one's searches run on the search threads, planning and encoding included,
/// so a worker only parses the request and writes the reply.
const INLINE_SEARCH_BLOCKS: u64 = 16;

pub async fn list(cx: &Api<'_>, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let q = parse_list_query(req.uri().query().unwrap_or(""))?;
    let format = Format::accepted(req.headers());
    let (catalog, checkout) = (cx.catalog.model(), cx.checkout.model());
    let (low, typos) = (
        cx.shop.low_stock_threshold,
        search::Typos::from(&cx.shop.search),
    );
    let searching = q.is_search();
    let answer = move |catalog: &Catalog, checkout: &Checkout| {
        let plan = if searching {
            query::plan(catalog, &q, typos)
        } else {
            search::Plan::default()
        };
        reply_body(
            format,
            StatusCode::OK,
            page(catalog, checkout, &q, &plan, low).body(format),
        )
    };
    where_to_search(cx.search, catalog, checkout, searching, answer).await
}

/// Answers a list query where it costs least: on the request's worker when it is no search or
/// the catalog is small ([`INLINE_SEARCH_BLOCKS`]), else on the search threads (the shop's list
/// and the operator's both come here).
pub async fn where_to_search(
    pool: &SearchPool,
    catalog: Guard<Arc<Catalog>>,
    checkout: Guard<Arc<Checkout>>,
    searching: bool,
    answer: impl FnOnce(&Catalog, &Checkout) -> Resp + Send + 'static,
) -> Result<Resp, ApiError> {
    if !searching || catalog.search_index().enabled().block_count() <= INLINE_SEARCH_BLOCKS {
        return Ok(answer(&catalog, &checkout));
    }
    let (catalog, checkout) = (Guard::into_inner(catalog), Guard::into_inner(checkout));
    pool.run(move || answer(&catalog, &checkout))
        .await
        .map_err(|e| ApiError::unavailable(e.to_string(), 1))
}

/// A list query's answer: the page's products with their availability, and the rest of the
/// page (its `items` empty; the body writes them from the products, see [`super::view`]).
pub struct PageAnswer {
    pub items: Vec<(Arc<Product>, Availability)>,
    pub rest: ProductPage,
}

impl PageAnswer {
    pub fn body(&self, format: Format) -> Vec<u8> {
        let items: Vec<(&Arc<Product>, Availability)> =
            self.items.iter().map(|(p, a)| (p, *a)).collect();
        view::page_body(format, &items, &self.rest)
    }

    /// The whole page as one message (for in-process readers and tests).
    pub fn to_page(&self, checkout: &Checkout, low: u64) -> ProductPage {
        ProductPage {
            items: self
                .items
                .iter()
                .map(|(p, _)| product_view(p, checkout, low))
                .collect(),
            ..self.rest.clone()
        }
    }
}

/// The product page a list query answers, with the search facts when it is a search.
pub fn page(
    catalog: &Catalog,
    checkout: &Checkout,
    q: &ListQuery,
    plan: &search::Plan,
    low: u64,
) -> PageAnswer {
    let found = query::list(catalog, checkout, q, plan);
    let search = found
        .search
        .as_ref()
        .map(|(plan, f)| search_facts(catalog, plan, f, &found.items));
    PageAnswer {
        rest: ProductPage {
            items: vec![],
            page: q.page.page,
            page_size: q.page.page_size,
            total_items: found.total as u64,
            total_pages: q.page.total_pages(found.total),
            search,
        },
        items: found
            .items
            .into_iter()
            .map(|p| {
                let a = product_availability(checkout, p.id, low);
                (p, a)
            })
            .collect(),
    }
}

fn search_facts(
    catalog: &Catalog,
    plan: &search::Plan,
    found: &search::Found,
    items: &[Arc<Product>],
) -> SearchFacts {
    let category = |slug: &str, count: u64| CategoryView {
        slug: slug.to_owned(),
        name: catalog
            .category(slug)
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        product_count: count,
    };
    let currency = items.first().map(|p| p.currency()).unwrap_or("EUR");
    let price = |minor| Some(money::money(minor, currency));
    let matched = found.words_matched;
    let texts = items
        .iter()
        .take(3)
        .flat_map(|p| [p.title(), p.category(), p.description(), p.long_text()]);
    let span = |(start, length): (usize, usize)| TextSpan {
        start: start as u32,
        length: length as u32,
    };
    SearchFacts {
        words_typed: plan.words.len() as u32,
        words_matched: matched as u32,
        dropped_words: plan.words[matched.min(plan.words.len())..]
            .iter()
            .map(|w| w.folded.clone())
            .collect(),
        did_you_mean: search::query::did_you_mean(plan, matched, texts).unwrap_or_default(),
        categories: found
            .categories
            .iter()
            .map(|(slug, n)| category(slug, *n))
            .collect(),
        min_price: found.price_range.and_then(|(lo, _)| price(lo)),
        max_price: found.price_range.and_then(|(_, hi)| price(hi)),
        matches: items
            .iter()
            .map(|p| ItemMatches {
                product_id: p.id,
                title: search::query::highlights(plan, matched, search::index::TITLE, p.title())
                    .into_iter()
                    .map(span)
                    .collect(),
                description: search::query::highlights(
                    plan,
                    matched,
                    search::index::DESCRIPTION,
                    p.description(),
                )
                .into_iter()
                .map(span)
                .collect(),
            })
            .collect(),
        closest_categories: if found.total == 0 {
            query::closest_categories(catalog, plan, 3)
                .into_iter()
                .map(|(slug, c)| category(&slug, c))
                .collect()
        } else {
            vec![]
        },
    }
}

pub fn get(cx: &Api<'_>, req: &Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    let id = product_id(id)?;
    let catalog = cx.catalog.model();
    let p = catalog
        .enabled_product(id)
        .ok_or_else(|| ApiError::not_found(format!("no product {id}")))?;
    Ok(product_reply(cx, p, Format::accepted(req.headers())))
}

/// A product's view with its availability: the answer of a read and of every product command.
fn product_reply(cx: &Api<'_>, p: &Arc<Product>, format: Format) -> Resp {
    let availability =
        product_availability(&cx.checkout.model(), p.id, cx.shop.low_stock_threshold);
    reply_body(
        format,
        StatusCode::OK,
        view::product_body(format, p, &availability),
    )
}

pub fn categories(cx: &Api<'_>, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let catalog = cx.catalog.model();
    let categories = catalog
        .categories()
        .map(|(slug, c)| CategoryView {
            slug: slug.clone(),
            name: c.name.clone(),
            product_count: c.listing.len() as u64,
        })
        .collect();
    Ok(reply(
        Format::accepted(req.headers()),
        StatusCode::OK,
        &CategoryList { categories },
    ))
}

/// Produces a catalog command, waits until the catalog applied it and (best effort within the
/// command timeout) until checkout has the bridged copy, so a cart can use the product at once.
/// `command` names it in metrics; `kind` is part of its fingerprint.
async fn run(
    cx: &Api<'_>,
    command: &'static str,
    id: u64,
    key: String,
    kind: &[u8],
    event: Event,
) -> Result<(), ApiError> {
    let scoped = admin_command_key(&key);
    let (kafka_key, id_part) = (id.to_be_bytes(), id.to_le_bytes());
    let retention = cx.shop.idempotency_retention;
    let submission = Submission::new(&kafka_key, key, retention, &[kind, &id_part], |meta| {
        CatalogEvent {
            event: Some(event.clone()),
            meta,
        }
        .encode_to_vec()
    });
    let ((), offset) = cx
        .commands
        .execute(command, cx.catalog, submission, |m| {
            m.command(&scoped).map(|r| (r.fingerprint, ()))
        })
        .await?;
    if let Some(offset) = offset {
        let bridged = cx
            .checkout
            .wait_until(cx.commands.timeout.min(Duration::from_secs(5)), |m| {
                m.bridged_until() >= Some(offset)
            })
            .await;
        if bridged.is_err() {
            tracing::warn!(
                offset,
                "catalog command applied, but checkout has not received its copy yet"
            );
        }
    }
    Ok(())
}

fn answer(cx: &Api<'_>, id: u64, format: Format) -> Result<Resp, ApiError> {
    let catalog = cx.catalog.model();
    let p: &Arc<Product> = catalog
        .product(id)
        .ok_or_else(|| ApiError::internal("product vanished after its command"))?;
    Ok(product_reply(cx, p, format))
}

/// With `If-Match`, refuses a change to a product whose version is another than the one named
/// (an operator editing from an older read): RFC 9110's strong comparison, so `*` passes for
/// any existing product, a list passes if one of its tags is the current version, and a weak
/// tag never does. A retry of a command already applied is answered as the first time,
/// whatever the version is now.
fn check_version(
    cx: &Api<'_>,
    headers: &http::HeaderMap,
    id: u64,
    key: &str,
) -> Result<(), ApiError> {
    let Some(wanted) = IfMatch::read(headers)? else {
        return Ok(());
    };
    let catalog = cx.catalog.model();
    if catalog.command(&admin_command_key(key)).is_some() {
        return Ok(());
    }
    let current = catalog.product(id).map(|p| query::version(p));
    if wanted.matches(current.as_deref()) {
        return Ok(());
    }
    let named = headers
        .get_all(http::header::IF_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    Err(ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "changed_meanwhile",
        match current {
            Some(v) if wanted.names_weakly(&v) => format!(
                "product {id} is at version \"{v}\", but If-Match named it weakly ({named}): a change needs the strong tag, \"{v}\""
            ),
            Some(v) => format!(
                "product {id} changed since you read it (version {v} now, {named} read): read it again and redo your change"
            ),
            None => format!("no product {id} to match If-Match {named}"),
        },
    ))
}

pub async fn upsert(cx: &Api<'_>, req: Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    let id = product_id(id)?;
    let cmd = read_command::<UpsertProduct>(&cx.shop.body, req).await?;
    let event = validate_product(id, &cmd.body)?;
    check_version(cx, &cmd.headers, id, &cmd.key)?;
    run(
        cx,
        "product_upsert",
        id,
        cmd.key,
        b"upsert",
        Event::ProductUpsertedV1(event),
    )
    .await?;
    answer(cx, id, cmd.format)
}

pub async fn set_price(cx: &Api<'_>, req: Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    let id = product_id(id)?;
    let cmd = read_command::<SetPrice>(&cx.shop.body, req).await?;
    money::validate_price(cmd.body.price_minor)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if cx.catalog.model().product(id).is_none() {
        return Err(ApiError::not_found(format!("no product {id}")));
    }
    check_version(cx, &cmd.headers, id, &cmd.key)?;
    run(
        cx,
        "product_price",
        id,
        cmd.key,
        b"price",
        Event::PriceChangedV1(PriceChangedV1 {
            product_id: id,
            price_minor: cmd.body.price_minor,
        }),
    )
    .await?;
    answer(cx, id, cmd.format)
}

pub async fn disable(cx: &Api<'_>, req: Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    let id = product_id(id)?;
    let key = idempotency_key(req.headers())?;
    let format = Format::accepted(req.headers());
    if cx.catalog.model().product(id).is_none() {
        return Err(ApiError::not_found(format!("no product {id}")));
    }
    check_version(cx, req.headers(), id, &key)?;
    run(
        cx,
        "product_disable",
        id,
        key,
        b"disable",
        Event::ProductDisabledV1(ProductDisabledV1 { product_id: id }),
    )
    .await?;
    answer(cx, id, format)
}
