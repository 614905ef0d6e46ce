//! Integration tests of the HTTP API: the real server on port 0, in this process, on
//! librdkafka's mock cluster (a Kafka-protocol broker inside librdkafka).

mod support;

use std::time::Duration;

use http::{Method, StatusCode};
use prost::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use shared::proto::{CartView, ProductPage, SetCartLine};
use support::{Cluster, InProcess, Shopper, config, mock_cluster};

struct Shop {
    _cluster: Cluster,
    brokers: String,
    shop: InProcess,
}

fn cluster() -> (Cluster, String) {
    let cluster = mock_cluster();
    let brokers = cluster.bootstrap_servers();
    (cluster, brokers)
}

async fn shop() -> Shop {
    let (cluster, brokers) = cluster();
    let shop = InProcess::start(config(&brokers, &[])).await;
    Shop {
        _cluster: cluster,
        brokers,
        shop,
    }
}

/// Events in both topics: bad input must leave these unchanged.
fn log_sizes(brokers: &str) -> (i64, i64) {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let high = |t| c.fetch_watermarks(t, 0, Duration::from_secs(5)).unwrap().1;
    (high("shop.catalog.v1"), high("shop.checkout.v1"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_lists_pages_sorts_filters_and_searches() {
    let s = shop().await;
    let mut admin = Shopper::new(s.shop.addr);
    admin
        .add_product(1, "Desk lamp", "Home & Garden", 2500, 10)
        .await;
    admin.add_product(2, "Desk chair", "Office", 9900, 0).await;
    admin
        .add_product(3, "Floor lamp", "Home & Garden", 4500, 2)
        .await;
    admin.add_product(4, "Notebook", "Office", 300, 100).await;

    let ids = |r: &serde_json::Value| {
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let r = admin
        .get("/api/products?page_size=2")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (ids(&r), r["totalItems"].as_str(), r["totalPages"].as_u64()),
        (vec!["2".into(), "1".into()], Some("4"), Some(2))
    );
    let r = admin
        .get("/api/products?sort=price&order=desc")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(ids(&r), ["2", "3", "1", "4"]);
    let r = admin
        .get("/api/products?prefix=DESK&sort=id")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(ids(&r), ["1", "2"]);
    let r = admin
        .get("/api/products?q=lamp&category=Home%20%26%20Garden&sort=price")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(ids(&r), ["1", "3"]);
    let r = admin
        .get("/api/products?category=home-garden&page=2&page_size=1")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(ids(&r), ["3"]);

    let p = admin
        .get("/api/products/3")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        p["availability"],
        serde_json::json!({"status": "LOW_STOCK", "available": "2"})
    );
    assert_eq!(
        admin.get("/api/products/2").await.json()["availability"]["status"],
        "OUT_OF_STOCK"
    );
    assert_eq!(
        admin.get("/api/products/1").await.json()["availability"]["status"],
        "IN_STOCK"
    );

    let c = admin
        .get("/api/categories")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        c,
        serde_json::json!({"categories": [
        {"slug": "home-garden", "name": "Home & Garden", "productCount": "2"},
        {"slug": "office", "name": "Office", "productCount": "2"}]})
    );

    admin
        .admin(
            Method::PUT,
            "/api/admin/products/4/price",
            "price-4",
            serde_json::json!({"priceMinor": 250}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        admin.get("/api/products/4").await.json()["price"]["minor"],
        "250"
    );
    admin
        .admin(
            Method::DELETE,
            "/api/admin/products/4",
            "off-4",
            serde_json::json!({}),
        )
        .await
        .expect(StatusCode::OK);
    admin
        .get("/api/products/4")
        .await
        .expect(StatusCode::NOT_FOUND);
    assert_eq!(admin.get("/api/products").await.json()["totalItems"], "3");
    s.shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_fills_a_cart_and_orders_it_once() {
    let s = shop().await;
    let mut admin = Shopper::new(s.shop.addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 3).await;
    admin.add_product(2, "Chair", "Home", 9900, 1).await;

    let mut alice = Shopper::new(s.shop.addr);
    let empty = alice.get("/api/cart").await.expect(StatusCode::OK);
    let cookie = empty.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    // 16 random bytes and a 16-byte MAC of them, in hex.
    assert_eq!(alice.cookie.as_ref().unwrap().len(), "cart=".len() + 64);

    let cart = alice
        .set_line(1, 2, "a1")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(cart["version"], "1");
    assert_eq!(
        cart["lines"][0]["lineTotal"],
        serde_json::json!({"minor": "5000", "currency": "EUR"})
    );
    let cart = alice
        .set_line(2, 1, "a2")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (cart["version"].as_str(), cart["itemCount"].as_u64()),
        (Some("2"), Some(3))
    );
    assert_eq!(
        cart["totals"],
        serde_json::json!([{"minor": "14900", "currency": "EUR"}])
    );
    // The same key again: one effect, same answer.
    assert_eq!(
        alice
            .set_line(2, 1, "a2")
            .await
            .expect(StatusCode::OK)
            .json()["version"],
        "2"
    );
    // A delivery adds, so a retried key applied twice would show: 3 + 2, not 3 + 4.
    for _ in 0..2 {
        let body = serde_json::json!({"productId": "1", "quantity": 2});
        admin
            .admin(Method::POST, "/api/admin/stock", "more-lamps", body)
            .await
            .expect(StatusCode::OK);
    }
    assert_eq!(
        admin.get("/api/products/1").await.json()["availability"]["available"],
        "5"
    );

    // An order for a version the shopper did not see is refused.
    let r = alice
        .place_order(1, "o-stale")
        .await
        .expect(StatusCode::CONFLICT)
        .json();
    assert_eq!(
        (r["code"].as_str(), r["rejection"]["reason"].as_str()),
        (Some("cart_changed"), Some("CART_CHANGED"))
    );

    // A double click sends the same body twice: the cart as it was shown.
    let shown = alice.get("/api/cart").await.json()["lines"].clone();
    let order = alice
        .place_shown(2, shown.clone(), "o1")
        .await
        .expect(StatusCode::CREATED)
        .json();
    let again = alice
        .place_shown(2, shown, "o1")
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(order, again, "a double click makes one order");
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(
        alice.get("/api/orders").await.json()["orders"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    alice
        .get(&format!("/api/orders/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(alice.get("/api/cart").await.json()["version"], "3");
    assert_eq!(
        admin.get("/api/products/1").await.json()["availability"]["available"],
        "3"
    );

    // Another cart sees none of it.
    let mut bob = Shopper::new(s.shop.addr);
    bob.get(&format!("/api/orders/{id}"))
        .await
        .expect(StatusCode::NOT_FOUND);
    assert!(
        bob.get("/api/orders").await.json()["orders"]
            .as_array()
            .is_none_or(|o| o.is_empty())
    );
    assert_eq!(bob.get("/api/cart").await.json().get("lines"), None);

    // The chair is gone: Bob's order names the line and what is left.
    bob.set_line(2, 1, "b1").await.expect(StatusCode::OK);
    let r = bob
        .place_order(1, "b-o1")
        .await
        .expect(StatusCode::CONFLICT)
        .json();
    assert_eq!(r["code"], "out_of_stock");
    assert_eq!(
        r["rejection"],
        serde_json::json!({"reason": "OUT_OF_STOCK_LINE", "productId": "2", "requested": 1})
    );
    assert_eq!(r["message"], "“Chair” is sold out");
    s.shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_bodies_both_ways() {
    let s = shop().await;
    let mut admin = Shopper::new(s.shop.addr);
    admin.add_product(7, "Kettle", "Kitchen", 3999, 5).await;
    let mut shopper = Shopper::new(s.shop.addr);
    let body = SetCartLine { quantity: 2 }.encode_to_vec();
    let r = shopper
        .send(
            Method::PUT,
            "/api/cart/lines/7",
            &[
                ("content-type", "application/x-protobuf"),
                ("accept", "application/x-protobuf"),
                ("idempotency-key", "pb1"),
            ],
            body,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/x-protobuf");
    let cart: CartView = r.decode();
    assert_eq!(
        (
            cart.version,
            cart.lines[0].quantity,
            cart.lines[0].title.as_str()
        ),
        (1, 2, "Kettle")
    );
    let page: ProductPage = shopper
        .send(
            Method::GET,
            "/api/products",
            &[("accept", "application/x-protobuf")],
            vec![],
        )
        .await
        .decode();
    assert_eq!(page.items[0].price.as_ref().unwrap().minor, 3999);
    s.shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_4xx_and_writes_nothing() {
    let s = shop().await;
    let mut admin = Shopper::new(s.shop.addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 3).await;
    let mut sh = Shopper::new(s.shop.addr);
    sh.get("/api/cart").await;
    let before = log_sizes(&s.brokers);

    let json = |sh: &mut Shopper, m: Method, path: &str, body: &'static str| {
        let mut sh = sh.clone();
        let path = path.to_owned();
        async move {
            sh.send(
                m,
                &path,
                &[
                    ("content-type", "application/json"),
                    ("idempotency-key", "bad"),
                ],
                body,
            )
            .await
        }
    };
    let cases: Vec<(support::Reply, StatusCode, &str)> = vec![
        (json(&mut sh, Method::PUT, "/api/cart/lines/1", "{\"quantity\": ").await, StatusCode::BAD_REQUEST, "malformed JSON body"),
        (json(&mut sh, Method::PUT, "/api/cart/lines/1", "{\"quantity\": -1}").await, StatusCode::BAD_REQUEST, "malformed JSON body"),
        (json(&mut sh, Method::PUT, "/api/cart/lines/1", "{\"quantity\": 100}").await, StatusCode::BAD_REQUEST, "quantity must be between 0 and 99"),
        (json(&mut sh, Method::PUT, "/api/cart/lines/1", "{\"qty\": 1}").await, StatusCode::BAD_REQUEST, "malformed JSON body"),
        (json(&mut sh, Method::PUT, "/api/cart/lines/999", "{\"quantity\": 1}").await, StatusCode::NOT_FOUND, "no product 999"),
        (json(&mut sh, Method::PUT, "/api/cart/lines/abc", "{\"quantity\": 1}").await, StatusCode::BAD_REQUEST, "product id must be a positive integer"),
        (json(&mut sh, Method::POST, "/api/orders", "").await, StatusCode::BAD_REQUEST, "a JSON body is required"),
        (json(&mut sh, Method::POST, "/api/products", "{}").await, StatusCode::METHOD_NOT_ALLOWED, "allowed methods: GET"),
        (json(&mut sh, Method::PUT, "/api/admin/products/5", "{}").await, StatusCode::UNAUTHORIZED, "Authorization: Bearer"),
        (sh.send(Method::PUT, "/api/cart/lines/1", &[("content-type", "application/x-protobuf"), ("idempotency-key", "k")], vec![0x08]).await, StatusCode::BAD_REQUEST, "malformed protobuf body"),
        (sh.send(Method::PUT, "/api/cart/lines/1", &[("content-type", "text/plain"), ("idempotency-key", "k")], "1").await, StatusCode::UNSUPPORTED_MEDIA_TYPE, "not supported"),
        (sh.send(Method::PUT, "/api/cart/lines/1", &[("content-type", "application/json")], "{\"quantity\": 1}").await, StatusCode::BAD_REQUEST, "Idempotency-Key header is required"),
        (sh.send(Method::PUT, "/api/cart/lines/1", &[("content-type", "application/json"), ("idempotency-key", "big")], vec![b' '; 70_000]).await, StatusCode::PAYLOAD_TOO_LARGE, "exceeds 65536 bytes"),
        (sh.get("/api/products?page=0").await, StatusCode::BAD_REQUEST, "page must be 1 or more"),
        (sh.get("/api/products?page_size=101").await, StatusCode::BAD_REQUEST, "page_size must be between 1 and 100"),
        (sh.get("/api/products?sort=colour").await, StatusCode::BAD_REQUEST, "sort must be relevance, name, price or id"),
        (sh.get("/api/products?pgae=2").await, StatusCode::BAD_REQUEST, "unknown query parameter \"pgae\""),
        (sh.get("/api/products/0").await, StatusCode::BAD_REQUEST, "product id must be a positive integer"),
        (sh.get("/api/orders/xyz").await, StatusCode::BAD_REQUEST, "order id must be a positive integer"),
        (sh.get("/api/nothing").await, StatusCode::NOT_FOUND, "no such endpoint"),
        (admin.admin(Method::PUT, "/api/admin/products/5", "bad-p", serde_json::json!({"title": "", "category": "X", "price": {"minor": 1, "currency": "EUR"}})).await, StatusCode::BAD_REQUEST, "title must be between 1 and 200"),
        (admin.admin(Method::PUT, "/api/admin/products/5", "bad-p2", serde_json::json!({"title": "T", "category": "X", "price": {"minor": 1, "currency": "euro"}})).await, StatusCode::BAD_REQUEST, "currency must be an ISO 4217 code"),
        (admin.admin(Method::POST, "/api/admin/stock", "bad-s", serde_json::json!({"productId": "1", "quantity": 0})).await, StatusCode::BAD_REQUEST, "quantity must be between 1 and"),
        (admin.admin(Method::POST, "/api/admin/stock", "bad-s2", serde_json::json!({"productId": "77", "quantity": 1})).await, StatusCode::NOT_FOUND, "no product 77"),
        (admin.admin(Method::PUT, "/api/admin/products/77/price", "bad-pr", serde_json::json!({"priceMinor": 5})).await, StatusCode::NOT_FOUND, "no product 77"),
        // The key of an applied command, with other content.
        (admin.admin(Method::POST, "/api/admin/stock", "s1-3", serde_json::json!({"productId": "1", "quantity": 4})).await, StatusCode::UNPROCESSABLE_ENTITY, "already used for a different request"),
    ];
    for (i, (reply, status, says)) in cases.into_iter().enumerate() {
        assert_eq!(
            reply.status,
            status,
            "case {i}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let msg = reply.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(msg.contains(says), "case {i}: {msg:?} should say {says:?}");
    }
    assert_eq!(log_sizes(&s.brokers), before, "bad input reached Kafka");
    assert_eq!(sh.get("/healthz").await.status, StatusCode::OK);
    s.shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_shop_replays_to_the_same_state() {
    let (_cluster, brokers) = cluster();
    let shop = InProcess::start(config(&brokers, &[])).await;
    let mut admin = Shopper::new(shop.addr);
    for id in 1..=30u64 {
        admin
            .add_product(
                id,
                &format!("Product {id:02}"),
                ["A", "B", "C"][id as usize % 3],
                100 * id as i64,
                id as u32 % 4,
            )
            .await;
    }
    let mut sh = Shopper::new(shop.addr);
    sh.set_line(3, 2, "l1").await.expect(StatusCode::OK);
    sh.set_line(7, 1, "l2").await.expect(StatusCode::OK);
    sh.place_order(2, "o1").await.expect(StatusCode::CREATED);
    sh.set_line(5, 1, "l3").await.expect(StatusCode::OK);
    let paths = [
        "/api/products?page_size=100",
        "/api/products?sort=price&order=desc",
        "/api/categories",
        "/api/cart",
        "/api/orders",
    ];
    let mut before = vec![];
    for p in paths {
        before.push(sh.get(p).await.expect(StatusCode::OK).body);
    }
    shop.stop().await;

    let shop = InProcess::start(config(&brokers, &[])).await;
    let mut sh = sh.via(shop.addr);
    for (p, b) in paths.iter().zip(before) {
        assert_eq!(sh.get(p).await.body, b, "{p} differs after restart");
    }
    shop.stop().await;
}

/// A command whose event is written but not applied before the command timeout is answered 503
/// with `Retry-After`, and its retry with the same key answers from the applied event: one
/// effect. With a timeout of 0 the wait ends at once unless the event is already applied, so a
/// few tries surely see the 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_not_applied_in_time_is_503_with_retry_after_and_its_retry_has_one_effect() {
    let cluster = mock_cluster();
    let shop = InProcess::start(config(
        &cluster.bootstrap_servers(),
        &["--command-timeout-ms", "0"],
    ))
    .await;
    let mut admin = Shopper::new(shop.addr);
    let p = serde_json::json!({"title": "Lamp", "description": "A lamp", "category": "Home",
        "price": {"minor": 2500, "currency": "EUR"}});
    support::until_ok(Duration::from_secs(20), "the product", || {
        let mut a = admin.clone();
        let p = p.clone();
        async move { a.admin(Method::PUT, "/api/admin/products/1", "p1", p).await }
    })
    .await;
    let mut timed_out = 0;
    let mut delivered = 0;
    for i in 0..20 {
        let key = format!("slow-{i}");
        let body = serde_json::json!({"productId": "1", "quantity": 1});
        let r = admin
            .admin(Method::POST, "/api/admin/stock", &key, body.clone())
            .await;
        delivered += 1;
        if r.status == StatusCode::OK {
            continue;
        }
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
        assert_eq!(r.headers["retry-after"], "1");
        assert_eq!(r.json()["code"], "unavailable");
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap()
                .contains("not applied yet; retry with the same Idempotency-Key"),
            "{r:?}"
        );
        timed_out += 1;
        support::until_ok(Duration::from_secs(20), "the retried delivery", || {
            let mut a = admin.clone();
            let (key, body) = (key.clone(), body.clone());
            async move { a.admin(Method::POST, "/api/admin/stock", &key, body).await }
        })
        .await;
        if timed_out == 3 {
            break;
        }
    }
    assert!(timed_out > 0, "no command timed out in 20 tries");
    // Every key took effect once, answered 200 or 503 first.
    support::eventually(Duration::from_secs(20), "every delivery applied", || {
        let mut a = admin.clone();
        async move {
            a.get("/api/products/1").await.json()["availability"]["available"]
                == delivered.to_string().as_str()
        }
    })
    .await;
    shop.stop().await;
}

/// Before both contexts have replayed, the API answers 503 with `Retry-After` and says why;
/// `/readyz` says the same, and `/healthz` is 200 (a writer waiting for an unreachable broker is
/// not stuck).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_replaying_the_api_is_503_with_retry_after() {
    support::init_logs();
    // No broker listens there: the contexts cannot replay.
    let nowhere = format!("127.0.0.1:{}", support::free_port());
    let (stop, shutdown) = backend::shutdown::channel();
    let server = backend::app::Server::start(config(&nowhere, &[]), shutdown)
        .await
        .expect("the server starts before the replay");
    let mut s = Shopper::new(server.addr);
    for path in ["/api/products", "/api/cart"] {
        let r = s.get(path).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(r.headers["retry-after"], "1", "{path}");
        let message = r.json()["message"].as_str().unwrap().to_owned();
        assert!(
            message.starts_with("the shop is not ready: ")
                && message.contains("is replaying its log"),
            "{message}"
        );
    }
    let r = s
        .set_line(1, 1, "early")
        .await
        .expect(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers["retry-after"], "1");
    let ready = s
        .get("/readyz")
        .await
        .expect(StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        ready.json()["reason"]
            .as_str()
            .unwrap()
            .contains("is replaying its log"),
        "{:?}",
        ready.json()
    );
    s.get("/healthz").await.expect(StatusCode::OK);
    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(30), server.stopped())
        .await
        .expect("a server that never replayed still stops");
}
