//! The HTTP server (hyper 1.x): accepts connections, routes `/api/` to the contexts' handlers
//! and the live-update websocket, answers health probes and `/metrics`, serves the browser app's
//! files, records every request in the metrics, and drains connections on shutdown.

pub mod cart_cookie;
pub mod route;
pub mod static_files;
pub mod wire;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::app::App;
use crate::engine::WriterHealth;
use crate::shutdown::{self, Shutdown};
use crate::{catalog, checkout};
use route::Route;
use wire::{ApiError, Format, Resp};

/// Accepts connections until shutdown, then lets open requests finish (up to 10 s).
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: Shutdown) {
    // hyper-util's `GracefulShutdown` cannot watch a connection that may upgrade, so each
    // connection task drains itself on shutdown and the set is awaited here.
    let mut connections = JoinSet::new();
    let stop = shutdown::requested(shutdown.clone());
    tokio::pin!(stop);
    loop {
        tokio::select! {
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(%e, "accept failed");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(30))
                    .serve_connection(TokioIo::new(stream), service_fn(move |req| {
                        let app = app.clone();
                        // `handle`, inside the request's span when traces are exported.
                        async move {
                            let resp = crate::traces::handle(&app, req).await;
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    }))
                    .with_upgrades();
                let stop = shutdown::requested(shutdown.clone());
                connections.spawn(async move {
                    tokio::pin!(conn, stop);
                    let ended = tokio::select! {
                        ended = conn.as_mut() => ended,
                        _ = stop => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    };
                    if let Err(e) = ended {
                        tracing::debug!(%e, "connection ended with an error");
                    }
                });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    let requests = async {
        let drained = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(10), drained)
            .await
            .is_err()
        {
            tracing::warn!("connections still open after 10 s; closing them");
        }
    };
    // Upgraded connections are no longer hyper's: the live hub closes them.
    tokio::join!(requests, app.live.close_all(Duration::from_secs(3)));
}

/// Answers one request and records it in the metrics (by route template, never by raw path).
pub async fn handle(app: &App, req: Request<Incoming>) -> Resp {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let (route, resp) = match path.strip_prefix("/api/") {
        Some(api_path) => {
            let format = Format::accepted(req.headers());
            match route::route(&method, api_path) {
                Ok(route) => {
                    let name = route.name();
                    let resp = match api(app, route, req).await {
                        Ok(resp) => resp,
                        Err(e) => e.into_response(format),
                    };
                    tracing::debug!(route = name, %method, status = resp.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
                    (name, resp)
                }
                Err(e) => ("unknown", e.into_response(format)),
            }
        }
        None => match path.as_str() {
            "/healthz" => ("/healthz", healthz(app)),
            "/readyz" => ("/readyz", readyz(app)),
            "/metrics" => ("/metrics", metrics(app)),
            "/debug/pprof/profile" => (
                "/debug/pprof/profile",
                crate::profiling::cpu(app, &req).await,
            ),
            "/debug/pprof/heap" => ("/debug/pprof/heap", crate::profiling::heap(app, &req).await),
            _ if method == Method::GET || method == Method::HEAD => (
                "static",
                static_files::serve(&app.config.static_dir, &path).await,
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
    app.metrics
        .http_request(route, &method, resp.status(), started.elapsed());
    if method == Method::HEAD {
        let (parts, _) = resp.into_parts();
        return Response::from_parts(parts, Full::new(Bytes::new()));
    }
    resp
}

/// Liveness: 200 while every context's writer makes progress or is idle with nothing to apply;
/// 503 naming the context and the offset it is stuck at, or that its writer is gone.
fn healthz(app: &App) -> Resp {
    let body = match app.unhealthy() {
        None => serde_json::json!({"status": "ok"}),
        Some((context, WriterHealth::Stuck { offset, idle_for })) => serde_json::json!({
            "status": "stuck",
            "context": context,
            "offset": offset,
            "detail": format!(
                "events are waiting but the writer has applied nothing for {} s (the limit is {} s)",
                idle_for.as_secs(),
                app.config.stuck_after.as_secs()
            ),
        }),
        Some((context, WriterHealth::Dead { offset, panicked })) => serde_json::json!({
            "status": "dead",
            "context": context,
            "offset": offset,
            "detail": if panicked {
                "the writer thread panicked; see the log"
            } else {
                "the writer thread exited; see the log"
            },
        }),
        Some((_, WriterHealth::Healthy)) => unreachable!("only unhealthy writers are reported"),
    };
    let status = if body["status"] == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, &body)
}

/// Readiness: 200 once both contexts have replayed and the broker is reachable; otherwise 503
/// with the reason.
fn readyz(app: &App) -> Resp {
    let reason = match app.not_ready() {
        None if app.broker.is_up() => {
            return json(StatusCode::OK, &serde_json::json!({"ready": true}));
        }
        None => "the Kafka broker is unreachable; reads are served, commands are not".to_owned(),
        Some(why) => why,
    };
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        &serde_json::json!({"ready": false, "reason": reason}),
    )
}

/// Every metric in Prometheus' text exposition format.
fn metrics(app: &App) -> Resp {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(app.metrics.encode())))
        .expect("static headers")
}

fn json(status: StatusCode, body: &serde_json::Value) -> Resp {
    let mut bytes = body.to_string().into_bytes();
    bytes.push(b'\n');
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(bytes)))
        .expect("static headers")
}

fn text(status: StatusCode, body: impl Into<String>) -> Resp {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(body.into())))
        .expect("static headers")
}

async fn api(app: &App, route: Route<'_>, req: Request<Incoming>) -> Result<Resp, ApiError> {
    if let Some(why) = app.not_ready() {
        return Err(ApiError::unavailable(
            format!("the shop is starting: {why}"),
            1,
        ));
    }
    parse_query(req.uri().query().unwrap_or(""), route.query_params())?;
    match route {
        Route::ListProducts | Route::GetProduct(_) | Route::ListCategories => {
            app.metrics.reads_catalog.inc()
        }
        Route::GetCart | Route::ListOrders | Route::GetOrder(_) => app.metrics.reads_checkout.inc(),
        _ => {}
    }
    match route {
        Route::ListProducts => catalog::http::list(app, &req),
        Route::GetProduct(id) => catalog::http::get(app, &req, id),
        Route::ListCategories => catalog::http::categories(app, &req),
        Route::UpsertProduct(id) => catalog::http::upsert(app, req, id).await,
        Route::SetPrice(id) => catalog::http::set_price(app, req, id).await,
        Route::DisableProduct(id) => catalog::http::disable(app, req, id).await,
        Route::GetCart => checkout::http::cart(app, &req),
        Route::SetCartLine(id) => checkout::http::set_line(app, req, id).await,
        Route::ListOrders => checkout::http::orders(app, &req),
        Route::PlaceOrder => checkout::http::place_order(app, req).await,
        Route::GetOrder(id) => checkout::http::order(app, &req, id),
        Route::DeliverStock => checkout::http::deliver_stock(app, req).await,
        Route::LiveSocket => crate::live::upgrade(app, req),
    }
}

/// Checks the admin bearer token (compared in constant time).
pub fn require_admin(app: &App, req: &Request<Incoming>) -> Result<(), ApiError> {
    let Some(token) = app.config.admin_token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "the admin API is switched off: start the server with ADMIN_TOKEN set",
        ));
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let same = given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "admin commands need Authorization: Bearer <ADMIN_TOKEN>",
        ))
    }
}

/// A request's query parameters, refusing any name the endpoint does not know.
pub fn query_params(
    req: &Request<Incoming>,
    known: &[&str],
) -> Result<Vec<(String, String)>, ApiError> {
    parse_query(req.uri().query().unwrap_or(""), known)
}

/// A query string's parameters, refusing any name not in `known`.
pub fn parse_query(query: &str, known: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some((k, _)) = pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        return Err(ApiError::bad_request(if known.is_empty() {
            format!("unknown query parameter {k:?}: this endpoint takes none")
        } else {
            format!("unknown query parameter {k:?}; known: {}", known.join(", "))
        }));
    }
    Ok(pairs)
}

/// A command request read and checked: its idempotency key, decoded body and response format.
pub struct Command<M> {
    pub key: String,
    pub body: M,
    pub format: Format,
    pub headers: http::HeaderMap,
}

/// Reads a command: the Idempotency-Key first (cheap), then the bounded, decoded body.
pub async fn read_command<M>(app: &App, req: Request<Incoming>) -> Result<Command<M>, ApiError>
where
    M: prost::Message + Default + serde::de::DeserializeOwned,
{
    let (parts, body) = req.into_parts();
    let key = crate::commands::idempotency_key(&parts.headers)?;
    let input = Format::of_body(&parts.headers)?;
    let bytes = wire::read_body(body, &parts.headers, app.config.max_body_bytes).await?;
    let body = wire::decode(input, &bytes)?;
    Ok(Command {
        key,
        body,
        format: Format::accepted(&parts.headers),
        headers: parts.headers,
    })
}

/// Parses a product id from a path segment.
pub fn product_id(segment: &str) -> Result<u64, ApiError> {
    segment
        .parse::<shared::ids::ProductId>()
        .map(|p| p.0)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}
