//! One request: its server span (when traces are exported), the route it names, the handler
//! that answers it, and its line in the metrics.

use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::route::{self, Routed};
use super::static_files;
use super::table::{Access, Body, Reads};
use super::{health, profiling};
use crate::http::origin;
use crate::http::request::{parse_query, require_admin};
use crate::http::wire::{ApiError, Format, Resp, text};
use crate::ops::traces::{TARGET, TRACEPARENT, exporting};
use crate::state::State;

/// Answers one request, inside its server span when traces are exported.
pub async fn handle(state: &State, req: Request<Incoming>) -> Resp {
    let Some(span) = exporting().then(|| request_span(&req)).flatten() else {
        return answer(state, req).await;
    };
    let resp = answer(state, req).instrument(span.clone()).await;
    let status = resp.status();
    // As i64: the OpenTelemetry layer records unsigned integers as text.
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
    resp
}

/// The server span of a request, continuing the caller's trace if it sent a `traceparent`.
/// None for the probes and the metrics scrape: they come every few seconds and would bury the
/// traces that matter.
fn request_span(req: &Request<Incoming>) -> Option<Span> {
    let method = req.method();
    let path = req.uri().path();
    let route = match path.strip_prefix("/api/") {
        Some(api) => route::route(method, api).ok().map(|r| r.name()),
        None => match path {
            "/healthz" | "/readyz" | "/metrics" => return None,
            "/debug/pprof/profile" => Some("/debug/pprof/profile"),
            "/debug/pprof/heap" => Some("/debug/pprof/heap"),
            _ => None,
        },
    };
    // Final before the span starts: OpenTelemetry cannot rename a started span.
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_string(),
    };
    let span = tracing::info_span!(
        target: TARGET,
        "request",
        otel.name = name.as_str(),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route,
        url.path = path,
        http.response.status_code = Empty,
        otel.status_code = Empty,
    );
    if req.headers().contains_key(TRACEPARENT) {
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(req.headers()));
        let _ = span.set_parent(parent);
    }
    Some(span)
}

/// Answers one request and records it in the metrics (by route template, never by raw path).
async fn answer(state: &State, req: Request<Incoming>) -> Resp {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let allowed = &state.config.limits.allowed_origins;
    let (route, resp) = match path.strip_prefix("/api/") {
        Some(_) if let Some(resp) = origin::preflight(&req, allowed) => ("preflight", resp),
        Some(api_path) => {
            let format = Format::accepted(req.headers());
            // Only a cross-origin request carries one: the common read clones nothing.
            let request_origin = req.headers().get(header::ORIGIN).cloned();
            let (name, mut resp) = match route::route(&method, api_path) {
                Ok(routed) => {
                    let name = routed.name();
                    let resp = match api(state, &routed, req).await {
                        Ok(resp) => resp,
                        Err(e) => e.into_response(format),
                    };
                    tracing::debug!(route = name, %method, status = resp.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
                    (name, resp)
                }
                Err(e) => ("unknown", e.into_response(format)),
            };
            origin::answer_cors(request_origin.as_ref(), &mut resp, allowed);
            (name, resp)
        }
        None => match path.as_str() {
            "/healthz" => ("/healthz", health::healthz(state)),
            "/readyz" => ("/readyz", health::readyz(state)),
            "/metrics" => ("/metrics", metrics(state)),
            "/debug/pprof/profile" => ("/debug/pprof/profile", profiling::cpu(state, &req).await),
            "/debug/pprof/heap" => ("/debug/pprof/heap", profiling::heap(state, &req).await),
            _ if method == Method::GET || method == Method::HEAD => (
                "static",
                static_files::serve(&state.config.static_dir, &path).await,
            ),
            _ => {
                let mut r = text(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "only GET and HEAD are allowed here\n",
                );
                r.headers_mut()
                    .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
                ("unknown", r)
            }
        },
    };
    state
        .metrics
        .http
        .request(route, &method, resp.status(), started.elapsed());
    if method == Method::HEAD {
        let (parts, _) = resp.into_parts();
        return Response::from_parts(parts, Full::new(Bytes::new()));
    }
    resp
}

/// Every metric in Prometheus' text exposition format.
fn metrics(state: &State) -> Resp {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, crate::ops::metrics::CONTENT_TYPE)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(state.metrics.encode())))
        .expect("static headers")
}

/// An API request: the shop ready (unless the operation is the API's own description), only
/// the query parameters the operation takes, its read counted, then its row's handler.
async fn api(state: &State, routed: &Routed<'_>, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let op = routed.op;
    if op.needs_ready
        && let Some(why) = health::not_ready(state)
    {
        return Err(ApiError::unavailable(
            format!("the shop is not ready: {why}"),
            1,
        ));
    }
    parse_query(req.uri().query().unwrap_or(""), op.query)?;
    // The admin gate, for every admin operation but the event log's socket: a browser cannot set
    // `Authorization` on a websocket, so that handler also takes the token as a subprotocol.
    if op.access == Access::Admin && op.answer.1 != Body::Websocket {
        require_admin(state.admin_token(), &req)?;
    }
    match op.reads {
        Reads::Catalog => state.metrics.http.reads_catalog.inc(),
        Reads::Checkout => state.metrics.http.reads_checkout.inc(),
        Reads::Nothing => {}
    }
    (op.handler)(state, req, &routed.params).await
}
