//! The checkout's endpoints: the shopper's cart and orders (named only by the cart cookie), and
//! the admin's stock deliveries.

use http::header::{HeaderValue, SET_COOKIE};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use prost::Message;
use shared::ids::{CartId, OrderId};
use shared::proto::{
    CartLineSetV1, CheckoutEvent, OrderList, OrderRejection, OrderRequestedV2, PlaceOrder,
    SetCartLine, ShownLine, StockDeliveredV1, StockDelivery, StockLevelView, checkout_event::Event,
};

use super::fold::{Checkout, Outcome, admin_command_key, cart_command_key};
use super::query::{cart_view, order_view, product_availability, rejection_message};
use crate::commands::Submission;
use crate::http::cookie;
use crate::http::request::{product_id, read_command, require_admin};
use crate::http::wire::{ApiError, Format, Resp, reply};
use crate::ops::metrics::commands::CommandResult;
use crate::state::State;

/// The request's cart, or a new id and the cookie that names it.
fn cart_of(state: &State, req_headers: &http::HeaderMap) -> (CartId, Option<HeaderValue>) {
    match cookie::read(req_headers) {
        Some(id) => (id, None),
        None => {
            let id = cookie::new_cart_id();
            (id, Some(cookie::set_cookie(id, state.config.cookie_secure)))
        }
    }
}

fn with_cookie(mut resp: Resp, cookie: Option<HeaderValue>) -> Resp {
    if let Some(c) = cookie {
        resp.headers_mut().insert(SET_COOKIE, c);
    }
    resp
}

fn cart_response(
    state: &State,
    model: &Checkout,
    cart: CartId,
    format: Format,
) -> Result<Resp, ApiError> {
    let view = cart_view(model, cart, state.config.low_stock_threshold)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(reply(format, StatusCode::OK, &view))
}

pub fn cart(state: &State, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let (cart, cookie) = cart_of(state, req.headers());
    let resp = cart_response(
        state,
        &state.checkout.model(),
        cart,
        Format::accepted(req.headers()),
    )?;
    Ok(with_cookie(resp, cookie))
}

/// Produces a checkout command and returns the outcome recorded under its scoped key. `command`
/// names it in metrics; `kind` is part of its fingerprint.
async fn run(
    state: &State,
    command: &'static str,
    scoped: String,
    key: String,
    kind: &[u8],
    kafka_key: &[u8],
    event: Event,
) -> Result<Outcome, ApiError> {
    let retention = state.config.limits.idempotency_retention;
    let submission = Submission::new(kafka_key, key, retention, &[kind], |meta| {
        CheckoutEvent {
            event: Some(event.clone()),
            meta,
        }
        .encode_to_vec()
    });
    let (outcome, _) = state
        .commands
        .execute(command, &state.checkout, submission, |m| {
            m.command(&scoped)
                .map(|r| (r.fingerprint, r.outcome.clone()))
        })
        .await?;
    Ok(outcome)
}

pub async fn set_line(state: &State, req: Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    let product = product_id(id)?;
    let (cart, cookie) = cart_of(state, req.headers());
    let cmd = read_command::<SetCartLine>(&state.config, req).await?;
    let quantity = cmd.body.quantity;
    if quantity > state.config.max_line_quantity {
        return Err(ApiError::bad_request(format!(
            "quantity must be between 0 and {}, got {quantity}",
            state.config.max_line_quantity
        )));
    }
    let in_cart = state
        .checkout
        .model()
        .cart(cart)
        .is_some_and(|c| c.lines.iter().any(|(p, _)| *p == product));
    if state.catalog.model().enabled_product(product).is_none() && !(quantity == 0 && in_cart) {
        return Err(ApiError::not_found(format!("no product {product}")));
    }
    let model = state.checkout.model();
    let current = model
        .cart(cart)
        .and_then(|c| c.lines.iter().find(|(p, _)| *p == product))
        .map_or(0, |(_, q)| *q);
    let recorded = model.command(&cart_command_key(cart, &cmd.key)).is_some();
    if current == quantity && !recorded {
        // Nothing would change: no event, and no cart (nor cookie) for a client that has none.
        // The answer is the one the command would have given.
        let resp = cart_response(state, &model, cart, cmd.format)?;
        state
            .commands
            .metrics
            .ended("cart_line", CommandResult::NoOp);
        return Ok(if model.cart(cart).is_some() {
            with_cookie(resp, cookie)
        } else {
            resp
        });
    }
    let limits = &state.config.limits;
    if let Some(c) = model.cart(cart)
        && !recorded
        && current == 0
        && c.lines.len() >= limits.cart_max_lines as usize
    {
        return Err(cart_full(limits.cart_max_lines));
    }
    drop(model);
    let cart_id = cart.to_string();
    let event = Event::CartLineSetV1(CartLineSetV1 {
        cart_id: cart_id.clone(),
        product_id: product,
        quantity,
        cart_retention_ms: millis(limits.cart_retention),
        max_lines: limits.cart_max_lines,
    });
    match run(
        state,
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
            cart_response(state, &state.checkout.model(), cart, cmd.format)?,
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

pub async fn place_order(state: &State, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let cart = cookie::read(req.headers());
    let cmd = read_command::<PlaceOrder>(&state.config, req).await?;
    let Some(cart) = cart else {
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
    let model = state.checkout.model();
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
        cart_id: cart_id.clone(),
        cart_version,
        lines,
        cart_retention_ms: millis(state.config.limits.cart_retention),
    });
    let outcome = run(
        state,
        "order",
        cart_command_key(cart, &cmd.key),
        cmd.key,
        b"order",
        cart_id.as_bytes(),
        event,
    )
    .await?;
    let model = state.checkout.model();
    match outcome {
        Outcome::OrderPlaced(id) => {
            let order = model
                .order(id)
                .ok_or_else(|| ApiError::internal("order vanished"))?;
            Ok(reply(cmd.format, StatusCode::CREATED, &order_view(order)))
        }
        Outcome::OrderRejected(r) => Err(rejection_error(&model, r)),
        other => Err(ApiError::internal(format!("unexpected outcome {other:?}"))),
    }
}

pub fn orders(state: &State, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let model = state.checkout.model();
    let orders = match cookie::read(req.headers()) {
        Some(cart) => model.orders_of(cart).rev().map(|o| order_view(o)).collect(),
        None => vec![],
    };
    Ok(reply(
        Format::accepted(req.headers()),
        StatusCode::OK,
        &OrderList { orders },
    ))
}

pub fn order(state: &State, req: &Request<Incoming>, id: &str) -> Result<Resp, ApiError> {
    let id: OrderId = id
        .parse()
        .map_err(|e: shared::ids::IdError| ApiError::bad_request(e.to_string()))?;
    let model = state.checkout.model();
    let cart = cookie::read(req.headers());
    // Another cart's order answers exactly like a missing one.
    match model.order(id.0).filter(|o| Some(o.cart) == cart) {
        Some(o) => Ok(reply(
            Format::accepted(req.headers()),
            StatusCode::OK,
            &order_view(o),
        )),
        None => Err(ApiError::not_found(format!("no order {id}"))),
    }
}

pub async fn deliver_stock(state: &State, req: Request<Incoming>) -> Result<Resp, ApiError> {
    require_admin(state.admin_token(), &req)?;
    let cmd = read_command::<StockDelivery>(&state.config, req).await?;
    let StockDelivery {
        product_id,
        quantity,
    } = cmd.body;
    if quantity == 0 || quantity > state.config.max_delivery_quantity {
        return Err(ApiError::bad_request(format!(
            "quantity must be between 1 and {}, got {quantity}",
            state.config.max_delivery_quantity
        )));
    }
    if product_id == 0 || state.catalog.model().product(product_id).is_none() {
        return Err(ApiError::not_found(format!("no product {product_id}")));
    }
    let event = Event::StockDeliveredV1(StockDeliveredV1 {
        product_id,
        quantity,
    });
    run(
        state,
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
            &state.checkout.model(),
            product_id,
            state.config.low_stock_threshold,
        )),
    };
    Ok(reply(cmd.format, StatusCode::OK, &view))
}
