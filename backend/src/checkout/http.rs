//! The checkout's endpoints: the shopper's cart and orders (named only by the cart cookie, which
//! the server issues: see [`crate::http::cookie`]), and the admin's stock deliveries. A cookie
//! of the old form moves its cart to an issued cookie on its first use here; a write that would
//! create a cart is paced per client address ([`crate::http::cart_limit`]).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use http::header::{HeaderValue, SET_COOKIE};
use http::{HeaderMap, Request, StatusCode};
use hyper::body::Incoming;
use prost::Message;
use shared::ids::{CartId, OrderId};
use shared::proto::{
    CartLineSetV1, CartRekeyedV1, CheckoutEvent, OrderList, OrderRejection, OrderRequestedV2,
    PlaceOrder, SetCartLine, ShownLine, StockDeliveredV1, StockDelivery, StockLevelView,
    checkout_event::Event,
};

use super::CheckoutFold;
use super::cart_name::legacy_name;
use super::fold::{Checkout, Outcome, admin_command_key, cart_command_key, rekey_command_key};
use super::query::{cart_view, order_view, product_availability, rejection_message};
use crate::catalog::CatalogFold;
use crate::commands::Commands;
use crate::commands::Submission;
use crate::config::ShopSettings;
use crate::engine::Context;
use crate::http::cart_limit::CartLimiter;
use crate::http::cookie::CartKeys;
use crate::http::cookie::{self, CartCookie, Issued};
use crate::http::request::PeerAddr;
use crate::http::request::{product_id, read_command};
use crate::http::wire::{ApiError, Format, Resp, reply};
use crate::ops::metrics::commands::CommandResult;

/// What checkout's endpoints use: its model and the catalog's, the command runner, the cart keys
/// and the new-cart limiter, and the shop's settings. Nothing of Kafka or the admin token.
pub struct Api<'a> {
    pub catalog: &'a Context<CatalogFold>,
    pub checkout: &'a Context<CheckoutFold>,
    pub commands: &'a Commands,
    pub cart_keys: &'a CartKeys,
    pub cart_limiter: &'a CartLimiter,
    pub shop: &'a ShopSettings,
}

/// How long a cookie of the old form still opens its cart after the cart moved to an issued
/// cookie (log time): a request that left the browser before the move gets the new cookie too,
/// instead of a new, empty cart.
pub const REKEY_GRACE: Duration = Duration::from_secs(600);

/// The cart a request acts on: its name, and the cookie to set (a new cart's, or the issued one
/// a cookie of the old form moved to).
struct CartRef {
    name: CartId,
    set: Option<HeaderValue>,
}

/// What a request without a usable cart cookie gets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Otherwise {
    /// A new cart's cookie (the cart exists once a line is set).
    NewCart,
    /// No cart (reads of orders: there are none).
    Nothing,
}

/// The request's cart. An issued cookie names it; a cookie of the old form opens its cart only
/// while that cart (or an order of it) is kept under the old id's legacy name, and then moves
/// the cart to an issued cookie first (one event), so the old id opens nothing afterwards
/// (moments after, within [`REKEY_GRACE`], it is handed the same new cookie); anything else is
/// no cookie. A read whose move cannot be written (broker down) is served from the legacy cart.
async fn cart_of(
    cx: &Api<'_>,
    headers: &HeaderMap,
    otherwise: Otherwise,
    reading: bool,
) -> Result<Option<CartRef>, ApiError> {
    let secure = cx.shop.cookie_secure;
    match cookie::read(headers, cx.cart_keys) {
        Some(CartCookie::Issued(name)) => return Ok(Some(CartRef { name, set: None })),
        Some(CartCookie::Legacy(old)) => {
            let from = legacy_name(old);
            let to = cx.cart_keys.reissue(old);
            let moved = CartRef {
                name: to.name,
                set: Some(cookie::set_cookie(&to, secure)),
            };
            let (holds, just_moved) = {
                let model = cx.checkout.model();
                (
                    model.holds_cart(from),
                    model.command(&rekey_command_key(to.name)).is_some(),
                )
            };
            if holds {
                return match rekey(cx, from, &to).await {
                    Ok(()) => Ok(Some(moved)),
                    Err(_) if reading => Ok(Some(CartRef {
                        name: from,
                        set: None,
                    })),
                    Err(e) => Err(e),
                };
            }
            if just_moved {
                return Ok(Some(moved));
            }
        }
        None => {}
    }
    Ok((otherwise == Otherwise::NewCart).then(|| {
        let issued = cx.cart_keys.issue();
        CartRef {
            name: issued.name,
            set: Some(cookie::set_cookie(&issued, secure)),
        }
    }))
}

/// The cart an open socket follows: as [`cart_of`] reads it, but without moving a legacy cart
/// (a socket sets no cookie; the app's own reads move it).
pub fn cart_to_watch(
    cart_keys: &CartKeys,
    checkout: &Context<CheckoutFold>,
    headers: &HeaderMap,
) -> Option<CartId> {
    match cookie::read(headers, cart_keys)? {
        CartCookie::Issued(name) => Some(name),
        CartCookie::Legacy(old) => {
            let model = checkout.model();
            let from = legacy_name(old);
            if model.holds_cart(from) {
                return Some(from);
            }
            let to = cart_keys.reissue(old).name;
            model
                .command(&rekey_command_key(to))
                .is_some()
                .then_some(to)
        }
    }
}

/// Moves the legacy cart `from` (and its orders) to the issued cookie `to`. Idempotent: two
/// requests (or replicas) moving the same cart write the same event, and the second changes
/// nothing.
async fn rekey(cx: &Api<'_>, from: CartId, to: &Issued) -> Result<(), ApiError> {
    let scoped = rekey_command_key(to.name);
    let name = to.name.to_string();
    let event = CheckoutEvent {
        event: Some(Event::CartRekeyedV1(CartRekeyedV1 {
            from_cart_name: from.to_string(),
            cart_name: name.clone(),
        })),
        meta: None,
    };
    let submission = Submission::new(
        name.as_bytes(),
        "rekey".to_owned(),
        REKEY_GRACE,
        &[b"cart-rekey"],
        |meta| {
            CheckoutEvent {
                meta,
                ..event.clone()
            }
            .encode_to_vec()
        },
    );
    cx.commands
        .execute("cart_rekey", cx.checkout, submission, |m| {
            m.command(&scoped).map(|r| (r.fingerprint, ()))
        })
        .await?;
    Ok(())
}

/// Takes one of the client's new-cart tokens, or answers 429 with the wait.
fn admit_new_cart(cx: &Api<'_>, client: Option<IpAddr>) -> Result<(), ApiError> {
    let Some(client) = client else {
        return Ok(());
    };
    cx
        .cart_limiter
        .admit(client, Instant::now())
        .map_err(|wait| {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u32;
            ApiError {
                retry_after: Some(secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_carts",
                    format!(
                        "too many new carts from your address; try again in {secs} s (or keep the cart cookie you were given)"
                    ),
                )
            }
        })
}

fn with_cookie(mut resp: Resp, cookie: Option<HeaderValue>) -> Resp {
    if let Some(c) = cookie {
        resp.headers_mut().insert(SET_COOKIE, c);
    }
    resp
}

fn cart_response(
    cx: &Api<'_>,
    model: &Checkout,
    cart: CartId,
    format: Format,
) -> Result<Resp, ApiError> {
    let view = cart_view(model, cart, cx.shop.low_stock_threshold)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(reply(format, StatusCode::OK, &view))
}

pub async fn cart(cx: &Api<'_>, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let cart = cart_of(cx, req.headers(), Otherwise::NewCart, true)
        .await?
        .expect("a new cart otherwise");
    let resp = cart_response(
        cx,
        &cx.checkout.model(),
        cart.name,
        Format::accepted(req.headers()),
    )?;
    Ok(with_cookie(resp, cart.set))
}

/// Produces a checkout command and returns the outcome recorded under its scoped key. `command`
/// names it in metrics; `kind` is part of its fingerprint.
async fn run(
    cx: &Api<'_>,
    command: &'static str,
    scoped: String,
    key: String,
    kind: &[u8],
    kafka_key: &[u8],
    event: Event,
) -> Result<Outcome, ApiError> {
    let retention = cx.shop.idempotency_retention;
    let submission = Submission::new(kafka_key, key, retention, &[kind], |meta| {
        CheckoutEvent {
            event: Some(event.clone()),
            meta,
        }
        .encode_to_vec()
    });
    let (outcome, _) = cx
        .commands
        .execute(command, cx.checkout, submission, |m| {
            m.command(&scoped)
                .map(|r| (r.fingerprint, r.outcome.clone()))
        })
        .await?;
    Ok(outcome)
}

pub async fn set_line(cx: &Api<'_>, req: Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    let product = product_id(id)?;
    let CartRef {
        name: cart,
        set: cookie,
    } = cart_of(cx, req.headers(), Otherwise::NewCart, false)
        .await?
        .expect("a new cart otherwise");
    let client = req.extensions().get::<PeerAddr>().map(|p| p.0.ip());
    let cmd = read_command::<SetCartLine>(&cx.shop.body, req).await?;
    let quantity = cmd.body.quantity;
    if quantity > cx.shop.max_line_quantity {
        return Err(ApiError::bad_request(format!(
            "quantity must be between 0 and {}, got {quantity}",
            cx.shop.max_line_quantity
        )));
    }
    let in_cart = cx
        .checkout
        .model()
        .cart(cart)
        .is_some_and(|c| c.lines.iter().any(|(p, _)| *p == product));
    if cx.catalog.model().enabled_product(product).is_none() && !(quantity == 0 && in_cart) {
        return Err(ApiError::not_found(format!("no product {product}")));
    }
    let model = cx.checkout.model();
    let current = model
        .cart(cart)
        .and_then(|c| c.lines.iter().find(|(p, _)| *p == product))
        .map_or(0, |(_, q)| *q);
    let recorded = model.command(&cart_command_key(cart, &cmd.key)).is_some();
    if current == quantity && !recorded {
        // Nothing would change: no event, and no cart (nor cookie) for a client that has none
        // (a cookie a cart moved to is set: its orders are kept under it). The answer is the
        // one the command would have given.
        let resp = cart_response(cx, &model, cart, cmd.format)?;
        cx.commands.metrics.ended("cart_line", CommandResult::NoOp);
        return Ok(if model.holds_cart(cart) {
            with_cookie(resp, cookie)
        } else {
            resp
        });
    }
    let limits = cx.shop;
    if let Some(c) = model.cart(cart)
        && !recorded
        && current == 0
        && c.lines.len() >= limits.cart_max_lines as usize
    {
        return Err(cart_full(limits.cart_max_lines));
    }
    // This write makes a cart: it takes one of the client's new-cart tokens.
    let creates = !recorded && quantity > 0 && model.cart(cart).is_none();
    drop(model);
    if creates {
        admit_new_cart(cx, client)?;
    }
    let cart_id = cart.to_string();
    let event = Event::CartLineSetV1(CartLineSetV1 {
        cart_name: cart_id.clone(),
        product_id: product,
        quantity,
        cart_retention_ms: millis(limits.cart_retention),
        max_lines: limits.cart_max_lines,
        ..Default::default()
    });
    match run(
        cx,
        "cart_line",
        cart_command_key(cart, &cmd.key),
        cmd.key,
        b"cart-line",
        cart_id.as_bytes(),
        event,
    )
    .await?
    {
        Outcome::CartLineRefused => Err(ApiError::not_found(format!(
            "product {product} is not for sale"
        ))),
        Outcome::CartFull(max) => Err(cart_full(max)),
        _ => Ok(with_cookie(
            cart_response(cx, &cx.checkout.model(), cart, cmd.format)?,
            cookie,
        )),
    }
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn cart_full(max: u32) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "cart_full",
        format!("a cart holds at most {max} different products; remove one to add another"),
    )
}

fn rejection_error(model: &Checkout, r: OrderRejection) -> ApiError {
    let (code, message) = rejection_message(model, &r);
    ApiError {
        rejection: Some(Box::new(r)),
        ..ApiError::new(StatusCode::CONFLICT, code, message)
    }
}

pub async fn place_order(cx: &Api<'_>, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let cart = cart_of(cx, req.headers(), Otherwise::Nothing, false).await?;
    let cmd = read_command::<PlaceOrder>(&cx.shop.body, req).await?;
    let Some(CartRef {
        name: cart,
        set: cookie,
    }) = cart
    else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "cart_empty",
            "your cart is empty",
        ));
    };
    let PlaceOrder {
        cart_version,
        lines,
    } = cmd.body;
    let model = cx.checkout.model();
    // A retry of a decided order gets its first answer, whatever the cart holds now.
    let decided = model.command(&cart_command_key(cart, &cmd.key)).is_some();
    if lines.is_empty() && !decided && model.cart(cart).is_some_and(|c| !c.lines.is_empty()) {
        return Err(ApiError::bad_request(
            "lines is required: the cart's lines as you showed them (GET /api/cart's lines, each with productId, title, unitPrice and quantity)",
        ));
    }
    drop(model);
    let lines = lines
        .into_iter()
        .map(|l| ShownLine {
            product_id: l.product_id,
            title: l.title,
            unit_price: l.unit_price,
            quantity: l.quantity,
        })
        .collect();
    let cart_id = cart.to_string();
    let event = Event::OrderRequestedV2(OrderRequestedV2 {
        cart_name: cart_id.clone(),
        cart_version,
        lines,
        cart_retention_ms: millis(cx.shop.cart_retention),
        ..Default::default()
    });
    let outcome = run(
        cx,
        "order",
        cart_command_key(cart, &cmd.key),
        cmd.key,
        b"order",
        cart_id.as_bytes(),
        event,
    )
    .await?;
    let model = cx.checkout.model();
    match outcome {
        Outcome::OrderPlaced(id) => {
            let order = model
                .order(id)
                .ok_or_else(|| ApiError::internal("order vanished"))?;
            let resp = reply(cmd.format, StatusCode::CREATED, &order_view(order));
            Ok(with_cookie(resp, cookie))
        }
        Outcome::OrderRejected(r) => Err(rejection_error(&model, r)),
        other => Err(ApiError::internal(format!("unexpected outcome {other:?}"))),
    }
}

pub async fn orders(cx: &Api<'_>, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let cart = cart_of(cx, req.headers(), Otherwise::Nothing, true).await?;
    let model = cx.checkout.model();
    let orders = match &cart {
        Some(cart) => model
            .orders_of(cart.name)
            .rev()
            .map(|o| order_view(o))
            .collect(),
        None => vec![],
    };
    let resp = reply(
        Format::accepted(req.headers()),
        StatusCode::OK,
        &OrderList { orders },
    );
    Ok(with_cookie(resp, cart.and_then(|c| c.set)))
}

pub async fn order(cx: &Api<'_>, req: &Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    let id: OrderId = id
        .parse()
        .map_err(|e: shared::ids::IdError| ApiError::bad_request(e.to_string()))?;
    let cart = cart_of(cx, req.headers(), Otherwise::Nothing, true).await?;
    let model = cx.checkout.model();
    let name = cart.as_ref().map(|c| c.name);
    // Another cart's order answers exactly like a missing one.
    match model.order(id.0).filter(|o| Some(o.cart) == name) {
        Some(o) => {
            let resp = reply(
                Format::accepted(req.headers()),
                StatusCode::OK,
                &order_view(o),
            );
            Ok(with_cookie(resp, cart.and_then(|c| c.set)))
        }
        None => Err(ApiError::not_found(format!("no order {id}"))),
    }
}

pub async fn deliver_stock(cx: &Api<'_>, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let cmd = read_command::<StockDelivery>(&cx.shop.body, req).await?;
    let StockDelivery {
        product_id,
        quantity,
    } = cmd.body;
    if quantity == 0 || quantity > cx.shop.max_delivery_quantity {
        return Err(ApiError::bad_request(format!(
            "quantity must be between 1 and {}, got {quantity}",
            cx.shop.max_delivery_quantity
        )));
    }
    if product_id == 0 || cx.catalog.model().product(product_id).is_none() {
        return Err(ApiError::not_found(format!("no product {product_id}")));
    }
    let event = Event::StockDeliveredV1(StockDeliveredV1 {
        product_id,
        quantity,
    });
    run(
        cx,
        "stock_delivery",
        admin_command_key(&cmd.key),
        cmd.key,
        b"stock",
        &product_id.to_be_bytes(),
        event,
    )
    .await?;
    let view = StockLevelView {
        product_id,
        availability: Some(product_availability(
            &cx.checkout.model(),
            product_id,
            cx.shop.low_stock_threshold,
        )),
    };
    Ok(reply(cmd.format, StatusCode::OK, &view))
}
