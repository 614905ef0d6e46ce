//! The operator's API as the admin pages use it: the admin token from `sessionStorage` (never a
//! cookie, never a URL) as the bearer header, protobuf both ways like the shopper's calls, an
//! `Idempotency-Key` on every command, and `If-Match` on edits of a product read before.

use gloo_net::http::{Request, RequestBuilder};
use prost::Message;
use shared::PROTOBUF;
use shared::proto::{
    AdminOrderPage, AdminProductPage, AdminProductView, CategoryList, EventLog, ImportStatus,
    ProductView, SetPrice, StockDelivery, StockLevelView, UpsertProduct,
};

use crate::api::{ApiError, decode, request, send};

/// Where the token is kept: this tab's session only.
const TOKEN_KEY: &str = "shop-admin-token";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// The admin token of this tab, if signed in.
pub fn token() -> Option<String> {
    storage()?
        .get_item(TOKEN_KEY)
        .ok()?
        .filter(|t| !t.is_empty())
}

pub fn remember(token: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(TOKEN_KEY, token);
    }
}

pub fn forget() {
    if let Some(s) = storage() {
        let _ = s.remove_item(TOKEN_KEY);
    }
}

/// A request with the bearer header of `token`.
fn authorized(builder: RequestBuilder, token: &str) -> RequestBuilder {
    builder
        .header("Authorization", &format!("Bearer {token}"))
        .header("Accept", PROTOBUF)
}

/// What a call without a signed-in token answers: the 401 the shop would.
fn signed_out() -> ApiError {
    ApiError::Status {
        status: 401,
        body: shared::proto::Error {
            code: "unauthorized".into(),
            message: "sign in with the admin token".into(),
            ..Default::default()
        },
    }
}

async fn get<M: Message + Default>(path: &str) -> Result<M, ApiError> {
    let token = token().ok_or_else(signed_out)?;
    decode(send(authorized(request(Request::get, path), &token).build()).await?).await
}

/// Sends a command once (the page offers "Try again", which sends it with the same key).
async fn command<B: Message, M: Message + Default>(
    method: fn(&str) -> RequestBuilder,
    path: &str,
    body: Option<&B>,
    key: &str,
    if_match: Option<&str>,
) -> Result<M, ApiError> {
    let token = token().ok_or_else(signed_out)?;
    let mut builder = authorized(request(method, path), &token).header("Idempotency-Key", key);
    if let Some(version) = if_match {
        builder = builder.header("If-Match", &format!("\"{version}\""));
    }
    let req = match body {
        Some(b) => builder
            .header("Content-Type", PROTOBUF)
            .body(js_sys::Uint8Array::from(b.encode_to_vec().as_slice())),
        None => builder.build(),
    };
    decode(send(req).await?).await
}

/// Checks a token by reading one product with it; remembered only if the shop accepts it.
pub async fn sign_in(candidate: &str) -> Result<(), ApiError> {
    let req = authorized(
        request(Request::get, "/api/admin/products?page_size=1"),
        candidate,
    )
    .build();
    send(req).await?;
    remember(candidate);
    Ok(())
}

pub async fn products(query: &str) -> Result<AdminProductPage, ApiError> {
    get(&format!("/api/admin/products?{query}")).await
}

pub async fn product(id: u64) -> Result<AdminProductView, ApiError> {
    get(&format!("/api/admin/products/{id}")).await
}

pub async fn categories() -> Result<CategoryList, ApiError> {
    crate::api::categories().await
}

pub async fn save_product(
    id: u64,
    product: &UpsertProduct,
    key: &str,
    version: Option<&str>,
) -> Result<ProductView, ApiError> {
    command(
        Request::put,
        &format!("/api/admin/products/{id}"),
        Some(product),
        key,
        version,
    )
    .await
}

pub async fn set_price(
    id: u64,
    price_minor: i64,
    key: &str,
    version: Option<&str>,
) -> Result<ProductView, ApiError> {
    command(
        Request::put,
        &format!("/api/admin/products/{id}/price"),
        Some(&SetPrice { price_minor }),
        key,
        version,
    )
    .await
}

pub async fn disable(id: u64, key: &str, version: Option<&str>) -> Result<ProductView, ApiError> {
    command::<SetPrice, _>(
        Request::delete,
        &format!("/api/admin/products/{id}"),
        None,
        key,
        version,
    )
    .await
}

pub async fn deliver(
    product_id: u64,
    quantity: u32,
    key: &str,
) -> Result<StockLevelView, ApiError> {
    command(
        Request::post,
        "/api/admin/stock",
        Some(&StockDelivery {
            product_id,
            quantity,
        }),
        key,
        None,
    )
    .await
}

pub async fn orders(page: u32, page_size: u32) -> Result<AdminOrderPage, ApiError> {
    get(&format!(
        "/api/admin/orders?page={page}&page_size={page_size}"
    ))
    .await
}

/// Uploads a CSV file (`kind`: products or stock) under the upload's key.
pub async fn upload(kind: &str, file: &[u8], key: &str) -> Result<ImportStatus, ApiError> {
    let token = token().ok_or_else(signed_out)?;
    let req = authorized(
        request(Request::post, &format!("/api/admin/imports/{kind}")),
        &token,
    )
    .header("Idempotency-Key", key)
    .header("Content-Type", "text/csv")
    .body(js_sys::Uint8Array::from(file));
    decode(send(req).await?).await
}

pub async fn import_status(kind: &str, id: &str) -> Result<ImportStatus, ApiError> {
    get(&format!("/api/admin/imports/{kind}/{id}")).await
}

pub async fn events(query: &str) -> Result<EventLog, ApiError> {
    get(&format!("/api/admin/events?{query}")).await
}
