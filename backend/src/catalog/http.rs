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
    ProductUpsertedV1, SetPrice, UpsertProduct, catalog_event::Event,
};
use shared::{ids, money};

use super::fold::{Product, SortKey, admin_command_key};
use super::query::{self, ListQuery, product_view};
use crate::app::App;
use crate::commands::{self, Submission};
use crate::http::route::LIST_PRODUCTS_PARAMS;
use crate::http::wire::{ApiError, Format, Resp, reply};
use crate::http::{parse_query, product_id, read_command, require_admin};

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

pub fn list(app: &App, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let q = parse_list_query(req.uri().query().unwrap_or(""))?;
    let (catalog, checkout) = (app.catalog.model(), app.checkout.model());
    let found = query::list(&catalog, &q);
    let page = ProductPage {
        items: found
            .items
            .iter()
            .map(|p| product_view(p, &checkout, app.config.low_stock_threshold))
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

pub fn get(app: &App, req: &Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    let id = product_id(id)?;
    let catalog = app.catalog.model();
    let p = catalog
        .enabled_product(id)
        .ok_or_else(|| ApiError::not_found(format!("no product {id}")))?;
    let view = product_view(p, &app.checkout.model(), app.config.low_stock_threshold);
    Ok(reply(
        Format::accepted(req.headers()),
        StatusCode::OK,
        &view,
    ))
}

pub fn categories(app: &App, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let catalog = app.catalog.model();
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

fn check_len(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n < min || n > max {
        let what = if min > 0 {
            format!("between {min} and {max}")
        } else {
            format!("at most {max}")
        };
        return Err(ApiError::bad_request(format!(
            "{field} must be {what} characters, got {n}"
        )));
    }
    Ok(())
}

/// Checks a product's fields; the event carries them trimmed.
pub fn validate_product(id: u64, u: &UpsertProduct) -> Result<ProductUpsertedV1, ApiError> {
    let (title, category) = (u.title.trim(), u.category.trim());
    check_len("title", title, 1, 200)?;
    check_len("description", &u.description, 0, 2_000)?;
    check_len("long_text", &u.long_text, 0, 20_000)?;
    check_len("category", category, 1, 100)?;
    if ids::category_slug(category).is_empty() {
        return Err(ApiError::bad_request(
            "category must contain letters or digits",
        ));
    }
    let price = u
        .price
        .as_ref()
        .ok_or_else(|| ApiError::bad_request("price is required"))?;
    money::validate_price(price.minor).map_err(|e| ApiError::bad_request(e.to_string()))?;
    money::validate_currency(&price.currency).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if u.image_urls.len() > 10 {
        return Err(ApiError::bad_request("at most 10 image_urls"));
    }
    for url in &u.image_urls {
        let ok = url.len() <= 2048
            && (url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/'))
            && !url.contains(char::is_whitespace);
        if !ok {
            return Err(ApiError::bad_request(format!(
                "image URL {:?} must be an http(s) URL or an absolute path",
                url.chars().take(60).collect::<String>()
            )));
        }
    }
    Ok(ProductUpsertedV1 {
        product_id: id,
        title: title.to_owned(),
        description: u.description.clone(),
        long_text: u.long_text.clone(),
        category: category.to_owned(),
        price_minor: price.minor,
        currency: price.currency.clone(),
        image_urls: u.image_urls.clone(),
    })
}

/// Produces a catalog command, waits until the catalog applied it and (best effort within the
/// command timeout) until checkout has the bridged copy, so a cart can use the product at once.
/// `command` names it in metrics; `kind` is part of its fingerprint.
async fn run(
    app: &App,
    command: &'static str,
    id: u64,
    key: String,
    kind: &[u8],
    event: Event,
) -> Result<(), ApiError> {
    let fingerprint = commands::fingerprint(&[
        kind,
        &id.to_le_bytes(),
        &CatalogEvent {
            event: Some(event.clone()),
            meta: None,
        }
        .encode_to_vec(),
    ]);
    let scoped = admin_command_key(&key);
    let payload = CatalogEvent {
        event: Some(event),
        meta: Some(commands::meta(key, fingerprint)),
    }
    .encode_to_vec();
    let topic = &app.config.kafka.catalog_topic;
    let submission = Submission {
        topic,
        key: &id.to_be_bytes(),
        payload,
        fingerprint,
    };
    let ((), offset) = commands::execute(app, command, &app.catalog, submission, |m| {
        m.command(&scoped).map(|r| (r.fingerprint, ()))
    })
    .await?;
    if let Some(offset) = offset {
        let bridged = app
            .checkout
            .wait_until(
                app.config.command_timeout.min(Duration::from_secs(5)),
                |m| m.bridged_until() >= Some(offset),
            )
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

fn answer(app: &App, id: u64, format: Format) -> Result<Resp, ApiError> {
    let catalog = app.catalog.model();
    let p: &Arc<Product> = catalog
        .product(id)
        .ok_or_else(|| ApiError::internal("product vanished after its command"))?;
    Ok(reply(
        format,
        StatusCode::OK,
        &product_view(p, &app.checkout.model(), app.config.low_stock_threshold),
    ))
}

pub async fn upsert(app: &App, req: Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    require_admin(app, &req)?;
    let id = product_id(id)?;
    let cmd = read_command::<UpsertProduct>(app, req).await?;
    let event = validate_product(id, &cmd.body)?;
    run(
        app,
        "product_upsert",
        id,
        cmd.key,
        b"upsert",
        Event::ProductUpsertedV1(event),
    )
    .await?;
    answer(app, id, cmd.format)
}

pub async fn set_price(app: &App, req: Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    require_admin(app, &req)?;
    let id = product_id(id)?;
    let cmd = read_command::<SetPrice>(app, req).await?;
    money::validate_price(cmd.body.price_minor)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if app.catalog.model().product(id).is_none() {
        return Err(ApiError::not_found(format!("no product {id}")));
    }
    run(
        app,
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
    answer(app, id, cmd.format)
}

pub async fn disable(app: &App, req: Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    require_admin(app, &req)?;
    let id = product_id(id)?;
    let key = commands::idempotency_key(req.headers())?;
    let format = Format::accepted(req.headers());
    if app.catalog.model().product(id).is_none() {
        return Err(ApiError::not_found(format!("no product {id}")));
    }
    run(
        app,
        "product_disable",
        id,
        key,
        b"disable",
        Event::ProductDisabledV1(ProductDisabledV1 { product_id: id }),
    )
    .await?;
    answer(app, id, format)
}
