//! What a row of the route table is: an operation (method, handler, what it reads, what it takes
//! and answers, who may call it) on a path template. The router ([`super::route`]) holds the
//! rows; the OpenAPI document ([`super::openapi`]) is written from them.

use std::future::Future;
use std::pin::Pin;

use http::Request;
use hyper::body::Incoming;

use crate::http::params::Param;
use crate::http::wire::{ApiError, Resp};
use crate::state::State;

/// What a handler answers: a future of the response or the API's error.
pub type Answer<'a> = Pin<Box<dyn Future<Output = Result<Resp, ApiError>> + Send + 'a>>;

/// An operation's handler: given the shop's state, the request and the path's parameters in
/// order, it picks what it reads from the state (each row shows it) and answers.
pub type Handler = for<'a> fn(&'a State, Request<Incoming>, &'a [&'a str]) -> Answer<'a>;

/// Which model an operation reads (counted in `shop_reads_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    Catalog,
    Checkout,
    Nothing,
}

/// What a request body or an answer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// A message of `proto/` (package `shop`), as proto3 JSON or protobuf.
    Message(&'static str),
    /// A CSV file (`text/csv`).
    Csv,
    /// An HTML page.
    Html,
    /// A JSON document that is no protobuf message (the OpenAPI document).
    Json,
    /// The answer to a websocket upgrade: 101, then frames.
    Websocket,
    None,
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Anyone,
    /// Anyone; it acts on the cart the `cart` cookie names (one is set if there is none).
    Cart,
    /// The admin bearer token (`Authorization: Bearer <ADMIN_TOKEN>`).
    Admin,
}

/// One operation: a method on a path.
pub struct Op {
    pub method: &'static str,
    /// What answers it, and what of the shop's state it reads.
    pub handler: Handler,
    /// The model it reads, for the read counters.
    pub reads: Reads,
    /// Whether it waits for the shop to be ready (false: the API's own description, served while
    /// the shop replays).
    pub needs_ready: bool,
    pub summary: &'static str,
    pub about: &'static str,
    pub query: &'static [Param],
    pub body: Body,
    /// The status and body of success.
    pub answer: (u16, Body),
    /// Every other status it may answer (each with a `shop.Error` body).
    pub errors: &'static [u16],
    pub access: Access,
    /// A command: it needs an `Idempotency-Key`, and the same key twice has one effect.
    pub command: bool,
}

/// A path template (`/api/products/{id}`), its parameters and its operations.
pub struct Path {
    pub path: &'static str,
    pub params: &'static [Param],
    /// The methods of `ops`, as a 405 names them.
    pub allow: &'static str,
    pub ops: &'static [Op],
}
