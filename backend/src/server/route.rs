//! The API's routes, as one table ([`API`]): every path template with its operations, what each
//! takes and answers, who may call it and whether it is a command. The router matches requests
//! against it, and the OpenAPI document ([`super::openapi`]) is written from it, so the two
//! cannot disagree. Each operation's row carries its handler and shows what of the shop's state
//! that handler reads, so an endpoint is one row here and one function in its context. A path
//! and method become a [`Routed`] operation, or a 404 / 405 that names what is allowed.
//!
//! One file past 600 lines on purpose: the table is the API's one list of operations, read top to
//! bottom as the OpenAPI document is; split, an endpoint would again live in several places.

use http::Method;

use super::openapi;
use super::table::{Access, Body, Op, Path, Reads};
use crate::admin::products::ADMIN_PRODUCTS_QUERY;
use crate::catalog::http::LIST_PRODUCTS_QUERY;
use crate::eventlog::http::EVENTS_QUERY;
use crate::http::params::{Kind, PAGE_QUERY, PRODUCT_ID, Param};
use crate::http::wire::ApiError;
use crate::{admin, catalog, checkout, eventlog, live};

/// Statuses every operation under `/api/` may answer besides its own: a query the endpoint
/// does not take, and a shop that is still replaying its log or lost it.
const READ: &[u16] = &[400, 503];
const ADMIN_READ: &[u16] = &[400, 401, 403, 503];
const COMMAND: &[u16] = &[400, 404, 408, 409, 413, 415, 422, 503];
/// A command that may create a cart: new carts are limited per client address.
const CART_COMMAND: &[u16] = &[400, 404, 408, 409, 413, 415, 422, 429, 503];
const ADMIN_COMMAND: &[u16] = &[400, 401, 403, 404, 408, 412, 413, 415, 422, 503];

/// Every path of the API and its operations.
pub static API: &[Path] = &[
    Path {
        path: "/api/products",
        params: &[],
        allow: "GET",
        ops: &[Op {
            method: "GET",
            handler: |s, req, _| {
                Box::pin(async move { catalog::http::list(&s.catalog_api(), &req).await })
            },
            reads: Reads::Catalog,
            needs_ready: true,
            summary: "List, filter, sort and search products",
            about: "A page of the enabled products. Without search parameters a page is a range of a sorted listing; with `q`, a price range or `in_stock` it is a search, and `search` holds its facets.",
            query: LIST_PRODUCTS_QUERY,
            body: Body::None,
            answer: (200, Body::Message("ProductPage")),
            errors: READ,
            access: Access::Anyone,
            command: false,
        }],
    },
    Path {
        path: "/api/products/{id}",
        params: &[PRODUCT_ID],
        allow: "GET",
        ops: &[Op {
            method: "GET",
            handler: |s, req, p| {
                Box::pin(async move { catalog::http::get(&s.catalog_api(), &req, p[0]) })
            },
            reads: Reads::Catalog,
            needs_ready: true,
            summary: "One product with its availability",
            about: "404 if unknown or disabled.",
            query: &[],
            body: Body::None,
            answer: (200, Body::Message("ProductView")),
            errors: &[400, 404, 503],
            access: Access::Anyone,
            command: false,
        }],
    },
    Path {
        path: "/api/categories",
        params: &[],
        allow: "GET",
        ops: &[Op {
            method: "GET",
            handler: |s, req, _| {
                Box::pin(async move { catalog::http::categories(&s.catalog_api(), &req) })
            },
            reads: Reads::Catalog,
            needs_ready: true,
            summary: "Categories with product counts",
            about: "Every category with at least one enabled product, by slug.",
            query: &[],
            body: Body::None,
            answer: (200, Body::Message("CategoryList")),
            errors: READ,
            access: Access::Anyone,
            command: false,
        }],
    },
    Path {
        path: "/api/cart",
        params: &[],
        allow: "GET",
        ops: &[Op {
            method: "GET",
            handler: |s, req, _| {
                Box::pin(async move { checkout::http::cart(&s.checkout_api(), &req).await })
            },
            reads: Reads::Checkout,
            needs_ready: true,
            summary: "The shopper's cart",
            about: "The cart the `cart` cookie names; the first call sets the cookie. An unknown cart is an empty one at version 0.",
            query: &[],
            body: Body::None,
            answer: (200, Body::Message("CartView")),
            errors: READ,
            access: Access::Cart,
            command: false,
        }],
    },
    Path {
        path: "/api/cart/lines/{product_id}",
        params: &[Param {
            name: "product_id",
            ..PRODUCT_ID
        }],
        allow: "PUT",
        ops: &[Op {
            method: "PUT",
            handler: |s, req, p| {
                Box::pin(
                    async move { checkout::http::set_line(&s.checkout_api(), req, p[0]).await },
                )
            },
            reads: Reads::Nothing,
            needs_ready: true,
            summary: "Set a cart line's quantity",
            about: "0 removes the line (at most MAX_LINE_QUANTITY, 99; at most CART_MAX_LINES different products, 409 `cart_full` beyond). Answers with the whole cart. The first line of a new cart counts against the client address's new carts (CART_CREATE_PER_MINUTE, CART_CREATE_BURST): 429 `too_many_carts` with `Retry-After` beyond.",
            query: &[],
            body: Body::Message("SetCartLine"),
            answer: (200, Body::Message("CartView")),
            errors: CART_COMMAND,
            access: Access::Cart,
            command: true,
        }],
    },
    Path {
        path: "/api/orders",
        params: &[],
        allow: "GET, POST",
        ops: &[
            Op {
                method: "GET",
                handler: |s, req, _| {
                    Box::pin(async move { checkout::http::orders(&s.checkout_api(), &req).await })
                },
                reads: Reads::Checkout,
                needs_ready: true,
                summary: "This cart's orders, newest first",
                about: "",
                query: &[],
                body: Body::None,
                answer: (200, Body::Message("OrderList")),
                errors: READ,
                access: Access::Cart,
                command: false,
            },
            Op {
                method: "POST",
                handler: |s, req, _| {
                    Box::pin(
                        async move { checkout::http::place_order(&s.checkout_api(), req).await },
                    )
                },
                reads: Reads::Nothing,
                needs_ready: true,
                summary: "Order the cart as shown",
                about: "Names the cart version and its lines as `GET /api/cart` returned them. Rejected with 409 (`out_of_stock`, `price_changed`, `title_changed`, `cart_changed`, `cart_empty`, `product_unavailable`; `rejection` says why) when the cart or the catalog differs: nothing is charged.",
                query: &[],
                body: Body::Message("PlaceOrder"),
                answer: (201, Body::Message("OrderView")),
                errors: COMMAND,
                access: Access::Cart,
                command: true,
            },
        ],
    },
    Path {
        path: "/api/orders/{id}",
        params: &[Param {
            name: "id",
            about: "An order id: a positive integer.",
            kind: Kind::Integer(1, u64::MAX),
        }],
        allow: "GET",
        ops: &[Op {
            method: "GET",
            handler: |s, req, p| {
                Box::pin(async move { checkout::http::order(&s.checkout_api(), &req, p[0]).await })
            },
            reads: Reads::Checkout,
            needs_ready: true,
            summary: "One of this cart's orders",
            about: "404 for an order of another cart.",
            query: &[],
            body: Body::None,
            answer: (200, Body::Message("OrderView")),
            errors: &[400, 404, 503],
            access: Access::Cart,
            command: false,
        }],
    },
    Path {
        path: "/api/ws",
        params: &[],
        allow: "GET",
        ops: &[Op {
            method: "GET",
            handler: |s, req, _| Box::pin(async move { live::upgrade(&s.live_api(), req) }),
            reads: Reads::Nothing,
            needs_ready: true,
            summary: "Live updates (websocket)",
            about: "Binary websocket: the client sends `shop.LiveRequest`s naming the products it shows, the server pushes `shop.LiveFrame`s (proto/live.proto). 426 without an upgrade.",
            query: &[],
            body: Body::None,
            answer: (101, Body::Websocket),
            errors: &[400, 403, 426, 429, 503],
            access: Access::Cart,
            command: false,
        }],
    },
    Path {
        path: "/api/admin/products",
        params: &[],
        allow: "GET",
        ops: &[Op {
            method: "GET",
            handler: |s, req, _| {
                Box::pin(async move { admin::products::list(&s.admin_api(), &req).await })
            },
            reads: Reads::Catalog,
            needs_ready: true,
            summary: "The whole catalog, with stock and units sold",
            about: "The product list's queries, plus `include_disabled`. Each item carries its stock, units sold and version.",
            query: ADMIN_PRODUCTS_QUERY,
            body: Body::None,
            answer: (200, Body::Message("AdminProductPage")),
            errors: ADMIN_READ,
            access: Access::Admin,
            command: false,
        }],
    },
    Path {
        path: "/api/admin/products/{id}",
        params: &[PRODUCT_ID],
        allow: "GET, PUT, DELETE",
        ops: &[
            Op {
                method: "GET",
                handler: |s, req, p| {
                    Box::pin(async move { admin::products::get(&s.admin_api(), &req, p[0]) })
                },
                reads: Reads::Catalog,
                needs_ready: true,
                summary: "One product, disabled or not",
                about: "Its `version` is also the `ETag`; send it as `If-Match` with a change.",
                query: &[],
                body: Body::None,
                answer: (200, Body::Message("AdminProductView")),
                errors: &[400, 401, 403, 404, 503],
                access: Access::Admin,
                command: false,
            },
            Op {
                method: "PUT",
                handler: |s, req, p| {
                    Box::pin(
                        async move { catalog::http::upsert(&s.catalog_api(), req, p[0]).await },
                    )
                },
                reads: Reads::Nothing,
                needs_ready: true,
                summary: "Create or replace a product",
                about: "Every field is replaced; a disabled product is enabled again. No text field may hold a control character, a bidirectional embedding, override or isolate (U+202A–U+202E, U+2066–U+2069) or U+2028/U+2029; description and long text may hold line feeds and tabs (CR LF is stored as LF). Image URLs are absolute `https://` or `http://` with a host. A refusal is 400 and its message starts with the field's name. With `If-Match` (RFC 9110: `*` or a list of entity tags, compared strongly, so `W/` never matches), refused with 412 `changed_meanwhile` if the product's version is none of those named; a malformed `If-Match` is 400.",
                query: &[],
                body: Body::Message("UpsertProduct"),
                answer: (200, Body::Message("ProductView")),
                errors: ADMIN_COMMAND,
                access: Access::Admin,
                command: true,
            },
            Op {
                method: "DELETE",
                handler: |s, req, p| {
                    Box::pin(
                        async move { catalog::http::disable(&s.catalog_api(), req, p[0]).await },
                    )
                },
                reads: Reads::Nothing,
                needs_ready: true,
                summary: "Disable a product",
                about: "Hidden from shoppers and no longer for sale; its orders stay. An upsert enables it again.",
                query: &[],
                body: Body::None,
                answer: (200, Body::Message("ProductView")),
                errors: ADMIN_COMMAND,
                access: Access::Admin,
                command: true,
            },
        ],
    },
    Path {
        path: "/api/admin/products/{id}/price",
        params: &[PRODUCT_ID],
        allow: "PUT",
        ops: &[Op {
            method: "PUT",
            handler: |s, req, p| {
                Box::pin(async move { catalog::http::set_price(&s.catalog_api(), req, p[0]).await })
            },
            reads: Reads::Nothing,
            needs_ready: true,
            summary: "Change a product's price",
            about: "With `If-Match` (`*` or a list of entity tags, compared strongly), refused with 412 if the product changed meanwhile; a malformed `If-Match` is 400.",
            query: &[],
            body: Body::Message("SetPrice"),
            answer: (200, Body::Message("ProductView")),
            errors: ADMIN_COMMAND,
            access: Access::Admin,
            command: true,
        }],
    },
    Path {
        path: "/api/admin/stock",
        params: &[],
        allow: "POST",
        ops: &[Op {
            method: "POST",
            handler: |s, req, _| {
                Box::pin(async move { checkout::http::deliver_stock(&s.checkout_api(), req).await })
            },
            reads: Reads::Nothing,
            needs_ready: true,
            summary: "Record a stock delivery",
            about: "Adds `quantity` (1 to MAX_DELIVERY_QUANTITY) to the product's stock.",
            query: &[],
            body: Body::Message("StockDelivery"),
            answer: (200, Body::Message("StockLevelView")),
            errors: ADMIN_COMMAND,
            access: Access::Admin,
            command: true,
        }],
    },
    Path {
        path: "/api/admin/orders",
        params: &[],
        allow: "GET",
        ops: &[Op {
            method: "GET",
            handler: |s, req, _| Box::pin(async move { admin::orders::list(&s.admin_api(), &req) }),
            reads: Reads::Checkout,
            needs_ready: true,
            summary: "The newest orders across all carts",
            about: "Newest first, with lines and totals; carts named by a short hash.",
            query: PAGE_QUERY,
            body: Body::None,
            answer: (200, Body::Message("AdminOrderPage")),
            errors: ADMIN_READ,
            access: Access::Admin,
            command: false,
        }],
    },
    Path {
        path: "/api/admin/imports/{kind}",
        params: &[IMPORT_KIND],
        allow: "POST",
        ops: &[Op {
            method: "POST",
            handler: |s, req, p| {
                Box::pin(async move { admin::uploads::start(&s.uploads_api(), req, p[0]).await })
            },
            reads: Reads::Nothing,
            needs_ready: true,
            summary: "Import a CSV file of products or stock",
            about: "The file of `shop import` (products: id,title,description,long_text,category,price_minor,currency,image_urls; stock: product_id,quantity), validated whole first: with one bad row nothing is written and 422 `invalid_rows` lists the first 100 bad rows with their line (a bad value quoted short) and counts them all in its message. Otherwise 202: `applied` rows (the ones that change something) are being written, `alreadyImported` rows are in effect already and not written; follow `GET /api/admin/imports/{kind}/{id}`. The same Idempotency-Key again answers with the same import and writes nothing twice. One upload at a time per replica: while one is read, checked or written, another gets 503 `import_in_progress` with `Retry-After`.",
            query: &[],
            body: Body::Csv,
            answer: (202, Body::Message("ImportStatus")),
            errors: &[400, 401, 403, 404, 408, 413, 415, 422, 503],
            access: Access::Admin,
            command: true,
        }],
    },
    Path {
        path: "/api/admin/imports/{kind}/{id}",
        params: &[
            IMPORT_KIND,
            Param {
                name: "id",
                about: "The import's id, as its status names it.",
                kind: Kind::Text(64),
            },
        ],
        allow: "GET",
        ops: &[Op {
            method: "GET",
            handler: |s, req, p| {
                Box::pin(async move { admin::uploads::status(&s.uploads_api(), &req, p[0], p[1]) })
            },
            reads: Reads::Nothing,
            needs_ready: true,
            summary: "An import's progress",
            about: "Rows written so far, and whether the context has applied them all. Imports are remembered by the replica that runs them, the newest 100.",
            query: &[],
            body: Body::None,
            answer: (200, Body::Message("ImportStatus")),
            errors: &[400, 401, 403, 404, 503],
            access: Access::Admin,
            command: false,
        }],
    },
    Path {
        path: "/api/admin/events",
        params: &[],
        allow: "GET",
        ops: &[Op {
            method: "GET",
            handler: |s, req, _| {
                Box::pin(async move { eventlog::http::read(&s.events_api(), &req) })
            },
            reads: Reads::Nothing,
            needs_ready: true,
            summary: "The newest events of the contexts' logs, decoded",
            about: "The newest entries of each context's ring (EVENT_LOG_SIZE each) matching the filters, newest first, and each context's figures as `/metrics` has them.",
            query: EVENTS_QUERY,
            body: Body::None,
            answer: (200, Body::Message("EventLog")),
            errors: ADMIN_READ,
            access: Access::Admin,
            command: false,
        }],
    },
    Path {
        path: "/api/admin/events/ws",
        params: &[],
        allow: "GET",
        ops: &[Op {
            method: "GET",
            handler: |s, req, _| {
                Box::pin(async move { eventlog::socket::upgrade(&s.events_api(), req) })
            },
            reads: Reads::Nothing,
            needs_ready: true,
            summary: "The event log, live (websocket)",
            about: "Binary websocket of `shop.EventLogFrame`s: a snapshot of the rings, every applied event as it is published, and the figures every second. The token goes in `Authorization`, or (from a browser) as the subprotocol `bearer.<base64url of the token>` beside `shop-admin`. 426 without an upgrade.",
            query: &[],
            body: Body::None,
            answer: (101, Body::Websocket),
            errors: &[400, 401, 403, 426, 429, 503],
            access: Access::Admin,
            command: false,
        }],
    },
    Path {
        path: "/api/openapi.json",
        params: &[],
        allow: "GET",
        ops: &[Op {
            method: "GET",
            handler: |_, _, _| Box::pin(async move { Ok(openapi::serve(API)) }),
            reads: Reads::Nothing,
            needs_ready: false,
            summary: "This document",
            about: "OpenAPI 3.1, written from the router's own table and the `.proto` files.",
            query: &[],
            body: Body::None,
            answer: (200, Body::Json),
            errors: &[400],
            access: Access::Anyone,
            command: false,
        }],
    },
    Path {
        path: "/api/docs",
        params: &[],
        allow: "GET",
        ops: &[Op {
            method: "GET",
            handler: |_, _, _| Box::pin(async move { Ok(openapi::docs_page()) }),
            reads: Reads::Nothing,
            needs_ready: false,
            summary: "Interactive API docs",
            about: "Swagger UI over this document, served by the shop itself; \"Try it out\" calls the running shop.",
            query: &[],
            body: Body::None,
            answer: (200, Body::Html),
            errors: &[400],
            access: Access::Anyone,
            command: false,
        }],
    },
];

const IMPORT_KIND: Param = Param {
    name: "kind",
    about: "What the file holds.",
    kind: Kind::OneOf(&["products", "stock"]),
};

/// A request's operation: its path template, the operation and the path's parameters.
pub struct Routed<'a> {
    pub path: &'static Path,
    pub op: &'static Op,
    pub params: Vec<&'a str>,
}

impl Routed<'_> {
    /// A low-cardinality name for logs and metrics: the path template.
    pub fn name(&self) -> &'static str {
        self.path.path
    }
}

/// The path's parameters if `segments` fit its template.
fn fit<'a>(template: &str, segments: &[&'a str]) -> Option<Vec<&'a str>> {
    let parts = template.trim_start_matches("/api/").split('/');
    let mut params = Vec::new();
    let mut n = 0;
    for (i, part) in parts.enumerate() {
        let segment = *segments.get(i)?;
        if part.starts_with('{') {
            params.push(segment);
        } else if part != segment {
            return None;
        }
        n = i + 1;
    }
    (n == segments.len()).then_some(params)
}

/// Matches a path below `/api/` (without the prefix) and a method.
pub fn route<'a>(method: &Method, path: &'a str) -> Result<Routed<'a>, ApiError> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    // A literal segment wins over a parameter (`/api/admin/events/ws` is no event id).
    for spec in API {
        let Some(params) = fit(spec.path, &segments) else {
            continue;
        };
        let wanted = if method == Method::HEAD {
            "GET"
        } else {
            method.as_str()
        };
        return match spec.ops.iter().find(|op| op.method == wanted) {
            Some(op) => Ok(Routed {
                path: spec,
                op,
                params,
            }),
            None => Err(ApiError::method_not_allowed(spec.allow)),
        };
    }
    Err(ApiError::not_found(format!(
        "no such endpoint: /api/{path}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    /// The template, method and path parameters a request routes to.
    fn routed(
        method: Method,
        path: &str,
    ) -> Result<(&'static str, &'static str, Vec<&str>), ApiError> {
        route(&method, path).map(|r| (r.name(), r.op.method, r.params))
    }

    #[test]
    fn routes_and_methods() {
        assert_eq!(
            routed(Method::GET, "products"),
            Ok(("/api/products", "GET", vec![]))
        );
        assert_eq!(
            routed(Method::HEAD, "products/7"),
            Ok(("/api/products/{id}", "GET", vec!["7"]))
        );
        assert_eq!(
            routed(Method::PUT, "cart/lines/3"),
            Ok(("/api/cart/lines/{product_id}", "PUT", vec!["3"]))
        );
        assert_eq!(
            routed(Method::POST, "orders"),
            Ok(("/api/orders", "POST", vec![]))
        );
        assert_eq!(routed(Method::GET, "ws"), Ok(("/api/ws", "GET", vec![])));
        assert_eq!(
            routed(Method::GET, "orders/"),
            Ok(("/api/orders", "GET", vec![]))
        );
        assert_eq!(
            routed(Method::DELETE, "admin/products/9"),
            Ok(("/api/admin/products/{id}", "DELETE", vec!["9"]))
        );
        assert_eq!(
            routed(Method::GET, "admin/imports/stock/abc"),
            Ok((
                "/api/admin/imports/{kind}/{id}",
                "GET",
                vec!["stock", "abc"]
            ))
        );
        assert_eq!(
            routed(Method::GET, "admin/events/ws"),
            Ok(("/api/admin/events/ws", "GET", vec![]))
        );
        let e = route(&Method::POST, "products").err().unwrap();
        assert_eq!(
            (e.status, e.allow),
            (StatusCode::METHOD_NOT_ALLOWED, Some("GET"))
        );
        let e = route(&Method::DELETE, "orders").err().unwrap();
        assert_eq!(e.allow, Some("GET, POST"));
        assert_eq!(
            route(&Method::GET, "nope").err().unwrap().status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            route(&Method::GET, "products/7/extra")
                .err()
                .unwrap()
                .status,
            StatusCode::NOT_FOUND
        );
    }

    /// A concrete path of a template, parameters filled with the first value they allow.
    pub(crate) fn sample(spec: &Path) -> String {
        let mut params = spec.params.iter();
        spec.path
            .trim_start_matches("/api/")
            .split('/')
            .map(|part| {
                if part.starts_with('{') {
                    match params.next().expect("a parameter per placeholder").kind {
                        Kind::Integer(lo, _) => lo.max(1).to_string(),
                        Kind::OneOf(words) => words[0].to_owned(),
                        Kind::Text(_) | Kind::Bool => "x".to_owned(),
                    }
                } else {
                    part.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    #[test]
    fn the_table_routes_every_operation_to_its_own_row() {
        let mut operations = 0;
        for spec in API {
            let placeholders = spec.path.matches('{').count();
            assert_eq!(placeholders, spec.params.len(), "{}", spec.path);
            let methods: Vec<&str> = spec.ops.iter().map(|op| op.method).collect();
            assert_eq!(spec.allow, methods.join(", "), "{}", spec.path);
            let path = sample(spec);
            for op in spec.ops {
                let method = Method::from_bytes(op.method.as_bytes()).unwrap();
                let r = route(&method, &path).unwrap_or_else(|e| panic!("{path}: {e:?}"));
                assert_eq!(r.name(), spec.path, "{} {path}", op.method);
                assert!(
                    std::ptr::eq(r.op, op),
                    "{} {path} routes to another row",
                    op.method
                );
                assert_eq!(r.params.len(), spec.params.len(), "{} {path}", op.method);
                assert_eq!(
                    op.command,
                    op.method != "GET",
                    "{} {}",
                    op.method,
                    spec.path
                );
                // Only the API's own description is served before the models are ready.
                assert_eq!(
                    op.needs_ready,
                    !matches!(spec.path, "/api/openapi.json" | "/api/docs"),
                    "{}",
                    spec.path
                );
                // A read counted as one reads a model; commands and sockets count elsewhere.
                if op.reads != Reads::Nothing {
                    assert!(
                        op.method == "GET" && op.answer.1 != Body::Websocket,
                        "{}",
                        spec.path
                    );
                }
                operations += 1;
            }
        }
        assert_eq!(operations, 22, "every operation of the API, one row each");
        let names: Vec<&str> = LIST_PRODUCTS_QUERY.iter().map(|p| p.name).collect();
        assert_eq!(names, crate::catalog::http::LIST_PRODUCTS_PARAMS);
    }
}
