//! The API's OpenAPI 3.1 document (`GET /api/openapi.json`), written from one source: the
//! paths, methods, parameters and statuses from the router's own table (`super::route::API`),
//! the body schemas from the `.proto` descriptors (their comments become the descriptions), in
//! the proto3 JSON mapping the server speaks. Built once, on first request.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use bytes::Bytes;
use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet};
use serde_json::{Map, Value, json};

use super::table::{Access, Body, Op, Path};
use crate::http::params::{Kind, Param};
use crate::http::wire::Resp;

/// The document as served.
pub fn document(api: &'static [Path]) -> Bytes {
    static DOC: OnceLock<Bytes> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut bytes = serde_json::to_vec_pretty(&build(api)).expect("a JSON value encodes");
        bytes.push(b'\n');
        Bytes::from(bytes)
    })
    .clone()
}

/// `GET /api/openapi.json`.
pub fn serve(api: &'static [Path]) -> Resp {
    http::Response::builder()
        .status(http::StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CACHE_CONTROL, "no-cache")
        .body(http_body_util::Full::new(document(api)))
        .expect("static headers")
}

/// `GET /api/docs`: Swagger UI (npm's `swagger-ui-dist`, copied into the app's files under
/// `/api-docs/` by `make app`) over this document; "Try it out" calls this shop.
pub fn docs_page() -> Resp {
    http::Response::builder()
        .status(http::StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(http::header::CACHE_CONTROL, "no-cache")
        .body(http_body_util::Full::new(Bytes::from_static(
            DOCS_PAGE.as_bytes(),
        )))
        .expect("static headers")
}

const DOCS_PAGE: &str = r##"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Kafka Shop API</title>
    <link rel="stylesheet" href="/api-docs/swagger-ui.css" />
    <style>body { margin: 0; } .topbar { display: none; }</style>
  </head>
  <body>
    <div id="swagger-ui" data-testid="api-docs">
      <noscript>The interactive docs need JavaScript; the document itself is at <a href="/api/openapi.json">/api/openapi.json</a>.</noscript>
    </div>
    <script src="/api-docs/swagger-ui-bundle.js"></script>
    <script>
      window.ui = SwaggerUIBundle({
        url: "/api/openapi.json",
        dom_id: "#swagger-ui",
        deepLinking: true,
        tryItOutEnabled: true,
        // A command needs a fresh Idempotency-Key: "auto" (the example) becomes a new one.
        requestInterceptor: (req) => {
          if (req.headers["Idempotency-Key"] === "auto") req.headers["Idempotency-Key"] = crypto.randomUUID();
          return req;
        },
      });
    </script>
  </body>
</html>
"##;

/// The media type of protobuf bodies, documented beside JSON for answers.
const PROTOBUF: &str = shared::PROTOBUF;

/// What a status means, for every operation that may answer it.
fn status_text(status: u16) -> &'static str {
    match status {
        101 => "Switching to the websocket protocol.",
        200 => "OK.",
        201 => "Created.",
        202 => "Accepted: the work goes on (or went on) in the background.",
        400 => {
            "Malformed body, query or path; unknown query parameter; missing Idempotency-Key. The message names the problem."
        }
        401 => "No admin token, or a wrong one.",
        403 => {
            "The admin API is switched off (no ADMIN_TOKEN), or the origin may not open the socket."
        }
        404 => "Unknown product, order, import or endpoint.",
        408 => "The request body did not arrive in time.",
        409 => "The command conflicts with the shop's state (an order rejected, a full cart).",
        412 => "If-Match named another version of the product: it changed meanwhile.",
        413 => "The body is too large.",
        415 => "Unsupported Content-Type.",
        422 => {
            "An Idempotency-Key reused for another request, or a file with bad rows (nothing was written)."
        }
        426 => "Not a websocket upgrade.",
        429 => {
            "Too many sockets, or too many new carts, from this address: retry after Retry-After seconds (a new cart), or close a socket."
        }
        503 => {
            "The broker is unreachable, the command was not applied in time, or the shop is replaying its log: retry with the same Idempotency-Key after Retry-After seconds."
        }
        _ => "",
    }
}

/// The proto descriptors of package `shop`, by short name, with their comments.
struct Protos {
    messages: HashMap<String, (DescriptorProto, Comments)>,
    enums: HashMap<String, (EnumDescriptorProto, Comments)>,
}

/// A descriptor's comment and its fields' (or values') comments by index.
#[derive(Default, Clone)]
struct Comments {
    own: String,
    parts: HashMap<i32, String>,
}

fn clean(comment: &str) -> String {
    comment
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Protos {
    fn load() -> Protos {
        let set = FileDescriptorSet::decode(shared::FILE_DESCRIPTOR_SET)
            .expect("the build wrote a valid descriptor set");
        let mut protos = Protos {
            messages: HashMap::new(),
            enums: HashMap::new(),
        };
        for file in set.file {
            // Source locations: [4, i] message i, [4, i, 2, j] its field j; [5, k] enum k,
            // [5, k, 2, v] its value v.
            let mut comments: HashMap<Vec<i32>, String> = HashMap::new();
            for loc in file.source_code_info.iter().flat_map(|s| &s.location) {
                if let Some(c) = &loc.leading_comments {
                    comments.insert(loc.path.clone(), clean(c));
                }
            }
            let of = |path: &[i32]| -> Comments {
                let own = comments.get(path).cloned().unwrap_or_default();
                let parts = comments
                    .iter()
                    .filter(|(p, _)| {
                        p.len() == path.len() + 2 && p.starts_with(path) && p[path.len()] == 2
                    })
                    .map(|(p, c)| (p[path.len() + 1], c.clone()))
                    .collect();
                Comments { own, parts }
            };
            for (i, m) in file.message_type.iter().enumerate() {
                let c = of(&[4, i as i32]);
                protos.messages.insert(m.name().to_owned(), (m.clone(), c));
            }
            for (i, e) in file.enum_type.iter().enumerate() {
                let c = of(&[5, i as i32]);
                protos.enums.insert(e.name().to_owned(), (e.clone(), c));
            }
        }
        protos
    }
}

/// lowerCamelCase, as protoc names a field in JSON when the descriptor has no `json_name`.
fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A 64-bit integer in proto3 JSON: written as a string, read as a string or a number.
fn int64(unsigned: bool) -> Value {
    if unsigned {
        json!({"type": ["string", "integer"], "pattern": "^(0|[1-9][0-9]*)$", "minimum": 0, "maximum": u64::MAX})
    } else {
        json!({"type": ["string", "integer"], "pattern": "^(0|-?[1-9][0-9]*)$", "minimum": i64::MIN, "maximum": i64::MAX})
    }
}

/// The schema of a message's field (without the repetition).
fn field_type(ty: Type, type_name: &str, needed: &mut BTreeSet<String>) -> Value {
    match ty {
        Type::String => json!({"type": "string"}),
        Type::Bool => json!({"type": "boolean"}),
        // Written as numbers; read as numbers or strings (proto3 JSON).
        Type::Int32 | Type::Sint32 | Type::Sfixed32 => {
            json!({"type": ["integer", "string"], "pattern": "^(0|-?[1-9][0-9]*)$", "minimum": i32::MIN, "maximum": i32::MAX})
        }
        Type::Uint32 | Type::Fixed32 => {
            json!({"type": ["integer", "string"], "pattern": "^(0|[1-9][0-9]*)$", "minimum": 0, "maximum": u32::MAX})
        }
        Type::Int64 | Type::Sint64 | Type::Sfixed64 => int64(false),
        Type::Uint64 | Type::Fixed64 => int64(true),
        Type::Double | Type::Float => json!({"type": "number"}),
        Type::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
        Type::Message | Type::Enum | Type::Group => {
            let name = type_name.trim_start_matches(".shop.").to_owned();
            let reference = json!({"$ref": format!("#/components/schemas/{name}")});
            needed.insert(name);
            reference
        }
    }
}

/// The JSON schema of a message: an object of optional fields (proto3 JSON leaves out fields
/// at their default), no others.
fn message_schema(m: &DescriptorProto, c: &Comments, needed: &mut BTreeSet<String>) -> Value {
    let mut properties = Map::new();
    for (i, f) in m.field.iter().enumerate() {
        let json_name = match f.json_name() {
            "" => camel(f.name()),
            n => n.to_owned(),
        };
        let item = field_type(f.r#type(), f.type_name(), needed);
        let mut schema = if f.label() == Label::Repeated {
            json!({"type": "array", "items": item})
        } else {
            item
        };
        if let Some(about) = c.parts.get(&(i as i32)).filter(|a| !a.is_empty()) {
            schema["description"] = Value::String(about.clone());
        }
        properties.insert(json_name, schema);
    }
    let mut schema =
        json!({"type": "object", "additionalProperties": false, "properties": properties});
    if !c.own.is_empty() {
        schema["description"] = Value::String(c.own.clone());
    }
    schema
}

fn enum_schema(e: &EnumDescriptorProto, c: &Comments) -> Value {
    let names: Vec<&str> = e.value.iter().map(|v| v.name()).collect();
    let mut about = c.own.clone();
    for (i, v) in e.value.iter().enumerate() {
        if let Some(text) = c.parts.get(&(i as i32)) {
            about.push_str(&format!(" `{}`: {text}", v.name()));
        }
    }
    let mut schema = json!({"type": "string", "enum": names});
    if !about.trim().is_empty() {
        schema["description"] = Value::String(about.trim().to_owned());
    }
    schema
}

/// The schemas of `roots` and of every message and enum they reach.
fn schemas(protos: &Protos, roots: BTreeSet<String>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut todo: Vec<String> = roots.into_iter().collect();
    while let Some(name) = todo.pop() {
        if out.contains_key(&name) {
            continue;
        }
        let mut needed = BTreeSet::new();
        let schema = if let Some((m, c)) = protos.messages.get(&name) {
            message_schema(m, c, &mut needed)
        } else if let Some((e, c)) = protos.enums.get(&name) {
            enum_schema(e, c)
        } else {
            panic!("the route table names {name}, which proto/ does not define");
        };
        out.insert(name, schema);
        todo.extend(needed);
    }
    // Sorted, so the document reads the same every time.
    let sorted: BTreeMap<String, Value> = out.into_iter().collect();
    sorted.into_iter().collect()
}

fn param_schema(kind: Kind) -> Value {
    match kind {
        Kind::Integer(min, max) => json!({"type": "integer", "minimum": min, "maximum": max}),
        Kind::Text(u32::MAX) => json!({"type": "string"}),
        Kind::Text(max) => json!({"type": "string", "maxLength": max}),
        Kind::OneOf(words) => json!({"type": "string", "enum": words}),
        Kind::Bool => json!({"type": "boolean"}),
    }
}

fn parameter(p: &Param, place: &str) -> Value {
    json!({
        "name": p.name,
        "in": place,
        "required": place == "path",
        "description": p.about,
        "schema": param_schema(p.kind),
    })
}

fn content(body: Body, answer: bool) -> Option<Value> {
    Some(match body {
        Body::Message(name) => {
            let reference = json!({"$ref": format!("#/components/schemas/{name}")});
            if answer {
                json!({
                    "application/json": {"schema": reference},
                    PROTOBUF: {"schema": {"type": "string", "contentMediaType": PROTOBUF}},
                })
            } else {
                json!({"application/json": {"schema": reference}})
            }
        }
        Body::Csv => json!({"text/csv": {"schema": {"type": "string"}}}),
        Body::Html => json!({"text/html": {"schema": {"type": "string"}}}),
        Body::Json => json!({"application/json": {"schema": {"type": "object"}}}),
        Body::Websocket | Body::None => return None,
    })
}

fn tag(path: &str) -> &'static str {
    if path.starts_with("/api/admin/") {
        "admin"
    } else if path.starts_with("/api/cart") || path.starts_with("/api/orders") {
        "cart and orders"
    } else if path == "/api/ws" {
        "live"
    } else if path == "/api/openapi.json" || path == "/api/docs" {
        "docs"
    } else {
        "catalog"
    }
}

fn operation(spec: &Path, op: &Op) -> Value {
    let mut parameters: Vec<Value> = op.query.iter().map(|p| parameter(p, "query")).collect();
    if op.command {
        parameters.push(json!({
            "name": "Idempotency-Key",
            "in": "header",
            "required": true,
            "description": "Any unique string (a UUID): the same key again gets the first answer and has no second effect; the same key with another request is refused with 422. In the interactive docs, `auto` is replaced by a new UUID for every request.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[!-~]+$"},
            "example": "auto",
        }));
    }
    if spec.path.starts_with("/api/admin/products/{id}") && op.method != "GET" {
        parameters.push(json!({
            "name": "If-Match",
            "in": "header",
            "required": false,
            "description": "The product's version as read, quoted as its ETag (`\"0123456789abcdef\"`), a comma-separated list of such, or `*` (the product exists). Compared strongly (RFC 9110): a weak tag `W/\"…\"` never matches. The change is refused with 412 if the product's version is none of those named; anything else is 400.",
            "schema": {"type": "string", "maxLength": 200},
        }));
    }
    if op.access == Access::Cart {
        parameters.push(json!({
            "name": "cart",
            "in": "cookie",
            "required": false,
            "description": "The shopper's cart: 32 lower-case hex digits the server set. Without it (or with a malformed one) the server starts a new cart.",
            "schema": {"type": "string"},
        }));
    }
    let mut responses = Map::new();
    let (status, answer) = op.answer;
    let mut ok = json!({"description": status_text(status)});
    if let Some(c) = content(answer, true) {
        ok["content"] = c;
    }
    if op.access == Access::Cart && answer != Body::Websocket {
        ok["headers"] = json!({"Set-Cookie": {"description": "`cart=<value>; HttpOnly; SameSite=Lax; Path=/` when the request named no cart with a cookie this server issued (a cookie the server did not issue names no cart), or when a cart of an older cookie moves to a new one.", "schema": {"type": "string"}}});
    }
    if spec.path == "/api/admin/products/{id}" && op.method == "GET" {
        ok["headers"] = json!({"ETag": {"description": "The product's version (quoted).", "schema": {"type": "string"}}});
    }
    responses.insert(status.to_string(), ok);
    for &status in op.errors {
        responses.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/Error{status}")}),
        );
    }
    let mut o = json!({
        "operationId": operation_id(op.method, spec.path),
        "summary": op.summary,
        "tags": [tag(spec.path)],
        "parameters": parameters,
        "responses": responses,
    });
    if !op.about.is_empty() {
        o["description"] = Value::String(op.about.to_owned());
    }
    if let Some(c) = content(op.body, false) {
        o["requestBody"] = json!({"required": true, "content": c});
    }
    if op.access == Access::Admin {
        o["security"] = json!([{"adminToken": []}]);
    }
    o
}

/// `GET /api/products/{id}` → `get_products_id`.
fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<String> = path
        .trim_start_matches("/api/")
        .split(['/', '.'])
        .map(|w| w.trim_matches(['{', '}']).replace('-', "_"))
        .collect();
    format!("{}_{}", method.to_ascii_lowercase(), words.join("_"))
}

/// The whole document.
pub fn build(api: &[Path]) -> Value {
    let protos = Protos::load();
    let mut roots: BTreeSet<String> = BTreeSet::from(["Error".to_owned()]);
    let mut paths = Map::new();
    let mut statuses: BTreeSet<u16> = BTreeSet::new();
    for spec in api {
        let mut item = Map::new();
        if !spec.params.is_empty() {
            item.insert(
                "parameters".into(),
                Value::Array(spec.params.iter().map(|p| parameter(p, "path")).collect()),
            );
        }
        for op in spec.ops {
            for body in [op.body, op.answer.1] {
                if let Body::Message(name) = body {
                    roots.insert(name.to_owned());
                }
            }
            statuses.extend(op.errors);
            item.insert(op.method.to_ascii_lowercase(), operation(spec, op));
        }
        paths.insert(spec.path.to_owned(), Value::Object(item));
    }
    let mut responses = Map::new();
    for status in statuses {
        let mut r = json!({
            "description": status_text(status),
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}},
                PROTOBUF: {"schema": {"type": "string", "contentMediaType": PROTOBUF}},
            },
        });
        match status {
            503 | 429 => {
                r["headers"] = json!({"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}})
            }
            401 => {
                r["headers"] = json!({"WWW-Authenticate": {"description": "`Bearer realm=\"shop-admin\"`.", "schema": {"type": "string"}}})
            }
            _ => {}
        }
        responses.insert(format!("Error{status}"), r);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Kafka Shop API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "catalog", "description": "Products and categories."},
            {"name": "cart and orders", "description": "The shopper's cart (named by the `cart` cookie) and its orders."},
            {"name": "admin", "description": "The operator's API: the bearer token of ADMIN_TOKEN."},
            {"name": "live", "description": "Websockets."},
            {"name": "docs", "description": "This document and its viewer."},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas(&protos, roots),
            "responses": responses,
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN (`make run`: dev-admin-token)."},
            },
        },
    })
}

const DESCRIPTION: &str = "The shop's HTTP API. Every fact is an event in Kafka; reads come from \
the in-memory models, commands are written to Kafka and answered once applied, so a client \
always reads its own writes.\n\n\
Bodies are protobuf (`application/x-protobuf`, messages in `proto/`) or the same messages as \
proto3 JSON (`application/json`), chosen by `Content-Type` and `Accept`; JSON is the default. \
64-bit integers are strings in JSON; fields at their default value are left out. Every error is \
an `Error` body `{\"code\", \"message\"}`.\n\n\
Commands (`PUT`, `POST`, `DELETE`) need an `Idempotency-Key`: retry a failed command with the \
same key. The cart is named by the `cart` cookie the server sets (a cookie it did not issue \
names no cart); new carts are limited per client address (429 with `Retry-After`). The admin \
API needs \
`Authorization: Bearer <ADMIN_TOKEN>`.";

#[cfg(test)]
mod tests;
