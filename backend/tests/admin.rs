//! The operator's API through the real server in this process (librdkafka's mock cluster): the
//! whole catalog with disabled products, stock and units sold; edits that name the version they
//! were made from; orders across carts; CSV uploads (a bad row writes nothing, a retried upload
//! writes nothing twice); the event log, read and live, and its figures against `/metrics`.

mod support;

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Method, StatusCode};
use prost::Message as _;
use serde_json::{Value, json};
use shared::proto::{EventLogFrame, event_log_frame::Frame};
use support::{ADMIN_TOKEN, InProcess, Reply, Shopper, eventually, sample, shop_in_memory};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

const LIMIT: Duration = Duration::from_secs(20);

fn auth() -> String {
    format!("Bearer {ADMIN_TOKEN}")
}

async fn admin_get(s: &mut Shopper, path: &str) -> Reply {
    s.send(
        Method::GET,
        path,
        &[("authorization", &auth())],
        Bytes::new(),
    )
    .await
}

fn ids(page: &Value) -> Vec<u64> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["product"]["id"].as_str().unwrap().parse().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

async fn seeded() -> (support::Cluster, InProcess, Shopper) {
    let (cluster, shop) = shop_in_memory().await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 10).await;
    admin.add_product(2, "Desk chair", "Office", 9900, 0).await;
    admin.add_product(3, "Floor lamp", "Home", 4500, 2).await;
    (cluster, shop, admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_catalog_with_stock_sales_and_disabled_products() {
    let (_cluster, shop, mut admin) = seeded().await;
    admin
        .admin(Method::DELETE, "/api/admin/products/2", "off-2", json!({}))
        .await
        .expect(StatusCode::OK);
    let mut shopper = Shopper::new(shop.addr);
    shopper.set_line(1, 3, "l1").await.expect(StatusCode::OK);
    let v = shopper.cart_version().await;
    shopper
        .place_order(v, "o1")
        .await
        .expect(StatusCode::CREATED);

    // The shop's list hides the disabled product; the operator's shows it in its place.
    let shop_ids = |r: Value| -> Vec<u64> {
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    assert_eq!(shop_ids(shopper.get("/api/products").await.json()), [1, 3]);
    let page = admin_get(&mut admin, "/api/admin/products?include_disabled=true")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(ids(&page), [2, 1, 3]);
    assert_eq!(page["totalItems"], "3");
    assert_eq!(page["items"][0]["disabled"], true);
    let lamp = &page["items"][1];
    assert_eq!(
        (lamp["stock"].as_str(), lamp["unitsSold"].as_str()),
        (Some("7"), Some("3"))
    );
    let page = admin_get(
        &mut admin,
        "/api/admin/products?include_disabled=true&category=office",
    )
    .await
    .json();
    assert_eq!(ids(&page), [2]);
    let page = admin_get(&mut admin, "/api/admin/products?sort=price&order=desc")
        .await
        .json();
    assert_eq!(
        ids(&page),
        [3, 1],
        "without include_disabled, as the shop lists"
    );
    let r = admin_get(&mut admin, "/api/admin/products?include_disabled=maybe").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A disabled product reads for the operator, not for a shopper.
    admin_get(&mut admin, "/api/admin/products/2")
        .await
        .expect(StatusCode::OK);
    shopper
        .get("/api/products/2")
        .await
        .expect(StatusCode::NOT_FOUND);
    let r = shopper.get("/api/admin/products/2").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_made_from_an_older_read_is_refused() {
    let (_cluster, shop, mut admin) = seeded().await;
    let r = admin_get(&mut admin, "/api/admin/products/1")
        .await
        .expect(StatusCode::OK);
    let etag = r.headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        etag,
        format!("\"{}\"", r.json()["version"].as_str().unwrap())
    );
    // Another operator reprices it meanwhile.
    admin
        .admin(
            Method::PUT,
            "/api/admin/products/1/price",
            "other",
            json!({"priceMinor": 2700}),
        )
        .await
        .expect(StatusCode::OK);
    let editor = admin.clone();
    let put = |key: &'static str, etag: String| {
        let mut a = editor.clone();
        async move {
            a.send(
                Method::PUT,
                "/api/admin/products/1",
                &[
                    ("authorization", &auth()),
                    ("content-type", "application/json"),
                    ("idempotency-key", key),
                    ("if-match", &etag),
                ],
                json!({"title": "Desk lamp XL", "category": "Home", "price": {"minor": 2500, "currency": "EUR"}}).to_string(),
            )
            .await
        }
    };
    let r = put("mine", etag).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(r.json()["code"], "changed_meanwhile");
    assert_eq!(
        admin.get("/api/products/1").await.json()["title"],
        "Desk lamp",
        "nothing written"
    );
    // Read again, edit again: accepted; its retry (same key) is answered as the first time,
    // although the version has moved on since.
    let fresh = admin_get(&mut admin, "/api/admin/products/1").await;
    let etag = fresh.headers["etag"].to_str().unwrap().to_owned();
    put("mine-2", etag.clone()).await.expect(StatusCode::OK);
    let again = put("mine-2", etag).await.expect(StatusCode::OK);
    assert_eq!(again.json()["title"], "Desk lamp XL");
    shop.stop().await;
}

/// A product change with `If-Match` headers (each one a header line), answered.
async fn change_with(
    s: &mut Shopper,
    path: &str,
    key: &str,
    if_match: &[&str],
    body: Value,
) -> Reply {
    let auth = auth();
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("idempotency-key", key),
    ];
    headers.extend(if_match.iter().map(|v| ("if-match", *v)));
    s.send(Method::PUT, path, &headers, body.to_string()).await
}

async fn price_of(s: &mut Shopper, id: u64) -> String {
    let p = s.get(&format!("/api/products/{id}")).await.json();
    p["price"]["minor"].as_str().unwrap_or_default().to_owned()
}

/// `If-Match` by RFC 9110's strong comparison: a weak tag never matches, even of the current
/// version; a list matches if one of its tags is the current version (one header line or
/// several); `*` matches a product that exists and not one that does not; a malformed header is
/// a 400. Nothing refused is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_compares_strongly_and_reads_lists() {
    let (_cluster, shop, mut admin) = seeded().await;
    let etag = |r: Reply| r.headers["etag"].to_str().unwrap().to_owned();
    let current = etag(
        admin_get(&mut admin, "/api/admin/products/1")
            .await
            .expect(StatusCode::OK),
    );
    let price = "/api/admin/products/1/price";

    let weak = format!("W/{current}");
    let r = change_with(
        &mut admin,
        price,
        "weak",
        &[&weak],
        json!({"priceMinor": 2000}),
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{r:?}");
    assert_eq!(r.json()["code"], "changed_meanwhile");
    assert!(
        r.json()["message"].as_str().unwrap().contains("weakly"),
        "{r:?}"
    );
    assert_eq!(price_of(&mut admin, 1).await, "2500", "nothing written");

    let list = format!("\"0000000000000000\", {current}, W/\"1\"");
    change_with(
        &mut admin,
        price,
        "list",
        &[&list],
        json!({"priceMinor": 2100}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(price_of(&mut admin, 1).await, "2100");

    let current = etag(admin_get(&mut admin, "/api/admin/products/1").await);
    change_with(
        &mut admin,
        price,
        "lines",
        &["\"0000000000000000\"", &current],
        json!({"priceMinor": 2200}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(price_of(&mut admin, 1).await, "2200");

    change_with(
        &mut admin,
        price,
        "star",
        &["*"],
        json!({"priceMinor": 2300}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(price_of(&mut admin, 1).await, "2300");
    let lamp =
        json!({"title": "Lamp", "category": "Home", "price": {"minor": 100, "currency": "EUR"}});
    let r = change_with(
        &mut admin,
        "/api/admin/products/42",
        "new",
        &["*"],
        lamp.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{r:?}");
    admin
        .get("/api/products/42")
        .await
        .expect(StatusCode::NOT_FOUND);

    let current = etag(admin_get(&mut admin, "/api/admin/products/1").await);
    let unquoted = current.trim_matches('"').to_owned();
    for bad in [unquoted.as_str(), "\"1\" \"2\"", "*, \"1\"", "\"open"] {
        let r = change_with(
            &mut admin,
            price,
            "bad",
            &[bad],
            json!({"priceMinor": 2400}),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {r:?}");
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap()
                .starts_with("If-Match must be"),
            "{r:?}"
        );
    }
    assert_eq!(price_of(&mut admin, 1).await, "2300", "nothing written");
    shop.stop().await;
}

/// Product text through an upload: each row with a control character, a bidirectional
/// override or an image URL that is not an absolute http(s) URL is a bad row naming its field,
/// and nothing of the file is written (one rule with the API's upsert).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_of_hostile_product_text_is_refused_row_by_row() {
    let (_cluster, shop, mut admin) = seeded().await;
    let before = (
        applied(&mut admin, "catalog").await,
        applied(&mut admin, "checkout").await,
    );
    let file = "id,title,description,long_text,category,price_minor,currency,image_urls\n\
                20,Good lamp,\"Two\r\nparagraphs\",,Home,100,EUR,https://images.example/l.jpg\n\
                21,Lamp\0,,,Home,100,EUR,\n\
                22,Lamp \u{1b}[31mred,,,Home,100,EUR,\n\
                23,Lamp\u{7},,,Home,100,EUR,\n\
                24,Lamp \u{202e}gpj.exe,,,Home,100,EUR,\n\
                25,\"Lamp\r\nX-Injected: 1\",,,Home,100,EUR,\n\
                26,Lamp,,,Home,100,EUR,//evil.example/pixel.png\n\
                27,Lamp,,,Home,100,EUR,javascript:alert(1)\n\
                28,Lamp,\u{1b}]0;owned\u{7},,Home,100,EUR,\n\
                29,Lamp,,,Home\u{2067},100,EUR,\n";
    let r = upload(&mut admin, "products", "hostile-1", file).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let e = r.json();
    assert_eq!(e["code"], "invalid_rows");
    let rows: Vec<(String, String)> = e["badRows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["line"].as_str().unwrap().to_owned(),
                b["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // Line numbers are the file's: row 20's description and row 25's title span two.
    let expected = [
        (
            "4",
            "title must not contain control characters (line breaks, tabs, escapes): U+0000",
        ),
        (
            "5",
            "title must not contain control characters (line breaks, tabs, escapes): U+001B",
        ),
        (
            "6",
            "title must not contain control characters (line breaks, tabs, escapes): U+0007",
        ),
        (
            "7",
            "title must not contain bidirectional embeddings, overrides or isolates: U+202E",
        ),
        (
            "8",
            "title must not contain control characters (line breaks, tabs, escapes): U+000D",
        ),
        (
            "10",
            "image URL \"//evil.example/pixel.png\" must be an http(s) URL with a host",
        ),
        (
            "11",
            "image URL \"javascript:alert(1)\" must be an http(s) URL with a host",
        ),
        (
            "12",
            "description must not contain control characters other than line feeds and tabs: U+001B",
        ),
        (
            "13",
            "category must not contain bidirectional embeddings, overrides or isolates: U+2067",
        ),
    ];
    assert_eq!(rows.len(), expected.len(), "{rows:?}");
    for ((line, message), (want_line, want)) in rows.iter().zip(expected) {
        assert_eq!(line, want_line, "{rows:?}");
        assert!(message.starts_with(want), "line {line}: {message:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        (
            applied(&mut admin, "catalog").await,
            applied(&mut admin, "checkout").await
        ),
        before,
        "nothing written"
    );
    admin
        .get("/api/products/20")
        .await
        .expect(StatusCode::NOT_FOUND);
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_across_carts_newest_first_never_naming_a_cart() {
    let (_cluster, shop, mut admin) = seeded().await;
    let mut carts = vec![];
    for (i, qty) in [1u32, 2, 3].into_iter().enumerate() {
        let mut s = Shopper::new(shop.addr);
        s.set_line(1, qty, "l").await.expect(StatusCode::OK);
        let v = s.cart_version().await;
        s.place_order(v, &format!("o{i}"))
            .await
            .expect(StatusCode::CREATED);
        carts.push(s.cookie.clone().unwrap());
    }
    let r = admin_get(&mut admin, "/api/admin/orders?page_size=2")
        .await
        .expect(StatusCode::OK);
    let page = r.json();
    let order_ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(order_ids, ["3", "2"]);
    assert_eq!(
        (page["totalItems"].as_str(), page["totalPages"].as_u64()),
        (Some("3"), Some(2))
    );
    assert_eq!(page["items"][0]["order"]["lines"][0]["quantity"], 3);
    let hash = page["items"][0]["cart"].as_str().unwrap();
    assert_eq!(hash.len(), 10);
    let body = String::from_utf8_lossy(&r.body);
    for c in &carts {
        let id = c.trim_start_matches("cart=");
        assert!(!body.contains(id), "a cart id in the operator's orders");
    }
    let page = admin_get(&mut admin, "/api/admin/orders?page=2&page_size=2")
        .await
        .json();
    assert_eq!(page["items"][0]["order"]["id"], "1");
    shop.stop().await;
}

async fn upload(s: &mut Shopper, kind: &str, key: &str, csv: &str) -> Reply {
    s.send(
        Method::POST,
        &format!("/api/admin/imports/{kind}"),
        &[
            ("authorization", &auth()),
            ("content-type", "text/csv"),
            ("idempotency-key", key),
        ],
        csv.to_owned(),
    )
    .await
}

async fn applied(s: &mut Shopper, context: &str) -> f64 {
    let text = String::from_utf8(s.get("/metrics").await.body.to_vec()).unwrap();
    sample(
        &text,
        &format!("shop_context_applied_offset{{context=\"{context}\"}}"),
    )
    .unwrap()
}

async fn done(s: &Shopper, kind: &str, id: &str) -> Value {
    let path = format!("/api/admin/imports/{kind}/{id}");
    eventually(LIMIT, "the import done", || {
        let (mut a, path) = (s.clone(), path.clone());
        async move { admin_get(&mut a, &path).await.expect(StatusCode::OK).json()["state"] == "done" }
    })
    .await;
    admin_get(&mut s.clone(), &path).await.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_with_a_bad_row_writes_nothing_and_a_retried_one_nothing_twice() {
    let (_cluster, shop, mut admin) = seeded().await;
    let before = (
        applied(&mut admin, "catalog").await,
        applied(&mut admin, "checkout").await,
    );
    let r = upload(
        &mut admin,
        "stock",
        "up-1",
        "product_id,quantity\n1,5\n3,0\n3,x\n",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let e = r.json();
    assert_eq!(e["code"], "invalid_rows");
    let lines: Vec<(&str, &str)> = e["badRows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["line"].as_str().unwrap(), b["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        lines,
        [
            ("3", "quantity must be between 1 and 1000000, got 0"),
            ("4", "quantity must be an integer, got \"x\"")
        ]
    );
    let r = upload(&mut admin, "products", "up-2", "id,title\n5,Stool\n").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        (
            applied(&mut admin, "catalog").await,
            applied(&mut admin, "checkout").await
        ),
        before,
        "nothing written"
    );

    // A good products file, then a stock file for them.
    let products = "id,title,description,long_text,category,price_minor,currency,image_urls\n\
                    10,Oak stool,Solid oak.,,Home,3900,EUR,\n11,Pine stool,,,Home,2900,EUR,https://images.example/p.jpg\n";
    let r = upload(&mut admin, "products", "up-3", products)
        .await
        .expect(StatusCode::ACCEPTED);
    let status = r.json();
    assert_eq!(
        (status["kind"].as_str(), status["rows"].as_str()),
        (Some("products"), Some("2"))
    );
    let id = status["id"].as_str().unwrap().to_owned();
    let finished = done(&admin, "products", &id).await;
    assert_eq!(finished["produced"], "2");
    assert_eq!(
        admin
            .get("/api/products/11")
            .await
            .expect(StatusCode::OK)
            .json()["title"],
        "Pine stool"
    );

    let stock = "product_id,quantity\n10,4\n11,6\n";
    let r = upload(&mut admin, "stock", "up-4", stock)
        .await
        .expect(StatusCode::ACCEPTED);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    done(&admin, "stock", &id).await;
    let level = |p: Value| p["availability"]["available"].as_str().unwrap().to_owned();
    assert_eq!(level(admin.get("/api/products/10").await.json()), "4");
    let after = applied(&mut admin, "checkout").await;
    // The same upload again (a retry): the same import, nothing written.
    let again = upload(&mut admin, "stock", "up-4", stock)
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(again.json()["id"], id);
    assert_eq!(again.json()["state"], "done");
    // The same key with another file is refused.
    let other = upload(&mut admin, "stock", "up-4", "product_id,quantity\n10,1\n").await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The same file under a new key (another upload of it): every row already imported, so
    // nothing is written and the answer says so.
    let r = upload(&mut admin, "stock", "up-5", stock)
        .await
        .expect(StatusCode::ACCEPTED);
    let again = done(&admin, "stock", r.json()["id"].as_str().unwrap()).await;
    assert_eq!(counts(&again), ["2", "0", "2", "0"]);
    assert_eq!(level(admin.get("/api/products/10").await.json()), "4");
    assert_eq!(level(admin.get("/api/products/11").await.json()), "6");
    assert_eq!(
        applied(&mut admin, "checkout").await,
        after,
        "nothing written: both rows were already imported"
    );
    shop.stop().await;
}

/// The counts of an import: rows, applied, already imported, produced (proto3 JSON leaves a
/// zero out).
fn counts(status: &Value) -> [&str; 4] {
    ["rows", "applied", "alreadyImported", "produced"].map(|f| status[f].as_str().unwrap_or("0"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_says_what_it_changed_and_a_reupload_changes_nothing() {
    let (_cluster, shop, mut admin) = seeded().await;
    let products = "id,title,description,long_text,category,price_minor,currency,image_urls\n\
                    1,Desk lamp,A fine Desk lamp,,Home,2500,EUR,\n\
                    20,Oak stool,Solid oak.,,Home,3900,EUR,\n21,Pine stool,,,Home,2900,EUR,\n";
    let r = upload(&mut admin, "products", "p-1", products)
        .await
        .expect(StatusCode::ACCEPTED);
    let first = done(&admin, "products", r.json()["id"].as_str().unwrap()).await;
    // Product 1 was seeded with these very fields: nothing to change.
    assert_eq!(counts(&first), ["3", "2", "1", "2"]);
    let before = applied(&mut admin, "catalog").await;
    let r = upload(&mut admin, "products", "p-2", products)
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(r.json()["state"], "done", "nothing to write: done at once");
    assert_eq!(counts(&r.json()), ["3", "0", "3", "0"]);
    let changed = products.replace("Pine stool,,,Home,2900", "Pine stool,,,Home,2700");
    let r = upload(&mut admin, "products", "p-3", &changed)
        .await
        .expect(StatusCode::ACCEPTED);
    let third = done(&admin, "products", r.json()["id"].as_str().unwrap()).await;
    assert_eq!(counts(&third), ["3", "1", "2", "1"]);
    assert_eq!(applied(&mut admin, "catalog").await, before + 1.0);

    let stock = "product_id,quantity\n20,4\n21,6\n1,1\n";
    let r = upload(&mut admin, "stock", "s-1", stock)
        .await
        .expect(StatusCode::ACCEPTED);
    let first = done(&admin, "stock", r.json()["id"].as_str().unwrap()).await;
    assert_eq!(counts(&first), ["3", "3", "0", "3"]);
    let level = |p: Value| p["availability"]["available"].as_str().unwrap().to_owned();
    assert_eq!(level(admin.get("/api/products/1").await.json()), "11");
    let before = applied(&mut admin, "checkout").await;
    // The same stock file again, under a new key: the operator is told it changed nothing.
    let r = upload(&mut admin, "stock", "s-2", stock)
        .await
        .expect(StatusCode::ACCEPTED);
    let again = r.json();
    assert_eq!(
        (again["state"].as_str(), counts(&again)),
        (Some("done"), ["3", "0", "3", "0"])
    );
    assert_eq!(level(admin.get("/api/products/1").await.json()), "11");
    assert_eq!(
        applied(&mut admin, "checkout").await,
        before,
        "nothing written"
    );
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_many_bad_rows_lists_the_first_hundred_and_a_huge_value_is_quoted_short() {
    let (_cluster, shop, mut admin) = seeded().await;
    let mut file = String::from("product_id,quantity\n");
    for i in 1..=5_000 {
        file.push_str(&format!("{i},0\n"));
    }
    let r = upload(&mut admin, "stock", "bad-1", &file)
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    let e = r.json();
    let rows = e["badRows"].as_array().unwrap();
    assert_eq!(rows.len(), 100);
    assert_eq!(
        (rows[0]["line"].as_str(), rows[99]["line"].as_str()),
        (Some("2"), Some("101"))
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("5,000 bad rows (the first 100 are listed); nothing was written"),
        "{e}"
    );

    // One cell of a mebibyte: quoted with 60 characters and its length, not echoed.
    let cell = "7".repeat(1 << 20);
    let r = upload(
        &mut admin,
        "stock",
        "bad-2",
        &format!("product_id,quantity\n1,{cell}\n"),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.len() < 2_000, "a {} byte refusal", r.body.len());
    assert_eq!(
        r.json()["badRows"][0]["message"],
        format!(
            "quantity must be an integer, got \"{}\"… (1048576 characters)",
            "7".repeat(60)
        )
    );
    shop.stop().await;
}

async fn metric(s: &mut Shopper, series: &str) -> f64 {
    let text = String::from_utf8(s.get("/metrics").await.body.to_vec()).unwrap();
    sample(&text, series).unwrap_or(-1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_while_another_is_in_progress_gets_503_with_retry_after() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_cluster, shop, mut admin) = seeded().await;
    let before = applied(&mut admin, "checkout").await;
    // The first upload sends its head and half its body, and holds the rest back.
    let body = "product_id,quantity\n1,5\n3,0\n";
    let (half, rest) = body.split_at(20);
    let mut held = tokio::net::TcpStream::connect(shop.addr).await.unwrap();
    let head = format!(
        "POST /api/admin/imports/stock HTTP/1.1\r\nHost: shop\r\nAuthorization: {}\r\n\
         Content-Type: text/csv\r\nIdempotency-Key: held-1\r\nContent-Length: {}\r\n\r\n{half}",
        auth(),
        body.len()
    );
    held.write_all(head.as_bytes()).await.unwrap();
    eventually(LIMIT, "the first upload holds the import slot", || {
        let mut a = admin.clone();
        async move { metric(&mut a, "shop_imports_running").await == 1.0 }
    })
    .await;

    let r = upload(
        &mut admin,
        "stock",
        "second-1",
        "product_id,quantity\n1,5\n",
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers["retry-after"], "5");
    let e = r.json();
    assert_eq!(e["code"], "import_in_progress");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("import is in progress"),
        "{e}"
    );
    assert_eq!(e["retryAfterSeconds"], 5);
    assert_eq!(
        metric(&mut admin, r#"shop_imports_total{result="busy"}"#).await,
        1.0
    );

    // The first one goes on: its bad row refuses it, and the slot is free again.
    held.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut buf = [0u8; 4096];
        let n = held.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 422"), "{answer}");
    assert_eq!(metric(&mut admin, "shop_imports_running").await, 0.0);
    let r = upload(
        &mut admin,
        "stock",
        "second-1",
        "product_id,quantity\n1,5\n",
    )
    .await
    .expect(StatusCode::ACCEPTED);
    done(&admin, "stock", r.json()["id"].as_str().unwrap()).await;
    assert_eq!(applied(&mut admin, "checkout").await, before + 1.0);
    shop.stop().await;
}

async fn events(s: &mut Shopper, query: &str) -> Value {
    admin_get(s, &format!("/api/admin/events?{query}"))
        .await
        .expect(StatusCode::OK)
        .json()
}

fn entries(log: &Value) -> Vec<Value> {
    log["entries"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_log_describes_each_event_and_never_names_a_cart() {
    let (_cluster, shop, mut admin) = seeded().await;
    let mut shopper = Shopper::new(shop.addr);
    shopper.set_line(3, 2, "l1").await.expect(StatusCode::OK);
    let cart_id = shopper
        .cookie
        .clone()
        .unwrap()
        .trim_start_matches("cart=")
        .to_owned();
    let v = shopper.cart_version().await;
    shopper
        .place_order(v, "o1")
        .await
        .expect(StatusCode::CREATED);
    shopper.set_line(3, 1, "l2").await.expect(StatusCode::OK);
    let v = shopper.cart_version().await;
    shopper
        .place_order(v, "o2")
        .await
        .expect(StatusCode::CONFLICT);

    let log = events(&mut admin, "limit=1000").await;
    let all = entries(&log);
    let text = log.to_string();
    assert!(!text.contains(&cart_id), "the cart id in the event log");
    // Newest first.
    let times: Vec<i64> = all
        .iter()
        .map(|e| e["timestampMs"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    let checkout = events(&mut admin, "context=checkout&product_id=3").await;
    let list = entries(&checkout);
    let kinds: Vec<&str> = list.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"stock_delivered")
            && kinds.contains(&"cart_line_set")
            && kinds.contains(&"order_requested_v2"),
        "{kinds:?}"
    );
    let delivery = list
        .iter()
        .find(|e| e["kind"] == "stock_delivered")
        .unwrap();
    assert_eq!(
        delivery["changes"][0],
        json!({"field": "stock of product 3", "before": "0", "after": "2"})
    );
    assert!(
        delivery["json"]
            .as_str()
            .unwrap()
            .contains("stockDeliveredV1")
    );
    let placed = list.iter().find(|e| e["orderId"] == "1").unwrap();
    assert_eq!(
        placed["changes"][0],
        json!({"field": "stock of product 3", "before": "2", "after": "0"})
    );
    let rejected = list
        .iter()
        .find(|e| e["summary"].as_str().unwrap().contains("rejected"))
        .unwrap();
    assert!(
        rejected["summary"]
            .as_str()
            .unwrap()
            .contains("out_of_stock"),
        "{rejected}"
    );
    let hash = placed["cart"].as_str().unwrap();
    assert_eq!(hash.len(), 10);
    assert!(!placed["json"].as_str().unwrap().contains(&cart_id));
    // By cart: that cart's events only (its lines and orders).
    let mine = events(&mut admin, &format!("cart={}", &hash[..6])).await;
    let mine = entries(&mine);
    assert_eq!(mine.len(), 4, "{mine:#?}");
    assert!(mine.iter().all(|e| e["cart"] == hash));
    // Catalog events carry what changed.
    admin
        .admin(
            Method::PUT,
            "/api/admin/products/1/price",
            "p1",
            json!({"priceMinor": 1999}),
        )
        .await
        .expect(StatusCode::OK);
    let price = events(&mut admin, "context=catalog&kind=price_changed").await;
    assert_eq!(
        entries(&price)[0]["changes"][0],
        json!({"field": "price", "before": "€25.00", "after": "€19.99"})
    );
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_figures_are_the_metrics_figures() {
    let (_cluster, shop, mut admin) = seeded().await;
    admin
        .admin(
            Method::PUT,
            "/api/admin/products/1/price",
            "p1",
            json!({"priceMinor": 2500}),
        )
        .await;
    // Quiet now: both reads see the same moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = events(&mut admin, "limit=1").await;
    let text = String::from_utf8(admin.get("/metrics").await.body.to_vec()).unwrap();
    for f in log["contexts"].as_array().unwrap() {
        let c = f["context"].as_str().unwrap();
        let metric = |name: &str| sample(&text, &format!("{name}{{context=\"{c}\"}}")).unwrap();
        let summed = |name: &str| -> f64 {
            text.lines()
                .filter(|l| l.starts_with(&format!("{name}{{context=\"{c}\"")))
                .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
                .sum()
        };
        let n = |k: &str| f[k].as_str().unwrap_or("0").parse::<f64>().unwrap();
        assert_eq!(
            n("appliedOffset"),
            metric("shop_context_applied_offset"),
            "{c}"
        );
        assert_eq!(
            n("highWatermark"),
            metric("shop_context_high_watermark_offset"),
            "{c}"
        );
        assert_eq!(n("lag"), metric("shop_context_lag_events"), "{c}");
        assert_eq!(
            f["ready"] == true,
            metric("shop_context_ready") == 1.0,
            "{c}"
        );
        assert_eq!(
            n("appliedEvents"),
            summed("shop_events_applied_total"),
            "{c}"
        );
        assert_eq!(
            n("ignoredEvents"),
            summed("shop_events_ignored_total"),
            "{c}"
        );
        assert_eq!(n("poisonEvents"), metric("shop_events_poison_total"), "{c}");
        assert!(n("appliedEvents") > 0.0, "{c}");
    }
    assert!(
        summed_positive(&text, "shop_events_ignored_total"),
        "the same price was ignored"
    );
    shop.stop().await;
}

fn summed_positive(text: &str, name: &str) -> bool {
    text.lines()
        .filter(|l| l.starts_with(name))
        .any(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap() > 0.0)
}

async fn socket(
    addr: std::net::SocketAddr,
    protocols: Option<&str>,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    tungstenite::Error,
> {
    let mut req = format!("ws://{addr}/api/admin/events/ws")
        .into_client_request()
        .unwrap();
    if let Some(p) = protocols {
        req.headers_mut()
            .insert("sec-websocket-protocol", p.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, resp)| {
            assert_eq!(resp.headers()["sec-websocket-protocol"], "shop-admin");
            ws
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_log_socket_is_for_the_admin_and_pushes_each_event() {
    use base64::Engine as _;
    let (_cluster, shop, _admin) = seeded().await;
    let addr = shop.addr;
    match socket(addr, None).await {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), StatusCode::UNAUTHORIZED),
        other => panic!("no token: {:?}", other.map(|_| ())),
    }
    match socket(addr, Some("shop-admin, bearer.d3Jvbmc")).await {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), StatusCode::UNAUTHORIZED),
        other => panic!("a wrong token: {:?}", other.map(|_| ())),
    }
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ADMIN_TOKEN);
    let mut ws = socket(addr, Some(&format!("shop-admin, bearer.{token}")))
        .await
        .unwrap();
    let mut next = async || loop {
        let m = tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("a frame in time");
        match m {
            Some(Ok(Message::Binary(b))) => {
                return EventLogFrame::decode(b).unwrap().frame.unwrap();
            }
            Some(Ok(_)) => continue,
            other => panic!("the socket ended: {other:?}"),
        }
    };
    let Frame::Snapshot(first) = next().await else {
        panic!("the first frame is a snapshot")
    };
    assert!(first.entries.iter().any(|e| e.kind == "stock_delivered"));
    assert_eq!(first.contexts.len(), 2);
    let mut shopper = Shopper::new(addr);
    shopper.set_line(1, 1, "l1").await.expect(StatusCode::OK);
    loop {
        match next().await {
            Frame::Entries(b) if b.entries.iter().any(|e| e.kind == "cart_line_set") => {
                let e = b
                    .entries
                    .iter()
                    .find(|e| e.kind == "cart_line_set")
                    .unwrap();
                assert_eq!(e.product_ids, [1]);
                assert_eq!(e.cart.len(), 10);
                break;
            }
            Frame::Entries(_) | Frame::Figures(_) => {}
            Frame::Snapshot(_) => panic!("a snapshot again although the socket kept up"),
        }
    }
    drop(ws);
    shop.stop().await;
}
