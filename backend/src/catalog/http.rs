//! The catalog's endpoints: product list, product, categories, and the admin commands that
//! create, reprice and disable products.

use std::sync::Arc;
use std::time::Duration;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use prost::Message;
use shared::paging::{DEFAULT_PAGE_SIZE, PageRequest};
use shared::proto::{
    CatalogEvent, CategoryList, CategoryView, PriceChangedV1, ProductDisabledV1, ProductPage,
    SetPrice, UpsertProduct, catalog_event::Event,
};
use shared::{ids, money};

use super::fold::{Product, SortKey, admin_command_key};
use super::query::{self, ListQuery, product_view};
use super::validate::validate_product;
use crate::commands::Submission;
use crate::commands::meta::idempotency_key;
use crate::http::request::{parse_query, product_id, read_command, require_admin};
use crate::http::route::LIST_PRODUCTS_PARAMS;
use crate::http::wire::{ApiError, Format, Resp, reply};
use crate::state::State;

/// The product list's query string (without the `?`), checked.
pub fn parse_list_query(query: &str) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery::default();
    let (mut page, mut page_size) = (1u32, DEFAULT_PAGE_SIZE);
    let number = |name: &str, v: &str| {
        v.parse::<u32>().map_err(|_| {
            ApiError::bad_request(format!("{name} must be a positive integer, got {v:?}"))
        })
    };
    for (k, v) in parse_query(query, LIST_PRODUCTS_PARAMS)? {
        match k.as_str() {
            "page" => page = number("page", &v)?,
            "page_size" => page_size = number("page_size", &v)?,
            "sort" => {
                q.sort = SortKey::parse(&v).ok_or_else(|| {
                    ApiError::bad_request(format!("sort must be name, price or id, got {v:?}"))
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
            "q" => q.terms = query::search_terms(&v),
            "category" if !v.is_empty() => q.category = Some(ids::category_slug(&v)),
            _ => {}
        }
    }
    q.page = PageRequest::new(page, page_size).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(q)
}

pub fn list(state: &State, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let q = parse_list_query(req.uri().query().unwrap_or(""))?;
    let (catalog, checkout) = (state.catalog.model(), state.checkout.model());
    let found = query::list(&catalog, &q);
    let page = ProductPage {
        items: found
            .items
            .iter()
            .map(|p| product_view(p, &checkout, state.config.low_stock_threshold))
            .collect(),
        page: q.page.page,
        page_size: q.page.page_size,
        total_items: found.total as u64,
        total_pages: q.page.total_pages(found.total),
    };
    Ok(reply(
        Format::accepted(req.headers()),
        StatusCode::OK,
        &page,
    ))
}

pub fn get(state: &State, req: &Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    let id = product_id(id)?;
    let catalog = state.catalog.model();
    let p = catalog
        .enabled_product(id)
        .ok_or_else(|| ApiError::not_found(format!("no product {id}")))?;
    let view = product_view(p, &state.checkout.model(), state.config.low_stock_threshold);
    Ok(reply(
        Format::accepted(req.headers()),
        StatusCode::OK,
        &view,
    ))
}

pub fn categories(state: &State, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let catalog = state.catalog.model();
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
    state: &State,
    command: &'static str,
    id: u64,
    key: String,
    kind: &[u8],
    event: Event,
) -> Result<(), ApiError> {
    let scoped = admin_command_key(&key);
    let (kafka_key, id_part) = (id.to_be_bytes(), id.to_le_bytes());
    let retention = state.config.limits.idempotency_retention;
    let submission = Submission::new(&kafka_key, key, retention, &[kind, &id_part], |meta| {
        CatalogEvent {
            event: Some(event.clone()),
            meta,
        }
        .encode_to_vec()
    });
    let ((), offset) = state
        .commands
        .execute(command, &state.catalog, submission, |m| {
            m.command(&scoped).map(|r| (r.fingerprint, ()))
        })
        .await?;
    if let Some(offset) = offset {
        let bridged = state
            .checkout
            .wait_until(state.commands.timeout.min(Duration::from_secs(5)), |m| {
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

fn answer(state: &State, id: u64, format: Format) -> Result<Resp, ApiError> {
    let catalog = state.catalog.model();
    let p: &Arc<Product> = catalog
        .product(id)
        .ok_or_else(|| ApiError::internal("product vanished after its command"))?;
    Ok(reply(
        format,
        StatusCode::OK,
        &product_view(p, &state.checkout.model(), state.config.low_stock_threshold),
    ))
}

pub async fn upsert(state: &State, req: Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    require_admin(state.admin_token(), &req)?;
    let id = product_id(id)?;
    let cmd = read_command::<UpsertProduct>(&state.config, req).await?;
    let event = validate_product(id, &cmd.body)?;
    run(
        state,
        "product_upsert",
        id,
        cmd.key,
        b"upsert",
        Event::ProductUpsertedV1(event),
    )
    .await?;
    answer(state, id, cmd.format)
}

pub async fn set_price(state: &State, req: Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    require_admin(state.admin_token(), &req)?;
    let id = product_id(id)?;
    let cmd = read_command::<SetPrice>(&state.config, req).await?;
    money::validate_price(cmd.body.price_minor)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if state.catalog.model().product(id).is_none() {
        return Err(ApiError::not_found(format!("no product {id}")));
    }
    run(
        state,
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
    answer(state, id, cmd.format)
}

pub async fn disable(state: &State, req: Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    require_admin(state.admin_token(), &req)?;
    let id = product_id(id)?;
    let key = idempotency_key(req.headers())?;
    let format = Format::accepted(req.headers());
    if state.catalog.model().product(id).is_none() {
        return Err(ApiError::not_found(format!("no product {id}")));
    }
    run(
        state,
        "product_disable",
        id,
        key,
        b"disable",
        Event::ProductDisabledV1(ProductDisabledV1 { product_id: id }),
    )
    .await?;
    answer(state, id, format)
}
