//! The shop's HTTP API as the app uses it: protobuf bodies both ways (`application/x-protobuf`),
//! `shop.Error` bodies on failure, an `Idempotency-Key` on every command. Failures become an
//! [`ApiError`] whose wording a shopper understands.

use std::cell::RefCell;

use gloo_net::http::{Request, RequestBuilder, Response};
use prost::Message;
use shared::PROTOBUF;
use shared::proto::{
    CartLineView, CartView, CategoryList, Error as ErrorBody, OrderList, OrderRejection, OrderView,
    PlaceOrder, ProductPage, ProductView, SetCartLine,
};
use yew::Callback;

use crate::catalog_query::CatalogQuery;

/// Why a call did not give the answer asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// No answer at all: the network or the server is down.
    Network,
    /// The server answered with an error status and (normally) a `shop.Error` body.
    Status { status: u16, body: ErrorBody },
    /// An answer that does not decode: a server of another version, or a proxy's page.
    Decode,
}

impl ApiError {
    /// Whether sending the very same request again (with the same idempotency key) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Network => true,
            ApiError::Status { status, .. } => matches!(status, 502..=504),
            ApiError::Decode => false,
        }
    }

    /// Whether this error means the backend cannot be reached at all (the offline banner). A 503
    /// from the shop itself is an answer: reads still work while its broker is away.
    pub fn is_unreachable(&self) -> bool {
        match self {
            ApiError::Network => true,
            ApiError::Status { status, body } => {
                matches!(status, 502 | 504) || (*status == 503 && body.code.is_empty())
            }
            ApiError::Decode => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn rejection(&self) -> Option<&OrderRejection> {
        match self {
            ApiError::Status { body, .. } => body.rejection.as_ref(),
            _ => None,
        }
    }

    /// Seconds the server asked us to wait before retrying, if it said.
    pub fn retry_after_seconds(&self) -> Option<u32> {
        match self {
            ApiError::Status { body, .. } if body.retry_after_seconds > 0 => {
                Some(body.retry_after_seconds)
            }
            _ => None,
        }
    }

    /// A sentence for the shopper. Server errors get our own wording: their messages are written
    /// for operators. Client errors (4xx) carry a sentence meant for a person, so it is shown.
    pub fn message(&self) -> String {
        match self {
            ApiError::Network => {
                "We can't reach the shop right now. Check your connection and try again.".into()
            }
            ApiError::Decode => {
                "The shop sent an answer this page does not understand. Reloading the page may help."
                    .into()
            }
            ApiError::Status { status, body } => match *status {
                404 => "We couldn't find that. It may have been removed.".into(),
                502..=504 => "The shop is busy for a moment. Please try again.".into(),
                500..=599 => "Something went wrong on our side. Please try again.".into(),
                _ if !body.message.is_empty() => sentence(&body.message),
                _ => "That did not work. Please try again.".into(),
            },
        }
    }
}

impl ApiError {
    /// For the operator: the server's own message (written for operators) whatever the status.
    pub fn operator_message(&self) -> String {
        match self {
            ApiError::Status { status, body } if !body.message.is_empty() => {
                format!("{} ({status} {})", sentence(&body.message), body.code)
            }
            _ => self.message(),
        }
    }
}

/// Capitalises the first letter and ends with a full stop, so a server message reads as a
/// sentence.
fn sentence(s: &str) -> String {
    let s = s.trim();
    let mut chars = s.chars();
    let mut out: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

thread_local! {
    /// Told after every call whether the backend answered: feeds the offline banner without
    /// threading a callback through every call site.
    static REACHABILITY: RefCell<Option<Callback<bool>>> = const { RefCell::new(None) };
}

/// Registers who hears about reachability (the app root).
pub fn on_reachability(callback: Callback<bool>) {
    REACHABILITY.with(|r| *r.borrow_mut() = Some(callback));
}

fn report(result: &Result<Response, ApiError>) {
    let reachable = match result {
        Ok(_) => true,
        Err(e) => !e.is_unreachable(),
    };
    if let Some(cb) = REACHABILITY.with(|r| r.borrow().clone()) {
        cb.emit(reachable);
    }
}

/// A new idempotency key: 128 random bits from the browser's CSPRNG, as hex. One per shopper
/// action; a retry of that action reuses it.
pub fn new_idempotency_key() -> String {
    let mut bytes = [0u8; 16];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !filled {
        // Only without WebCrypto; uniqueness, not secrecy, is what a key needs.
        for b in &mut bytes {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) async fn send(
    req: Result<gloo_net::http::Request, gloo_net::Error>,
) -> Result<Response, ApiError> {
    let result = match req {
        Ok(r) => r.send().await.map_err(|_| ApiError::Network),
        Err(_) => Err(ApiError::Decode),
    };
    let result = match result {
        Ok(resp) if resp.ok() => Ok(resp),
        Ok(resp) => {
            let status = resp.status();
            let body = resp
                .binary()
                .await
                .ok()
                .and_then(|b| ErrorBody::decode(b.as_slice()).ok())
                .unwrap_or_default();
            Err(ApiError::Status { status, body })
        }
        Err(e) => Err(e),
    };
    report(&result);
    result
}

pub(crate) async fn decode<M: Message + Default>(resp: Response) -> Result<M, ApiError> {
    let bytes = resp.binary().await.map_err(|_| ApiError::Network)?;
    M::decode(bytes.as_slice()).map_err(|_| ApiError::Decode)
}

/// Where the API is: the page's own origin, or the origin given at build time in
/// `SHOP_API_BASE` (e.g. `https://api.shop.example`, which must list the app's origin in its
/// `ALLOWED_ORIGINS`).
pub const API_BASE: Option<&str> = option_env!("SHOP_API_BASE");

/// The URL of an API path (`/api/...`) on [`API_BASE`].
pub fn api_url(base: Option<&str>, path: &str) -> String {
    match base
        .map(|b| b.trim_end_matches('/'))
        .filter(|b| !b.is_empty())
    {
        Some(b) => format!("{b}{path}"),
        None => path.to_owned(),
    }
}

/// A request to `path` on the API, carrying the cart cookie even when the API is on another
/// origin.
pub(crate) fn request(method: fn(&str) -> RequestBuilder, path: &str) -> RequestBuilder {
    let builder = method(&api_url(API_BASE, path));
    match API_BASE {
        Some(b) if !b.is_empty() => builder.credentials(web_sys::RequestCredentials::Include),
        _ => builder,
    }
}

async fn get<M: Message + Default>(path: &str) -> Result<M, ApiError> {
    let req = request(Request::get, path)
        .header("Accept", PROTOBUF)
        .build();
    decode(send(req).await?).await
}

/// Sends a command, retrying by itself a couple of times while the error says a retry may work
/// (network, 502–504). Every attempt carries the same key, so the shop applies it at most once.
async fn command<B: Message, M: Message + Default>(
    builder: impl Fn() -> RequestBuilder,
    body: &B,
    key: &str,
) -> Result<M, ApiError> {
    let bytes = body.encode_to_vec();
    let mut attempt = 0;
    loop {
        let req = builder()
            .header("Accept", PROTOBUF)
            .header("Content-Type", PROTOBUF)
            .header("Idempotency-Key", key)
            .body(js_sys::Uint8Array::from(bytes.as_slice()));
        match send(req).await {
            Ok(resp) => return decode(resp).await,
            Err(e) if e.is_retryable() && attempt < 2 => {
                attempt += 1;
                let wait = e.retry_after_seconds().unwrap_or(1).min(5);
                gloo_timers::future::TimeoutFuture::new(wait * 1000).await;
            }
            Err(e) => return Err(e),
        }
    }
}

pub async fn products(query: &CatalogQuery) -> Result<ProductPage, ApiError> {
    get(&format!("/api/products?{}", query.api_query())).await
}

/// A few best matches for what is being typed, with the search's facets.
pub async fn suggestions(typed: &str) -> Result<ProductPage, ApiError> {
    get(&format!(
        "/api/products?{}",
        CatalogQuery::suggestions_query(typed)
    ))
    .await
}

pub async fn categories() -> Result<CategoryList, ApiError> {
    get("/api/categories").await
}

pub async fn product(id: u64) -> Result<ProductView, ApiError> {
    get(&format!("/api/products/{id}")).await
}

/// The shopper's cart. The first call also gives the browser its cart cookie.
pub async fn cart() -> Result<CartView, ApiError> {
    get("/api/cart").await
}

/// Sets a line's quantity (0 removes it) and answers with the whole cart.
pub async fn set_cart_line(
    product_id: u64,
    quantity: u32,
    key: &str,
) -> Result<CartView, ApiError> {
    let url = format!("/api/cart/lines/{product_id}");
    command(
        || request(Request::put, &url),
        &SetCartLine { quantity },
        key,
    )
    .await
}

/// Orders exactly the cart the shopper saw: its version and its lines with the titles and
/// prices on screen (the shop refuses the order if any of them changed meanwhile).
pub async fn place_order(
    cart_version: u64,
    lines: Vec<CartLineView>,
    key: &str,
) -> Result<OrderView, ApiError> {
    command(
        || request(Request::post, "/api/orders"),
        &PlaceOrder {
            cart_version,
            lines,
        },
        key,
    )
    .await
}

pub async fn orders() -> Result<OrderList, ApiError> {
    get("/api/orders").await
}

pub async fn order(id: u64) -> Result<OrderView, ApiError> {
    get(&format!("/api/orders/{id}")).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, code: &str, message: &str) -> ApiError {
        ApiError::Status {
            status,
            body: ErrorBody {
                code: code.into(),
                message: message.into(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn retry_only_what_may_work_next_time() {
        assert!(ApiError::Network.is_retryable());
        assert!(status(503, "unavailable", "broker down").is_retryable());
        assert!(!status(400, "bad_request", "x").is_retryable());
        assert!(!status(409, "cart_changed", "x").is_retryable());
        assert!(!ApiError::Decode.is_retryable());
    }

    #[test]
    fn the_shop_answering_503_is_not_offline() {
        assert!(ApiError::Network.is_unreachable());
        assert!(status(502, "", "").is_unreachable());
        assert!(status(503, "", "").is_unreachable());
        assert!(!status(503, "unavailable", "broker down").is_unreachable());
        assert!(!status(404, "not_found", "no product 9").is_unreachable());
    }

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(
            status(
                400,
                "bad_request",
                "quantity must be between 0 and 99, got 100"
            )
            .message(),
            "Quantity must be between 0 and 99, got 100."
        );
        assert_eq!(
            status(503, "unavailable", "kafka produce timed out").message(),
            "The shop is busy for a moment. Please try again."
        );
        assert!(ApiError::Network.message().contains("can't reach"));
        assert_eq!(sentence("done!"), "Done!");
        assert_eq!(sentence(""), "");
    }
}
