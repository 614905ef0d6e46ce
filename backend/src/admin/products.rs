//! `GET /api/admin/products` and `GET /api/admin/products/{id}`: the catalog as the operator
//! sees it. The list takes the shop's own queries (the shop's parser reads them) plus
//! `include_disabled`, which merges the disabled products' sorted listing into the page.

use http::header::{ETAG, HeaderValue};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use shared::proto::{AdminProductPage, AdminProductView};

use super::Api;
use crate::catalog::http::{LIST_PRODUCTS_QUERY, page, parse_list_query, where_to_search};
use crate::catalog::query::{self, list_all, product_view, version};
use crate::catalog::{Catalog, Product, search};
use crate::checkout::Checkout;
use crate::http::params::{Kind, PAGE, PAGE_SIZE, Param};
use crate::http::request::{parse_query, product_id};
use crate::http::wire::{ApiError, Format, Resp, reply};

/// The admin product list's query parameters: the shop's, and `include_disabled`.
pub const ADMIN_PRODUCTS_QUERY: &[Param] = &[
    PAGE,
    PAGE_SIZE,
    LIST_PRODUCTS_QUERY[2],
    LIST_PRODUCTS_QUERY[3],
    LIST_PRODUCTS_QUERY[4],
    LIST_PRODUCTS_QUERY[5],
    LIST_PRODUCTS_QUERY[6],
    LIST_PRODUCTS_QUERY[7],
    LIST_PRODUCTS_QUERY[8],
    LIST_PRODUCTS_QUERY[9],
    Param {
        name: "include_disabled",
        about: "Disabled products too, in the same order (not with `q`, a price range or `in_stock`: disabled products are not in the search index; find them by `prefix`).",
        kind: Kind::Bool,
    },
];

/// A product with what only the operator sees.
pub fn admin_view(p: &Product, checkout: &Checkout, low: u64) -> AdminProductView {
    AdminProductView {
        product: Some(product_view(p, checkout, low)),
        disabled: p.disabled,
        stock: checkout.stock(p.id),
        units_sold: checkout.units_sold(p.id),
        version: version(p),
    }
}

/// The admin list's query: the shop's list query and whether disabled products are included.
pub fn parse_admin_query(query: &str) -> Result<(query::ListQuery, bool), ApiError> {
    let pairs = parse_query(query, ADMIN_PRODUCTS_QUERY)?;
    let mut include_disabled = false;
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        if k == "include_disabled" {
            include_disabled = match v.as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "include_disabled must be true or false, got {v:?}"
                    )));
                }
            };
        } else {
            rest.append_pair(k, v);
        }
    }
    let q = parse_list_query(&rest.finish())?;
    if include_disabled && q.is_search() {
        return Err(ApiError::bad_request(
            "include_disabled cannot be combined with q, min_price, max_price or in_stock: \
             disabled products are not in the search index (find them by prefix)",
        ));
    }
    Ok((q, include_disabled))
}

pub async fn list(cx: &Api<'_>, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let (q, include_disabled) = parse_admin_query(req.uri().query().unwrap_or(""))?;
    let format = Format::accepted(req.headers());
    let low = cx.shop.low_stock_threshold;
    let (catalog, checkout) = (cx.catalog.model(), cx.checkout.model());
    if include_disabled {
        let found = list_all(&catalog, &q);
        let view = AdminProductPage {
            items: found
                .items
                .iter()
                .map(|p| admin_view(p, &checkout, low))
                .collect(),
            page: q.page.page,
            page_size: q.page.page_size,
            total_items: found.total as u64,
            total_pages: q.page.total_pages(found.total),
            search: None,
        };
        return Ok(reply(format, StatusCode::OK, &view));
    }
    let typos = search::Typos::from(&cx.shop.search);
    let searching = q.is_search();
    let answer = move |catalog: &Catalog, checkout: &Checkout| {
        let plan = if searching {
            query::plan(catalog, &q, typos)
        } else {
            search::Plan::default()
        };
        let shop = page(catalog, checkout, &q, &plan, low);
        let view = AdminProductPage {
            items: shop
                .items
                .iter()
                .map(|(p, _)| admin_view(p, checkout, low))
                .collect(),
            page: shop.rest.page,
            page_size: shop.rest.page_size,
            total_items: shop.rest.total_items,
            total_pages: shop.rest.total_pages,
            search: shop.rest.search,
        };
        reply(format, StatusCode::OK, &view)
    };
    where_to_search(cx.search, catalog, checkout, searching, answer).await
}

pub fn get(cx: &Api<'_>, req: &Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    let id = product_id(id)?;
    let catalog = cx.catalog.model();
    let p = catalog
        .product(id)
        .ok_or_else(|| ApiError::not_found(format!("no product {id}")))?;
    let view = admin_view(p, &cx.checkout.model(), cx.shop.low_stock_threshold);
    let mut resp = reply(Format::accepted(req.headers()), StatusCode::OK, &view);
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", view.version)) {
        resp.headers_mut().insert(ETAG, etag);
    }
    Ok(resp)
}
