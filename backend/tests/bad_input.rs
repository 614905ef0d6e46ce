//! Bad input at every endpoint, against the real server in this process on librdkafka's mock
//! cluster: each case gets its 4xx with an error body whose message says what is wrong, neither
//! topic grows by a single event, and the server goes on answering good requests. One table row
//! per case, so covering a new endpoint is one line per kind of bad input. (No request message
//! has an enum field; the enumerated inputs are the list's `sort` and `order` parameters.)

mod support;

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Method, StatusCode};
use shared::proto::Error as ErrorBody;
use support::{ADMIN_TOKEN, InProcess, Shopper, config, mock_cluster};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

use backend::engine::kafka::{self, BrokerStatus, ShopConsumer};

const KEY: (&str, &str) = ("idempotency-key", "bad-input-1");
const JSON: (&str, &str) = ("content-type", "application/json");
const PROTO: (&str, &str) = ("content-type", "application/x-protobuf");
const ADMIN: (&str, &str) = ("authorization", "Bearer test-admin-token");
/// A cart cookie the server never issued (not even of a form it ever issued).
const BAD_CART: (&str, &str) = ("cookie", "cart=../../etc/passwd");

const J: &[(&str, &str)] = &[JSON, KEY];
const P: &[(&str, &str)] = &[PROTO, KEY];
const AJ: &[(&str, &str)] = &[ADMIN, JSON, KEY];
const AP: &[(&str, &str)] = &[ADMIN, PROTO, KEY];
const AK: &[(&str, &str)] = &[ADMIN, KEY];
const NONE: &[(&str, &str)] = &[];

/// One request and what its answer must be: the status, and words the message must contain.
struct Case {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Bytes,
    status: StatusCode,
    says: String,
}

fn c(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Vec<u8>>,
    status: u16,
    says: &str,
) -> Case {
    Case {
        method: Method::from_bytes(method.as_bytes()).unwrap(),
        path: path.to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: Bytes::from(body.into()),
        status: StatusCode::from_u16(status).unwrap(),
        says: says.to_owned(),
    }
}

impl Case {
    fn with(mut self, header: (&str, &str)) -> Case {
        self.headers
            .push((header.0.to_owned(), header.1.to_owned()));
        self
    }
}

const PRODUCT: &str =
    r#"{"title": "Lamp", "category": "Home", "price": {"minor": 100, "currency": "EUR"}}"#;

/// An upsert as protobuf, with this title.
fn upsert_proto(title: &str) -> Vec<u8> {
    use prost::Message as _;
    shared::proto::UpsertProduct {
        title: title.into(),
        category: "Home".into(),
        price: Some(shared::proto::Money {
            minor: 100,
            currency: "EUR".into(),
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn product_with(field: &str) -> String {
    let mut p: serde_json::Value = serde_json::from_str(PRODUCT).unwrap();
    let extra: serde_json::Value = serde_json::from_str(field).unwrap();
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p.to_string()
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let long = |n| "x".repeat(n);
    vec![
        // GET /api/products: query parameters.
        c("GET", "/api/products?page=0", NONE, "", 400, "page must be 1 or more"),
        c("GET", "/api/products?page=abc", NONE, "", 400, "page must be a positive integer, got \"abc\""),
        c("GET", "/api/products?page=-1", NONE, "", 400, "page must be a positive integer"),
        c("GET", "/api/products?page=99999999999999999999", NONE, "", 400, "page must be a positive integer"),
        c("GET", "/api/products?page_size=0", NONE, "", 400, "page_size must be between 1 and 100"),
        c("GET", "/api/products?page_size=101", NONE, "", 400, "page_size must be between 1 and 100"),
        c("GET", "/api/products?sort=colour", NONE, "", 400, "sort must be relevance, name, price or id"),
        c("GET", "/api/products?q=lamp&min_price=cheap", NONE, "", 400, "min_price must be a price in minor units (cents)"),
        c("GET", "/api/products?max_price=-1", NONE, "", 400, "max_price must be a price in minor units (cents)"),
        c("GET", "/api/products?min_price=5000&max_price=100", NONE, "", 400, "min_price (5000) is above max_price (100)"),
        c("GET", "/api/products?in_stock=yes", NONE, "", 400, "in_stock must be true or false, got \"yes\""),
        c("GET", "/api/products?q=lamp&prefix=de", NONE, "", 400, "prefix cannot be combined with q"),
        c("GET", "/api/products?order=up", NONE, "", 400, "order must be asc or desc"),
        c("GET", "/api/products?pgae=2", NONE, "", 400, "unknown query parameter \"pgae\""),
        c("GET", &format!("/api/products?prefix={}", long(101)), NONE, "", 400, "prefix is limited to 100 characters"),
        c("GET", &format!("/api/products?q={}", long(201)), NONE, "", 400, "q is limited to 200 characters"),
        c("POST", "/api/products", J, "{}", 405, "allowed methods: GET"),
        c("PATCH", "/api/products", NONE, "", 405, "allowed methods: GET"),
        // GET /api/products/{id}
        c("GET", "/api/products/0", NONE, "", 400, "product id must be a positive integer, got \"0\""),
        c("GET", "/api/products/-1", NONE, "", 400, "product id must be a positive integer"),
        c("GET", "/api/products/+1", NONE, "", 400, "product id must be a positive integer"),
        c("GET", "/api/products/18446744073709551616", NONE, "", 400, "product id must be a positive integer"),
        c("GET", "/api/products/abc", NONE, "", 400, "product id must be a positive integer, got \"abc\""),
        c("GET", "/api/products/999", NONE, "", 404, "no product 999"),
        c("GET", "/api/products/1?fields=all", NONE, "", 400, "unknown query parameter \"fields\": this endpoint takes none"),
        c("GET", "/api/products/1/reviews", NONE, "", 404, "no such endpoint: /api/products/1/reviews"),
        c("DELETE", "/api/products/1", KEY_ONLY, "", 405, "allowed methods: GET"),
        // GET /api/categories
        c("GET", "/api/categories?page=2", NONE, "", 400, "unknown query parameter \"page\""),
        c("PUT", "/api/categories", J, "{}", 405, "allowed methods: GET"),
        // GET /api/cart
        c("GET", "/api/cart?x=1", NONE, "", 400, "unknown query parameter \"x\""),
        c("POST", "/api/cart", J, "{}", 405, "allowed methods: GET"),
        // PUT /api/cart/lines/{product_id}: bodies, content types, keys, ids.
        c("PUT", "/api/cart/lines/1", J, "{\"quantity\": ", 400, "malformed JSON body"),
        c("PUT", "/api/cart/lines/1", J, "{\"quantity\": -1}", 400, "malformed JSON body: \"quantity\" must be a whole number in the field's range, got -1"),
        c("PUT", "/api/cart/lines/1", J, "{\"quantity\": \"two\"}", 400, "malformed JSON body"),
        c("PUT", "/api/cart/lines/1", J, "{\"quantity\": 4294967296}", 400, "malformed JSON body"),
        c("PUT", "/api/cart/lines/1", J, "{\"quantity\": 1e400}", 400, "malformed JSON body"),
        c("PUT", "/api/cart/lines/1", J, "{\"quantity\": 100}", 400, "quantity must be between 0 and 99, got 100"),
        c("PUT", "/api/cart/lines/1", J, "{\"qty\": 1}", 400, "malformed JSON body: unknown field `qty`"),
        c("PUT", "/api/cart/lines/1", J, "[1]", 400, "malformed JSON body"),
        c("PUT", "/api/cart/lines/1", J, "null", 400, "malformed JSON body"),
        c("PUT", "/api/cart/lines/1", J, "", 400, "a JSON body is required"),
        c("PUT", "/api/cart/lines/1", J, vec![0xff, 0xfe, b'{'], 400, "malformed JSON body"),
        c("PUT", "/api/cart/lines/1", P, vec![0x08], 400, "malformed protobuf body"),
        c("PUT", "/api/cart/lines/1", P, vec![0x0a, 0xff, 0xff], 400, "malformed protobuf body"),
        c("PUT", "/api/cart/lines/1", P, vec![0x08, 0xe4, 0x00], 400, "quantity must be between 0 and 99, got 100"),
        c("PUT", "/api/cart/lines/1", &[("content-type", "text/plain"), KEY], "1", 415, "Content-Type \"text/plain\" is not supported"),
        c("PUT", "/api/cart/lines/1", &[("content-type", "application/x-www-form-urlencoded"), KEY], "quantity=1", 415, "--json"),
        c("PUT", "/api/cart/lines/1", &[JSON], "{\"quantity\": 1}", 400, "the Idempotency-Key header is required"),
        c("PUT", "/api/cart/lines/1", &[JSON, ("idempotency-key", "")], "{\"quantity\": 1}", 400, "Idempotency-Key must be 1 to 128 visible ASCII characters"),
        c("PUT", "/api/cart/lines/1", &[JSON, ("idempotency-key", "two words")], "{\"quantity\": 1}", 400, "Idempotency-Key must be 1 to 128"),
        c("PUT", "/api/cart/lines/1", &[JSON, ("idempotency-key", &long(129))], "{\"quantity\": 1}", 400, "Idempotency-Key must be 1 to 128"),
        c("PUT", "/api/cart/lines/1", J, vec![b' '; 70_000], 413, "request body exceeds 65536 bytes"),
        c("PUT", "/api/cart/lines/1", J, format!("{{\"quantity\": 1, \"pad\": \"{}\"}}", long(65_536)), 413, "request body exceeds 65536 bytes"),
        c("PUT", "/api/cart/lines/0", J, "{\"quantity\": 1}", 400, "product id must be a positive integer"),
        c("PUT", "/api/cart/lines/abc", J, "{\"quantity\": 1}", 400, "product id must be a positive integer"),
        c("PUT", "/api/cart/lines/999", J, "{\"quantity\": 1}", 404, "no product 999"),
        c("PUT", "/api/cart/lines/1?quantity=2", J, "{\"quantity\": 1}", 400, "unknown query parameter \"quantity\""),
        c("PUT", "/api/cart/lines/1", J, "{\"quantity\": \"x\"}", 400, "malformed JSON body").with(BAD_CART),
        c("GET", "/api/cart/lines/1", NONE, "", 405, "allowed methods: PUT"),
        // POST /api/orders, GET /api/orders, GET /api/orders/{id}
        c("POST", "/api/orders", J, "{\"cartVersion\": \"x\"}", 400, "malformed JSON body"),
        c("POST", "/api/orders", J, "{\"cartVersion\": -1}", 400, "malformed JSON body"),
        c("POST", "/api/orders", J, "{\"cartVersion\": \"18446744073709551616\"}", 400, "malformed JSON body"),
        c("POST", "/api/orders", J, "{\"cart_version\": 1, \"cartVersion\": 1}", 400, "malformed JSON body"),
        c("POST", "/api/orders", P, vec![0x08, 0x80], 400, "malformed protobuf body"),
        c("POST", "/api/orders", &[JSON], "{\"cartVersion\": \"1\"}", 400, "the Idempotency-Key header is required"),
        c("POST", "/api/orders", J, "{\"cartVersion\": \"0\"}", 409, "your cart is empty"),
        c("POST", "/api/orders", J, "{\"cartVersion\": \"0\"}", 409, "your cart is empty").with(BAD_CART),
        c("POST", "/api/orders?cartVersion=1", J, "{}", 400, "unknown query parameter \"cartVersion\""),
        c("POST", "/api/orders", J, "{\"cartVersion\": \"1\", \"lines\": \"x\"}", 400, "malformed JSON body"),
        c("POST", "/api/orders", J, "{\"cartVersion\": \"1\", \"lines\": [{\"unitPrice\": {\"minor\": \"x\"}}]}", 400, "malformed JSON body"),
        c("OPTIONS", "/api/orders", &[("origin", "https://evil.example"), ("access-control-request-method", "POST")], "", 403, "cross-origin requests from https://evil.example are not allowed"),
        c("DELETE", "/api/orders", KEY_ONLY, "", 405, "allowed methods: GET, POST"),
        c("GET", "/api/orders?page=2", NONE, "", 400, "unknown query parameter \"page\""),
        c("GET", "/api/orders/0", NONE, "", 400, "order id must be a positive integer, got \"0\""),
        c("GET", "/api/orders/xyz", NONE, "", 400, "order id must be a positive integer"),
        c("GET", "/api/orders/1", NONE, "", 404, "no order 1").with(BAD_CART),
        c("PUT", "/api/orders/1", J, "{}", 405, "allowed methods: GET"),
        // PUT /api/admin/products/{id}: token, body, fields, ids.
        c("PUT", "/api/admin/products/5", J, PRODUCT, 401, "admin commands need Authorization: Bearer"),
        c("PUT", "/api/admin/products/5", &[("authorization", "Bearer wrong"), JSON, KEY], PRODUCT, 401, "Authorization: Bearer"),
        c("PUT", "/api/admin/products/5", &[("authorization", &format!("Basic {ADMIN_TOKEN}")), JSON, KEY], PRODUCT, 401, "Authorization: Bearer"),
        c("PUT", "/api/admin/products/5", &[("authorization", &format!("Bearer {ADMIN_TOKEN}x")), JSON, KEY], PRODUCT, 401, "Authorization: Bearer"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"title": ""}"#), 400, "title must be between 1 and 200 characters, got 0"),
        c("PUT", "/api/admin/products/5", AJ, product_with(&format!(r#"{{"title": "{}"}}"#, long(201))), 400, "title must be between 1 and 200 characters, got 201"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"title": 5}"#), 400, "malformed JSON body"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"category": "&&"}"#), 400, "category must contain letters or digits"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"price": {"minor": 1, "currency": "euro"}}"#), 400, "currency must be an ISO 4217 code"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"price": {"minor": -1, "currency": "EUR"}}"#), 400, "price must be between 0 and 1000000000000 minor units, got -1"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"price": {"minor": "9223372036854775808", "currency": "EUR"}}"#), 400, "malformed JSON body"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"price": null}"#), 400, "price is required"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"imageUrls": ["ftp://x"]}"#), 400, "image URL \"ftp://x\" must be an http(s) URL"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"imageUrls": "https://x"}"#), 400, "malformed JSON body"),
        // Product text: no control character, bidirectional override or isolate (one rule with
        // the CSV import); image URLs absolute http(s) with a host.
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"title": "Lamp\u0000"}"#), 400, "title must not contain control characters (line breaks, tabs, escapes): U+0000 at character 5"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"title": "Lamp \u001b[31mred\u001b[0m"}"#), 400, "title must not contain control characters (line breaks, tabs, escapes): U+001B at character 6"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"title": "Lamp\u0007"}"#), 400, "title must not contain control characters (line breaks, tabs, escapes): U+0007"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"title": "Lamp \u202egpj.exe"}"#), 400, "title must not contain bidirectional embeddings, overrides or isolates: U+202E at character 6"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"title": "Lamp \u2066x\u2069"}"#), 400, "title must not contain bidirectional embeddings, overrides or isolates: U+2066"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"title": "Lamp\r\nX-Injected: 1"}"#), 400, "title must not contain control characters (line breaks, tabs, escapes): U+000D at character 5"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"category": "Home\nGarden"}"#), 400, "category must not contain control characters"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"description": "Warm.\u0000"}"#), 400, "description must not contain control characters other than line feeds and tabs: U+0000"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"description": "Warm.\rCold."}"#), 400, "description must not contain control characters other than line feeds and tabs: U+000D"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"longText": "Read \u202ethis"}"#), 400, "long_text must not contain bidirectional embeddings"),
        c("PUT", "/api/admin/products/5", AP, upsert_proto("Lamp\u{1b}]0;owned\u{7}"), 400, "title must not contain control characters"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"imageUrls": ["//evil.example/pixel.png"]}"#), 400, "image URL \"//evil.example/pixel.png\" must be an http(s) URL with a host"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"imageUrls": ["javascript:alert(1)"]}"#), 400, "image URL \"javascript:alert(1)\" must be an http(s) URL with a host"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"imageUrls": ["data:image/png;base64,iVBORw0KGgo="]}"#), 400, "image URL \"data:image/png;base64,iVBORw0KGgo=\" must be an http(s) URL"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"imageUrls": ["/img/lamp.jpg"]}"#), 400, "image URL \"/img/lamp.jpg\" must be an http(s) URL with a host"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"imageUrls": ["https://shop.example@evil.example/x.png"]}"#), 400, "it must not name a user before the host"),
        c("PUT", "/api/admin/products/5", AJ, product_with(r#"{"colour": "red"}"#), 400, "malformed JSON body: unknown field `colour`"),
        c("PUT", "/api/admin/products/5", AP, vec![0x0a, 0x05, b'L'], 400, "malformed protobuf body"),
        c("PUT", "/api/admin/products/5", AP, vec![0x0a, 0x02, 0xc3, 0x28], 400, "malformed protobuf body"),
        c("PUT", "/api/admin/products/5", &[ADMIN, JSON], PRODUCT, 400, "the Idempotency-Key header is required"),
        c("PUT", "/api/admin/products/0", AJ, PRODUCT, 400, "product id must be a positive integer"),
        c("PUT", "/api/admin/products/abc", AJ, PRODUCT, 400, "product id must be a positive integer"),
        c("POST", "/api/admin/products/5", AJ, PRODUCT, 405, "allowed methods: GET, PUT, DELETE"),
        // PUT /api/admin/products/{id}/price
        c("PUT", "/api/admin/products/1/price", AJ, "{\"priceMinor\": -5}", 400, "price must be between 0 and"),
        c("PUT", "/api/admin/products/1/price", AJ, "{\"priceMinor\": 1000000000001}", 400, "price must be between 0 and 1000000000000"),
        c("PUT", "/api/admin/products/1/price", AJ, "{\"priceMinor\": 1.5}", 400, "malformed JSON body"),
        c("PUT", "/api/admin/products/1/price", AJ, "{\"priceMinor\": \"cheap\"}", 400, "malformed JSON body"),
        c("PUT", "/api/admin/products/1/price", AP, vec![0x08, 0xff], 400, "malformed protobuf body"),
        c("PUT", "/api/admin/products/1/price", AJ, "", 400, "a JSON body is required"),
        c("PUT", "/api/admin/products/77/price", AJ, "{\"priceMinor\": 5}", 404, "no product 77"),
        c("PUT", "/api/admin/products/x/price", AJ, "{\"priceMinor\": 5}", 400, "product id must be a positive integer"),
        c("PUT", "/api/admin/products/1/price", J, "{\"priceMinor\": 5}", 401, "Authorization: Bearer"),
        c("GET", "/api/admin/products/1/price", NONE, "", 405, "allowed methods: PUT"),
        // DELETE /api/admin/products/{id}
        c("DELETE", "/api/admin/products/1", KEY_ONLY, "", 401, "Authorization: Bearer"),
        c("DELETE", "/api/admin/products/77", AK, "", 404, "no product 77"),
        c("DELETE", "/api/admin/products/1", &[ADMIN], "", 400, "the Idempotency-Key header is required"),
        c("DELETE", "/api/admin/products/x", AK, "", 400, "product id must be a positive integer"),
        // POST /api/admin/stock
        c("POST", "/api/admin/stock", AJ, "{\"productId\": \"1\", \"quantity\": 0}", 400, "quantity must be between 1 and 1000000, got 0"),
        c("POST", "/api/admin/stock", AJ, "{\"productId\": \"1\", \"quantity\": 1000001}", 400, "quantity must be between 1 and 1000000, got 1000001"),
        c("POST", "/api/admin/stock", AJ, "{\"productId\": \"1\", \"quantity\": -3}", 400, "malformed JSON body"),
        c("POST", "/api/admin/stock", AJ, "{\"productId\": \"1\"}", 400, "quantity must be between 1 and"),
        c("POST", "/api/admin/stock", AJ, "{\"productId\": \"0\", \"quantity\": 1}", 404, "no product 0"),
        c("POST", "/api/admin/stock", AJ, "{\"productId\": \"77\", \"quantity\": 1}", 404, "no product 77"),
        c("POST", "/api/admin/stock", AJ, "{\"productId\": \"abc\", \"quantity\": 1}", 400, "malformed JSON body"),
        c("POST", "/api/admin/stock", AJ, "{\"productId\": \"-1\", \"quantity\": 1}", 400, "malformed JSON body"),
        c("POST", "/api/admin/stock", AP, vec![0x10], 400, "malformed protobuf body"),
        c("POST", "/api/admin/stock", J, "{\"productId\": \"1\", \"quantity\": 1}", 401, "Authorization: Bearer"),
        // The key of the delivery the setup made, with other content.
        c("POST", "/api/admin/stock", &[ADMIN, JSON, ("idempotency-key", "s1-3")], "{\"productId\": \"1\", \"quantity\": 4}", 422, "already used for a different request"),
        c("GET", "/api/admin/stock", NONE, "", 405, "allowed methods: POST"),
        // The operator's reads, uploads and event log.
        c("GET", "/api/admin/products?include_disabled=maybe", &[ADMIN], "", 400, "include_disabled must be true or false"),
        c("GET", "/api/admin/products?q=lamp&include_disabled=true", &[ADMIN], "", 400, "include_disabled cannot be combined with q"),
        c("GET", "/api/admin/products?page=0", &[ADMIN], "", 400, "page must be 1 or more"),
        c("GET", "/api/admin/products", NONE, "", 401, "Authorization: Bearer"),
        c("GET", "/api/admin/products/abc", &[ADMIN], "", 400, "product id must be a positive integer"),
        c("GET", "/api/admin/products/77", &[ADMIN], "", 404, "no product 77"),
        c("GET", "/api/admin/orders?page_size=101", &[ADMIN], "", 400, "page_size must be between 1 and 100"),
        c("GET", "/api/admin/orders?page=x", &[ADMIN], "", 400, "page must be a positive integer"),
        c("GET", "/api/admin/orders", NONE, "", 401, "Authorization: Bearer"),
        c("POST", "/api/admin/imports/stock", &[ADMIN, KEY, ("content-type", "text/csv")], "product_id,quantity\n1,5\n1,0\n", 422, "1 bad row(s); nothing was written"),
        c("POST", "/api/admin/imports/products", &[ADMIN, KEY, ("content-type", "text/csv")], "id,title\n5,Lamp\n", 422, "1 bad row(s); nothing was written"),
        c("POST", "/api/admin/imports/stock", &[ADMIN, ("content-type", "text/csv")], "product_id,quantity\n1,5\n", 400, "the Idempotency-Key header is required"),
        c("POST", "/api/admin/imports/stock", AJ, "{}", 415, "send the file as text/csv"),
        c("POST", "/api/admin/imports/chairs", &[ADMIN, KEY, ("content-type", "text/csv")], "x", 404, "no import of \"chairs\""),
        c("POST", "/api/admin/imports/stock", &[KEY, ("content-type", "text/csv")], "product_id,quantity\n1,5\n", 401, "Authorization: Bearer"),
        c("GET", "/api/admin/imports/stock/0123456789abcdef", &[ADMIN], "", 404, "no stock import"),
        c("GET", "/api/admin/events?context=orders", &[ADMIN], "", 400, "context must be catalog or checkout"),
        c("GET", "/api/admin/events?limit=0", &[ADMIN], "", 400, "limit must be a whole number from 1 to 10000"),
        c("GET", "/api/admin/events?cart=zz", &[ADMIN], "", 400, "cart must be the short hash"),
        c("GET", "/api/admin/events", NONE, "", 401, "Authorization: Bearer"),
        c("GET", "/api/admin/events/ws", NONE, "", 401, "the event log needs the admin token"),
        c("GET", "/api/admin/events/ws", &[ADMIN], "", 426, "is a websocket"),
        c("PUT", "/api/admin/products/1", AJ, PRODUCT, 412, "changed since you read it").with(("if-match", "\"0000000000000000\"")),
        c("PUT", "/api/admin/products/1/price", AJ, "{\"priceMinor\": 5}", 400, "If-Match must be a product's version as read").with(("if-match", &long(201))),
        c("PUT", "/api/admin/products/1/price", AJ, "{\"priceMinor\": 5}", 400, "If-Match must be a product's version as read, quoted").with(("if-match", "0000000000000000")),
        c("PUT", "/api/admin/products/1/price", AJ, "{\"priceMinor\": 5}", 400, "* stands alone").with(("if-match", "\"0000000000000000\", *")),
        c("PUT", "/api/admin/products/1/price", AJ, "{\"priceMinor\": 5}", 400, "closing quote").with(("if-match", "\"0000000000000000")),
        c("PUT", "/api/admin/products/1/price", AJ, "{\"priceMinor\": 5}", 412, "changed since you read it").with(("if-match", "W/\"0000000000000000\", \"1\"")),
        c("PUT", "/api/admin/products/77", AJ, PRODUCT, 412, "no product 77 to match If-Match *").with(("if-match", "*")),
        c("GET", "/api/openapi.json?x=1", NONE, "", 400, "unknown query parameter \"x\""),
        // GET /api/ws: not an upgrade, or a broken one.
        c("GET", "/api/ws", NONE, "", 426, "/api/ws is a websocket"),
        c("GET", "/api/ws", &[("connection", "Upgrade"), ("upgrade", "websocket")], "", 400, "not a websocket upgrade"),
        c("GET", "/api/ws", &[("connection", "Upgrade"), ("upgrade", "websocket"), ("sec-websocket-version", "12"), ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")], "", 400, "not a websocket upgrade"),
        c("GET", "/api/ws?watch=1", NONE, "", 400, "unknown query parameter \"watch\""),
        c("POST", "/api/ws", J, "{}", 405, "allowed methods: GET"),
        // Unknown routes and methods.
        c("GET", "/api/", NONE, "", 404, "no such endpoint"),
        c("GET", "/api/nothing", NONE, "", 404, "no such endpoint: /api/nothing"),
        c("GET", "/api//products", NONE, "", 404, "no such endpoint"),
        c("DELETE", "/api/admin", AK, "", 404, "no such endpoint"),
        c("POST", "/checkout", J, "{}", 405, "only GET and HEAD are allowed here"),
        // An error in protobuf when protobuf is accepted.
        c("GET", "/api/products/0", &[("accept", "application/x-protobuf")], "", 400, "product id must be a positive integer"),
    ]
}

const KEY_ONLY: &[(&str, &str)] = &[KEY];

/// The two topics' high watermarks: bad input must leave them where they are.
fn log_sizes(consumer: &ShopConsumer) -> (i64, i64) {
    let high = |t| kafka::high_watermark(consumer, t, Duration::from_secs(5)).unwrap();
    (high("shop.catalog.v1"), high("shop.checkout.v1"))
}

/// The message of an error answer, as JSON, protobuf or plain text; an error body without a
/// code (or an answer that is not an error at all) is a failure of its case, reported with the
/// others (a panic here would leave the shop running and the test hanging).
fn message(reply: &support::Reply) -> Result<String, String> {
    let content_type = reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") {
        let body: serde_json::Value = serde_json::from_slice(&reply.body)
            .map_err(|e| format!("not JSON ({e}): {}", String::from_utf8_lossy(&reply.body)))?;
        if body["code"].as_str().is_none_or(|c| c.is_empty()) {
            return Err(format!("an error without a code: {body}"));
        }
        Ok(body["message"].as_str().unwrap_or_default().to_owned())
    } else if content_type == shared::PROTOBUF {
        let body = <ErrorBody as prost::Message>::decode(reply.body.clone())
            .map_err(|e| format!("not a shop.Error ({e})"))?;
        if body.code.is_empty() {
            return Err(format!("an error without a code: {body:?}"));
        }
        Ok(body.message)
    } else {
        Ok(String::from_utf8_lossy(&reply.body).into_owned())
    }
}

/// The websocket messages of [`a_websocket_sending_garbage_is_closed_and_writes_nothing`].
const WEBSOCKET_CASES: usize = 3;

/// Every case of this file: the table, the stale cart cookie, and the websocket garbage.
fn case_count() -> usize {
    cases().len() + 1 + WEBSOCKET_CASES
}

/// The README quotes the count; this keeps it true.
#[test]
fn the_readme_quotes_how_many_cases_there_are() {
    let n = case_count();
    println!(
        "bad input: {n} cases ({} in the table, 1 stale cart cookie, {WEBSOCKET_CASES} websocket messages)",
        cases().len()
    );
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains(&format!(
            "`backend/tests/bad_input.rs`): {n} cases over every endpoint"
        )),
        "README.md's Tests section must say {n} cases"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_bad_input_with_a_message_and_writes_nothing() {
    let cluster = mock_cluster();
    let config = config(&cluster.bootstrap_servers(), &[]);
    let consumer = kafka::consumer(
        &config.kafka.settings(),
        "bad-input-test",
        BrokerStatus::new(),
    )
    .unwrap();
    let shop = InProcess::start(config).await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 3).await;
    let mut good = Shopper::new(shop.addr);
    good.set_line(1, 1, "good-1").await.expect(StatusCode::OK);

    let mut before = log_sizes(&consumer);
    let mut failures = Vec::new();
    for case in cases() {
        let what = format!("{} {}", case.method, case.path);
        let headers: Vec<(&str, &str)> = case
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // A client without a cart cookie, so no case leans on another's cart.
        let mut client = Shopper::new(shop.addr);
        let reply = client
            .send(case.method.clone(), &case.path, &headers, case.body.clone())
            .await;
        match message(&reply) {
            Err(e) => failures.push(format!(
                "{what}: {} {e}, expected {} saying {:?}",
                reply.status, case.status, case.says
            )),
            Ok(said) if reply.status != case.status || !said.contains(&case.says) => {
                failures.push(format!(
                    "{what}: {} {said:?}, expected {} saying {:?}",
                    reply.status, case.status, case.says
                ));
            }
            Ok(_) => {}
        }
        if !reply.status.is_client_error() {
            failures.push(format!("{what}: {} is not a 4xx", reply.status));
        }
        let now = log_sizes(&consumer);
        if now != before {
            failures.push(format!("{what} reached Kafka: {before:?} -> {now:?}"));
            before = now;
        }
        let up = good.get("/api/products/1").await.status;
        if up != StatusCode::OK {
            failures.push(format!("after {what}, a good read answered {up}"));
        }
    }

    // A malformed cart cookie names no cart: the shopper gets a new, empty one. So does one the
    // server never issued: a made-up id of the old form, a forged value of the new one.
    let forged = format!("cart={}", "0".repeat(64));
    for made_up in [
        "cart=0123456789ABCDEF0123456789ABCDEF",
        "cart=00000000000000000000000000000007",
        &forged,
    ] {
        let mut stale = Shopper::new(shop.addr);
        stale.cookie = Some(made_up.into());
        let cart = stale.get("/api/cart").await;
        if cart.status != StatusCode::OK
            || !cart.headers.contains_key("set-cookie")
            || cart.json() != serde_json::json!({})
        {
            failures.push(format!("a stale cart cookie {made_up}: {cart:?}"));
        }
        if log_sizes(&consumer) != before {
            failures.push(format!("a stale cart cookie {made_up} reached Kafka"));
        }
    }
    // The server is up and still takes commands.
    let status = good.set_line(1, 2, "good-2").await.status;
    // Stop the shop before any assertion: a panic with it running would leave its threads on.
    shop.stop().await;
    assert!(
        failures.is_empty(),
        "{} of {} cases answered otherwise:\n{}",
        failures.len(),
        cases().len(),
        failures.join("\n")
    );
    assert_eq!(status, StatusCode::OK, "a good command after the bad input");
}

/// A websocket that sends garbage is closed with the close code that names it, and nothing it
/// sent reaches Kafka.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_sending_garbage_is_closed_and_writes_nothing() {
    let cluster = mock_cluster();
    let config = config(&cluster.bootstrap_servers(), &[]);
    let consumer = kafka::consumer(
        &config.kafka.settings(),
        "bad-input-test",
        BrokerStatus::new(),
    )
    .unwrap();
    let shop = InProcess::start(config).await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 3).await;
    let before = log_sizes(&consumer);

    let garbage: [(WsMessage, CloseCode, &str); WEBSOCKET_CASES] = [
        (
            WsMessage::Binary(vec![0x0a, 0xff, 0xff].into()),
            CloseCode::Invalid,
            "not a shop.LiveRequest",
        ),
        (
            WsMessage::Text("{\"watchProducts\": [1]}".into()),
            CloseCode::Unsupported,
            "binary",
        ),
        (
            WsMessage::Binary(vec![0u8; 17 * 1024].into()),
            CloseCode::Size,
            "a LiveRequest is at most 16384 bytes",
        ),
    ];
    let mut failures = Vec::new();
    for (message, code, says) in garbage {
        let req = format!("ws://{}/api/ws", shop.addr)
            .into_client_request()
            .unwrap();
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        ws.send(message).await.unwrap();
        let close = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match ws.next().await {
                    Some(Ok(WsMessage::Close(frame))) => return Ok(frame),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e),
                    None => return Err(tungstenite::Error::ConnectionClosed),
                }
            }
        })
        .await
        .expect("the socket is closed");
        match close {
            Ok(Some(frame)) if frame.code == code && frame.reason.contains(says) => {}
            other => failures.push(format!(
                "expected a close {code} saying {says:?}, got {other:?}"
            )),
        }
    }
    if log_sizes(&consumer) != before {
        failures.push("websocket garbage reached Kafka".into());
    }
    let mut s = Shopper::new(shop.addr);
    let up = s.get("/api/products/1").await.status;
    shop.stop().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(up, StatusCode::OK, "a good read after the garbage");
}
