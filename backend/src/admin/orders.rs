//! `GET /api/admin/orders`: the newest orders across all carts, a page at a time. Order ids are
//! dense and in log order (checkout numbers them 1, 2, 3, ... and never drops one), so a page is
//! a range of ids counted down from the newest: no scan, whatever the number of orders.

use http::{Request, StatusCode};
use hyper::body::Incoming;
use shared::paging::{DEFAULT_PAGE_SIZE, PageRequest};
use shared::proto::{AdminOrderPage, AdminOrderView};

use super::Api;
use crate::checkout::query::order_view;
use crate::eventlog::cart_hash;
use crate::http::params::PAGE_QUERY;
use crate::http::request::query_params;
use crate::http::wire::{ApiError, Format, Resp, reply};

pub fn parse_page(pairs: Vec<(String, String)>) -> Result<PageRequest, ApiError> {
    let (mut page, mut size) = (1u32, DEFAULT_PAGE_SIZE);
    for (k, v) in pairs {
        let n = v.parse::<u32>().map_err(|_| {
            ApiError::bad_request(format!("{k} must be a positive integer, got {v:?}"))
        })?;
        match k.as_str() {
            "page" => page = n,
            _ => size = n,
        }
    }
    PageRequest::new(page, size).map_err(|e| ApiError::bad_request(e.to_string()))
}

pub fn list(cx: &Api<'_>, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let page = parse_page(query_params(req, PAGE_QUERY)?)?;
    let checkout = cx.checkout.model();
    let total = checkout.last_order_id();
    let skip = u64::from(page.page - 1) * u64::from(page.page_size);
    let items = checkout
        .orders_newest_first(skip)
        .take(page.page_size as usize)
        .map(|o| AdminOrderView {
            order: Some(order_view(o)),
            cart: cart_hash(&o.cart.to_string()),
        })
        .collect();
    let view = AdminOrderPage {
        items,
        page: page.page,
        page_size: page.page_size,
        total_items: total,
        total_pages: page.total_pages(total as usize),
    };
    Ok(reply(
        Format::accepted(req.headers()),
        StatusCode::OK,
        &view,
    ))
}
