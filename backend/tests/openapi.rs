//! The OpenAPI document against the real server: every operation of the router is called (good
//! and bad input), and every answer must have a documented status, a documented content type
//! and, for JSON, a body that conforms to its documented schema. Then every `curl` example of
//! the README is run the same way and held to the same rules.

#[path = "support/schema.rs"]
mod schema;
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use support::{ADMIN_TOKEN, Reply, Shopper, eventually, shop_in_memory};

/// Calls the API and holds every answer to the document; remembers what it called.
struct Checker {
    doc: Value,
    seen: BTreeSet<(String, String)>,
    problems: Vec<String>,
}

impl Checker {
    fn template(method: &Method, path: &str) -> Option<&'static str> {
        let api = path.split('?').next()?.strip_prefix("/api/")?;
        backend::server::route::route(method, api)
            .ok()
            .map(|r| r.name())
    }

    /// The problems of one answer; records the operation as exercised.
    fn check(&mut self, method: &Method, path: &str, r: &Reply) {
        let Some(template) = Self::template(method, path) else {
            return;
        };
        let what = format!("{method} {path} → {}", r.status.as_u16());
        self.seen.insert((method.to_string(), template.to_owned()));
        let op = &self.doc["paths"][template][method.as_str().to_ascii_lowercase()];
        assert!(
            op.is_object(),
            "{what}: {template} {method} is not documented"
        );
        let mut response = &op["responses"][r.status.as_u16().to_string()];
        if response.is_null() {
            self.problems.push(format!("{what}: status not documented"));
            return;
        }
        if let Some(reference) = response.get("$ref").and_then(Value::as_str) {
            let name = reference.rsplit('/').next().unwrap();
            response = &self.doc["components"]["responses"][name];
        }
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            return;
        };
        let ct = r
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap()
            .trim()
            .to_owned();
        let Some(media) = content.get(&ct) else {
            self.problems.push(format!(
                "{what}: Content-Type {ct:?} not documented ({:?})",
                content.keys().collect::<Vec<_>>()
            ));
            return;
        };
        if ct == "application/json" {
            let body: Value = match serde_json::from_slice(&r.body) {
                Ok(v) => v,
                Err(e) => {
                    self.problems.push(format!("{what}: not JSON: {e}"));
                    return;
                }
            };
            for p in schema::problems(&self.doc, &media["schema"], &body) {
                self.problems.push(format!("{what}: {p}"));
            }
        }
    }
}

/// A client that checks every answer.
struct Client<'a> {
    s: Shopper,
    checker: &'a mut Checker,
}

impl Client<'_> {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let r = self.s.send(method.clone(), path, headers, body).await;
        self.checker.check(&method, path, &r);
        r
    }

    async fn get(&mut self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], Bytes::new()).await
    }

    async fn admin_get(&mut self, path: &str) -> Reply {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        self.send(Method::GET, path, &[("authorization", &auth)], Bytes::new())
            .await
    }

    async fn command(
        &mut self,
        method: Method,
        path: &str,
        key: &str,
        body: Value,
        admin: bool,
    ) -> Reply {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        let mut h = vec![
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ];
        if admin {
            h.push(("authorization", &auth));
        }
        self.send(method, path, &h, serde_json::to_vec(&body).unwrap())
            .await
    }
}

async fn seed(s: &mut Shopper) {
    for (id, title, category, price, stock) in [
        (42, "Walnut desk lamp", "Home & Garden", 4900, 50),
        (7, "Linen tablecloth", "Home & Garden", 2900, 3),
        (8, "Wall shelf", "Home & Garden", 1900, 0),
        (9, "Desk chair", "Office", 9900, 5),
    ] {
        s.add_product(id, title, category, price, stock).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_every_operation_conforms_to_the_document() {
    let (_cluster, shop) = shop_in_memory().await;
    let mut admin = Shopper::new(shop.addr);
    seed(&mut admin).await;
    let doc: Value = admin
        .get("/api/openapi.json")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut checker = Checker {
        doc,
        seen: BTreeSet::new(),
        problems: vec![],
    };
    let mut c = Client {
        s: Shopper::new(shop.addr),
        checker: &mut checker,
    };
    // Catalog.
    c.get("/api/products").await.expect(StatusCode::OK);
    c.get("/api/products?q=lamp&sort=price&order=desc&page_size=5")
        .await
        .expect(StatusCode::OK);
    c.get("/api/products?q=zzzzzz").await.expect(StatusCode::OK);
    c.get("/api/products?page=0")
        .await
        .expect(StatusCode::BAD_REQUEST);
    c.get("/api/products?pgae=2")
        .await
        .expect(StatusCode::BAD_REQUEST);
    c.get("/api/products/42").await.expect(StatusCode::OK);
    c.get("/api/products/4242")
        .await
        .expect(StatusCode::NOT_FOUND);
    c.get("/api/products/x")
        .await
        .expect(StatusCode::BAD_REQUEST);
    c.get("/api/categories").await.expect(StatusCode::OK);
    // Cart and orders.
    c.get("/api/cart").await.expect(StatusCode::OK);
    c.command(
        Method::PUT,
        "/api/cart/lines/42",
        "l1",
        json!({"quantity": 2}),
        false,
    )
    .await
    .expect(StatusCode::OK);
    c.command(
        Method::PUT,
        "/api/cart/lines/4242",
        "l2",
        json!({"quantity": 2}),
        false,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    c.command(
        Method::PUT,
        "/api/cart/lines/42",
        "l3",
        json!({"quantity": -2}),
        false,
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    c.send(
        Method::PUT,
        "/api/cart/lines/42",
        &[("content-type", "text/plain"), ("idempotency-key", "l4")],
        "x",
    )
    .await
    .expect(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    c.send(
        Method::PUT,
        "/api/cart/lines/42",
        &[("content-type", "application/json")],
        "{}",
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    c.command(
        Method::PUT,
        "/api/cart/lines/42",
        "l1",
        json!({"quantity": 3}),
        false,
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    let cart = c.get("/api/cart").await.expect(StatusCode::OK).json();
    let order = json!({"cartVersion": cart["version"], "lines": cart["lines"]});
    c.command(Method::POST, "/api/orders", "o1", order.clone(), false)
        .await
        .expect(StatusCode::CREATED);
    c.command(
        Method::PUT,
        "/api/cart/lines/7",
        "l5",
        json!({"quantity": 3}),
        false,
    )
    .await
    .expect(StatusCode::OK);
    admin
        .admin(
            Method::PUT,
            "/api/admin/products/7/price",
            "p7",
            json!({"priceMinor": 3100}),
        )
        .await
        .expect(StatusCode::OK);
    let cart = c.get("/api/cart").await.expect(StatusCode::OK).json();
    let mut lines = cart["lines"].clone();
    lines[0]["unitPrice"]["minor"] = json!("2900");
    let stale = json!({"cartVersion": cart["version"], "lines": lines});
    let r = c
        .command(Method::POST, "/api/orders", "o2", stale, false)
        .await
        .expect(StatusCode::CONFLICT);
    assert_eq!(r.json()["code"], "price_changed");
    c.get("/api/orders").await.expect(StatusCode::OK);
    c.get("/api/orders/1").await.expect(StatusCode::OK);
    c.get("/api/orders/99").await.expect(StatusCode::NOT_FOUND);
    c.get("/api/ws").await.expect(StatusCode::UPGRADE_REQUIRED);
    // Admin.
    c.get("/api/admin/products")
        .await
        .expect(StatusCode::UNAUTHORIZED);
    c.admin_get("/api/admin/products?include_disabled=true&sort=price")
        .await
        .expect(StatusCode::OK);
    c.admin_get("/api/admin/products?q=lamp")
        .await
        .expect(StatusCode::OK);
    c.admin_get("/api/admin/products?q=lamp&include_disabled=true")
        .await
        .expect(StatusCode::BAD_REQUEST);
    let p = c
        .admin_get("/api/admin/products/42")
        .await
        .expect(StatusCode::OK);
    let version = p.json()["version"].as_str().unwrap().to_owned();
    c.admin_get("/api/admin/products/4242")
        .await
        .expect(StatusCode::NOT_FOUND);
    let upsert = json!({"title": "Walnut desk lamp", "description": "Warm light.", "category": "Home & Garden", "price": {"minor": 4900, "currency": "EUR"}});
    c.command(
        Method::PUT,
        "/api/admin/products/42",
        "u1",
        upsert.clone(),
        true,
    )
    .await
    .expect(StatusCode::OK);
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let stale_match = format!("\"{version}\"");
    c.send(
        Method::PUT,
        "/api/admin/products/42/price",
        &[
            ("content-type", "application/json"),
            ("idempotency-key", "p1"),
            ("authorization", &auth),
            ("if-match", &stale_match),
        ],
        r#"{"priceMinor": 4500}"#,
    )
    .await
    .expect(StatusCode::PRECONDITION_FAILED);
    c.command(
        Method::PUT,
        "/api/admin/products/42/price",
        "p2",
        json!({"priceMinor": 4500}),
        true,
    )
    .await
    .expect(StatusCode::OK);
    c.command(
        Method::PUT,
        "/api/admin/products/42",
        "u2",
        json!({"title": ""}),
        true,
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    c.send(
        Method::DELETE,
        "/api/admin/products/8",
        &[("idempotency-key", "d1"), ("authorization", &auth)],
        Bytes::new(),
    )
    .await
    .expect(StatusCode::OK);
    c.command(
        Method::POST,
        "/api/admin/stock",
        "s1",
        json!({"productId": "42", "quantity": 5}),
        true,
    )
    .await
    .expect(StatusCode::OK);
    c.command(
        Method::POST,
        "/api/admin/stock",
        "s2",
        json!({"productId": "42", "quantity": 0}),
        true,
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    c.admin_get("/api/admin/orders?page_size=5")
        .await
        .expect(StatusCode::OK);
    c.admin_get("/api/admin/orders?page=0")
        .await
        .expect(StatusCode::BAD_REQUEST);
    let csv_headers =
        |key: &'static str| vec![("content-type", "text/csv"), ("idempotency-key", key)];
    let mut h = csv_headers("i1");
    h.push(("authorization", &auth));
    let r = c
        .send(
            Method::POST,
            "/api/admin/imports/stock",
            &h,
            "product_id,quantity\n42,1\n9,0\n",
        )
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["badRows"][0]["line"], "3");
    let mut h = csv_headers("i2");
    h.push(("authorization", &auth));
    let r = c
        .send(
            Method::POST,
            "/api/admin/imports/stock",
            &h,
            "product_id,quantity\n42,1\n",
        )
        .await
        .expect(StatusCode::ACCEPTED);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    c.send(Method::POST, "/api/admin/imports/sideboards", &h, "x")
        .await
        .expect(StatusCode::NOT_FOUND);
    c.admin_get(&format!("/api/admin/imports/stock/{id}"))
        .await
        .expect(StatusCode::OK);
    c.admin_get("/api/admin/imports/stock/nope")
        .await
        .expect(StatusCode::NOT_FOUND);
    c.admin_get("/api/admin/events?limit=20")
        .await
        .expect(StatusCode::OK);
    c.admin_get("/api/admin/events?context=orders")
        .await
        .expect(StatusCode::BAD_REQUEST);
    c.admin_get("/api/admin/events/ws")
        .await
        .expect(StatusCode::UPGRADE_REQUIRED);
    // Docs.
    c.get("/api/openapi.json").await.expect(StatusCode::OK);
    c.get("/api/docs").await.expect(StatusCode::OK);
    c.get("/api/docs?x=1").await.expect(StatusCode::BAD_REQUEST);

    let routed: BTreeSet<(String, String)> = backend::server::route::API
        .iter()
        .flat_map(|s| {
            s.ops
                .iter()
                .map(|op| (op.method.to_owned(), s.path.to_owned()))
        })
        .collect();
    let missed: Vec<_> = routed.difference(&checker.seen).collect();
    assert!(
        missed.is_empty(),
        "operations this test never called: {missed:?}"
    );
    assert!(
        checker.problems.is_empty(),
        "answers that break the document:\n{}",
        checker.problems.join("\n")
    );
    shop.stop().await;
}

/// A shell word list of one command line, with `'...'` and `"..."` quoting.
fn words(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quote, mut any) = (vec![], String::new(), None, false);
    for ch in line.chars() {
        match (quote, ch) {
            (None, '\'' | '"') => {
                quote = Some(ch);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// The README's commands that start with `curl`, continuation lines joined, each command of a
/// line (`;`) apart, pipes and `&&` cut off.
fn readme_curls() -> Vec<String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let mut out = vec![];
    let mut in_sh = false;
    let mut joined = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        joined.push_str(line.trim_end_matches('\\'));
        if line.ends_with('\\') {
            joined.push(' ');
            continue;
        }
        let command = std::mem::take(&mut joined);
        let command = command
            .split(" #")
            .next()
            .unwrap()
            .split('|')
            .next()
            .unwrap()
            .split("&&")
            .next()
            .unwrap();
        for part in command.split("; ") {
            if part.trim_start().starts_with("curl ") {
                out.push(part.trim().to_owned());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_examples_conform_to_the_document() {
    let (_cluster, shop) = shop_in_memory().await;
    let mut admin = Shopper::new(shop.addr);
    seed(&mut admin).await;
    let doc: Value = admin
        .get("/api/openapi.json")
        .await
        .expect(StatusCode::OK)
        .json();
    let mut checker = Checker {
        doc,
        seen: BTreeSet::new(),
        problems: vec![],
    };
    let base = format!("http://{}", shop.addr);
    let (mut jar, mut plain) = (Shopper::new(shop.addr), Shopper::new(shop.addr));
    let curls = readme_curls();
    assert!(
        curls.len() >= 15,
        "the README's examples were not found: {curls:?}"
    );
    let mut checked = 0;
    let mut keys = 0;
    let mut order: Option<String> = None;
    for line in &curls {
        let mut method = None;
        let mut headers: Vec<(String, String)> = vec![];
        let mut body: Option<Vec<u8>> = None;
        let (mut url, mut cookies) = (None, false);
        let mut args = words(line).into_iter().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "-X" => method = args.next(),
                "-H" => {
                    let h = args.next().unwrap().replace("$ADMIN_TOKEN", ADMIN_TOKEN);
                    let h = if h == "$ADMIN" {
                        format!("Authorization: Bearer {ADMIN_TOKEN}")
                    } else {
                        h
                    };
                    let h = h.replace("$(uuidgen)", &{
                        keys += 1;
                        format!("readme-{keys}")
                    });
                    let (k, v) = h.split_once(':').unwrap();
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
                "--json" => {
                    let b = args.next().unwrap();
                    // `ORDER=$(...)` is set once, from the cart as it was then.
                    let b = if b == "$ORDER" {
                        if order.is_none() {
                            let cart = jar.get("/api/cart").await.json();
                            order = Some(json!({"cartVersion": cart.get("version").cloned().unwrap_or(json!("0")), "lines": cart.get("lines").cloned().unwrap_or(json!([]))}).to_string());
                        }
                        order.clone().unwrap()
                    } else {
                        b
                    };
                    body = Some(b.into_bytes());
                    headers.push(("content-type".into(), "application/json".into()));
                    headers.push(("accept".into(), "application/json".into()));
                }
                "--data-binary" => {
                    let file = args.next().unwrap();
                    body = Some(match file.as_str() {
                        "@stock.csv" => b"product_id,quantity\n42,10\n9,5\n".to_vec(),
                        "@products.csv" => b"id,title,description,long_text,category,price_minor,currency,image_urls\n43,Oak stool,,,Home & Garden,3900,EUR,\n".to_vec(),
                        other => panic!("the README uploads {other}: give the test its content"),
                    });
                }
                "-c" | "-b" | "-o" => {
                    cookies |= a != "-o";
                    args.next();
                }
                "-s" | "-i" => {}
                u if u.starts_with("$S") || u.starts_with("http") => {
                    url = Some(u.replace("$S", &base))
                }
                other => panic!("{line}: the test does not know curl's {other}"),
            }
        }
        let url = url.unwrap_or_else(|| panic!("no URL in {line}"));
        // Other hosts (the profiling examples name the default address) and the probes are
        // not the API's.
        let Some(path) = url.strip_prefix(&base).map(str::to_owned) else {
            continue;
        };
        if !path.starts_with("/api/") {
            continue;
        }
        let method = Method::from_bytes(
            method
                .unwrap_or_else(|| {
                    if body.is_some() {
                        "POST".into()
                    } else {
                        "GET".into()
                    }
                })
                .as_bytes(),
        )
        .unwrap();
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let client = if cookies { &mut jar } else { &mut plain };
        let r = client
            .send(method.clone(), &path, &h, body.unwrap_or_default())
            .await;
        assert!(
            r.status.is_success(),
            "README example answered {}: {line}\n{}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        checker.check(&method, &path, &r);
        checked += 1;
        // An upload goes on in the background: the next example may read its result.
        if path.starts_with("/api/admin/imports/") && method == Method::POST {
            let id = r.json()["id"].as_str().unwrap().to_owned();
            let kind = path.rsplit('/').next().unwrap().to_owned();
            let status = format!("/api/admin/imports/{kind}/{id}");
            let auth = format!("Bearer {ADMIN_TOKEN}");
            eventually(Duration::from_secs(20), "the README's upload done", || {
                let (mut a, status, auth) = (admin.clone(), status.clone(), auth.clone());
                async move {
                    a.send(
                        Method::GET,
                        &status,
                        &[("authorization", &auth)],
                        Bytes::new(),
                    )
                    .await
                    .json()["state"]
                        == "done"
                }
            })
            .await;
        }
    }
    assert!(
        checked >= 15,
        "only {checked} README examples reached the API"
    );
    assert!(
        checker.problems.is_empty(),
        "README examples whose answers break the document:\n{}",
        checker.problems.join("\n")
    );
    shop.stop().await;
}

#[test]
fn the_schema_check_finds_what_does_not_conform() {
    let doc = json!({"components": {"schemas": {
        "Money": {"type": "object", "additionalProperties": false, "properties": {
            "minor": {"type": ["string", "integer"], "pattern": "^(0|-?[1-9][0-9]*)$"},
            "currency": {"type": "string", "maxLength": 3}}},
        "Page": {"type": "object", "additionalProperties": false, "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Money"}},
            "status": {"type": "string", "enum": ["A", "B"]},
            "count": {"type": "integer", "minimum": 0, "maximum": 10}}}}}});
    let page = json!({"$ref": "#/components/schemas/Page"});
    let ok = json!({"items": [{"minor": "-12", "currency": "EUR"}, {"minor": 3}], "status": "A", "count": 10});
    assert_eq!(schema::problems(&doc, &page, &ok), Vec::<String>::new());
    let bad = json!({"items": [{"minor": "012", "currency": "EURO", "x": 1}, {"minor": true}], "status": "C", "count": 11, "more": []});
    let found = schema::problems(&doc, &page, &bad);
    for expected in [
        "$.items[0].minor: \"012\" does not match",
        "$.items[0].currency: longer than 3",
        "$.items[0]: property \"x\" is not documented",
        "$.items[1].minor: true is not of type",
        "$.status: \"C\" is not one of",
        "$.count: 11 is above 10",
        "$: property \"more\" is not documented",
    ] {
        assert!(
            found.iter().any(|p| p.starts_with(expected)),
            "{expected} not in {found:#?}"
        );
    }
    assert_eq!(found.len(), 7, "{found:#?}");
}
