//! What a hostile client cannot do to the real server (in process, on librdkafka's mock
//! cluster): grow the shop with commands that change nothing, hold connections past their
//! deadlines or beyond the cap, open the live socket from a foreign page, or fill a cart
//! without end. Each test names the limit it holds, with small limits so it runs in seconds.

mod support;

use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{InProcess, Shopper, config, mock_cluster, sample};

async fn shop(extra: &[&str]) -> (support::Cluster, InProcess) {
    let cluster = mock_cluster();
    let shop = InProcess::start(config(&cluster.bootstrap_servers(), extra)).await;
    (cluster, shop)
}

async fn metrics(addr: std::net::SocketAddr) -> String {
    let r = Shopper::new(addr)
        .get("/metrics")
        .await
        .expect(StatusCode::OK);
    String::from_utf8(r.body.to_vec()).unwrap()
}

/// Reads until the server closes the connection; the bytes read, or None if it stays open for
/// `limit`.
async fn closed_within(tcp: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_commands_that_change_nothing_write_nothing_and_make_no_cart() {
    let (_cluster, shop) = shop(&[]).await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 5).await;
    let before = metrics(shop.addr).await;
    let offset = |m: &str| sample(m, r#"shop_context_applied_offset{context="checkout"}"#);
    for i in 0..300 {
        // No cookie: a new visitor each time, removing a line it does not have.
        let mut visitor = Shopper::new(shop.addr);
        let r = visitor
            .set_line(1, 0, &format!("noop-{i}"))
            .await
            .expect(StatusCode::OK);
        assert!(r.json()["lines"].is_null(), "an empty cart");
        assert!(
            visitor.cookie.is_none(),
            "no cart cookie for a cart that does not exist"
        );
    }
    // The same quantity again, by a shopper who has the line: no event either.
    let mut alice = Shopper::new(shop.addr);
    alice.set_line(1, 2, "a1").await.expect(StatusCode::OK);
    let with_line = metrics(shop.addr).await;
    let r = alice.set_line(1, 2, "a2").await.expect(StatusCode::OK);
    assert_eq!(r.json()["lines"][0]["quantity"], 2);
    let after = metrics(shop.addr).await;
    assert_eq!(
        offset(&with_line),
        offset(&after),
        "the same quantity again wrote an event"
    );
    assert_eq!(
        offset(&with_line).unwrap() - offset(&before).unwrap(),
        1.0,
        "300 no-ops and one real line: one event"
    );
    assert_eq!(
        sample(
            &after,
            r#"shop_model_entries{context="checkout",kind="carts"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &after,
            r#"shop_commands_total{kind="cart_line",result="no_op"}"#
        ),
        Some(301.0)
    );
    assert!(
        sample(
            &after,
            r#"shop_model_entries{context="checkout",kind="commands"}"#
        )
        .is_some_and(|n| n >= 2.0),
        "idempotency records are counted: {after}"
    );
    // Stopped before its cluster is dropped: writers must not outlive their brokers.
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_holds_at_most_its_line_limit() {
    let (_cluster, shop) = shop(&["--cart-max-lines", "2"]).await;
    let mut admin = Shopper::new(shop.addr);
    for id in 1..=3 {
        admin
            .add_product(id, &format!("Lamp {id}"), "Home", 1000, 5)
            .await;
    }
    let mut alice = Shopper::new(shop.addr);
    alice.set_line(1, 1, "l1").await.expect(StatusCode::OK);
    alice.set_line(2, 1, "l2").await.expect(StatusCode::OK);
    let full = alice
        .set_line(3, 1, "l3")
        .await
        .expect(StatusCode::CONFLICT)
        .json();
    assert_eq!(full["code"], "cart_full");
    assert!(full["message"].as_str().unwrap().contains("at most 2"));
    alice.set_line(2, 3, "l4").await.expect(StatusCode::OK);
    alice.set_line(1, 0, "l5").await.expect(StatusCode::OK);
    alice.set_line(3, 1, "l6").await.expect(StatusCode::OK);
    // Stopped before its cluster is dropped: writers must not outlive their brokers.
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_heads_and_bodies_are_closed_at_their_deadlines() {
    let (_cluster, shop) = shop(&["--header-timeout-ms", "500", "--body-timeout-ms", "500"]).await;
    // A head that never ends.
    let mut head = TcpStream::connect(shop.addr).await.unwrap();
    head.write_all(b"GET /api/cart HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A body that never comes: 65,000 bytes announced, one sent.
    let mut body = TcpStream::connect(shop.addr).await.unwrap();
    body.write_all(
        b"PUT /api/cart/lines/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Idempotency-Key: slow\r\nContent-Length: 65000\r\n\r\n{",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let (head_seen, body_seen) = tokio::join!(
        closed_within(&mut head, Duration::from_secs(5)),
        closed_within(&mut body, Duration::from_secs(5))
    );
    assert!(
        head_seen.is_some(),
        "the stalled head is still open after 5 s"
    );
    let body_seen =
        String::from_utf8(body_seen.expect("the stalled body is still open after 5 s")).unwrap();
    assert!(body_seen.starts_with("HTTP/1.1 408"), "{body_seen}");
    assert!(body_seen.contains("request_timeout"), "{body_seen}");
    assert!(started.elapsed() >= Duration::from_millis(450));
    // Meanwhile and after, the shop answers.
    Shopper::new(shop.addr)
        .get("/healthz")
        .await
        .expect(StatusCode::OK);
    // Stopped before its cluster is dropped: writers must not outlive their brokers.
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_at_the_send_deadline() {
    let (_cluster, shop) = shop(&["--send-timeout-ms", "500"]).await;
    let mut admin = Shopper::new(shop.addr);
    for id in 1..=100 {
        admin
            .add_product(
                id,
                &format!("A rather long product title number {id}"),
                "Home",
                1000,
                0,
            )
            .await;
    }
    let mut tcp = TcpStream::connect(shop.addr).await.unwrap();
    // Pipelined requests for the largest page, never read: the socket buffers fill, the server's
    // writes stall.
    let request = b"GET /api/products?page_size=100 HTTP/1.1\r\nHost: x\r\n\r\n";
    let pipelined: Vec<u8> = request
        .iter()
        .copied()
        .cycle()
        .take(request.len() * 400)
        .collect();
    let _ = tokio::time::timeout(Duration::from_secs(2), tcp.write_all(&pipelined)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        closed_within(&mut tcp, Duration::from_secs(10))
            .await
            .is_some(),
        "the connection of a client that stopped reading is still open"
    );
    // Stopped before its cluster is dropped: writers must not outlive their brokers.
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_cap_the_next_client_waits_for_a_free_place() {
    let (_cluster, shop) = shop(&["--max-connections", "3"]).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(shop.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut waiting = Shopper::new(shop.addr);
    let early = tokio::time::timeout(Duration::from_millis(700), waiting.get("/healthz")).await;
    assert!(
        early.is_err(),
        "a fourth connection was served at a cap of three"
    );
    drop(held.pop());
    let late = tokio::time::timeout(Duration::from_secs(5), waiting.get("/healthz")).await;
    assert_eq!(
        late.expect("served once a place was free").status,
        StatusCode::OK
    );
    // Stopped before its cluster is dropped: writers must not outlive their brokers.
    shop.stop().await;
}

/// The answer to a websocket upgrade with these extra headers: its status line.
async fn upgrade_status(addr: std::net::SocketAddr, extra: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET /api/ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    while !seen.ends_with(b"\r\n") {
        seen.push(tcp.read_u8().await.expect("an answer"));
    }
    // Kept open (a refused upgrade closes nothing): a 101 must hold its place in the caps.
    std::mem::forget(tcp);
    String::from_utf8(seen).unwrap().trim_end().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_socket_refuses_foreign_origins_and_caps_sockets_per_client() {
    let (_cluster, shop) = shop(&[
        "--allowed-origins",
        "https://shop.example",
        "--live-max-sockets-per-client",
        "3",
    ])
    .await;
    let addr = shop.addr;
    assert_eq!(
        upgrade_status(
            addr,
            "Origin: http://evil.example\r\nCookie: cart=0000000000000000000000000000000a\r\n"
        )
        .await,
        "HTTP/1.1 403 Forbidden"
    );
    assert_eq!(
        upgrade_status(
            addr,
            &format!("Origin: http://127.0.0.1:{}\r\n", addr.port() + 1)
        )
        .await,
        "HTTP/1.1 403 Forbidden",
        "another port of the same host"
    );
    assert_eq!(
        upgrade_status(addr, &format!("Origin: http://{addr}\r\n")).await,
        "HTTP/1.1 101 Switching Protocols"
    );
    assert_eq!(
        upgrade_status(addr, "Origin: https://shop.example\r\n").await,
        "HTTP/1.1 101 Switching Protocols"
    );
    assert_eq!(
        upgrade_status(addr, "").await,
        "HTTP/1.1 101 Switching Protocols",
        "no Origin: not a browser"
    );
    assert_eq!(
        upgrade_status(addr, "").await,
        "HTTP/1.1 429 Too Many Requests",
        "a fourth socket from one address"
    );
    // Stopped before its cluster is dropped: writers must not outlive their brokers.
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_cors_for_listed_origins_only() {
    let (_cluster, shop) = shop(&["--allowed-origins", "https://shop.example"]).await;
    let mut s = Shopper::new(shop.addr);
    let preflight = |origin: &'static str| {
        let mut s = s.clone();
        async move {
            s.send(
                http::Method::OPTIONS,
                "/api/orders",
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "content-type, idempotency-key",
                    ),
                ],
                bytes::Bytes::new(),
            )
            .await
        }
    };
    let ok = preflight("https://shop.example").await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT);
    assert_eq!(
        ok.headers["access-control-allow-origin"],
        "https://shop.example"
    );
    assert_eq!(ok.headers["access-control-allow-credentials"], "true");
    let allowed = ok.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("idempotency-key") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert_eq!(
        preflight("https://evil.example").await.status,
        StatusCode::FORBIDDEN
    );
    let listed = s
        .send(
            http::Method::GET,
            "/api/cart",
            &[("origin", "https://shop.example")],
            bytes::Bytes::new(),
        )
        .await;
    assert_eq!(
        listed.headers["access-control-allow-origin"],
        "https://shop.example"
    );
    assert_eq!(listed.headers["vary"], "Origin");
    let foreign = s
        .send(
            http::Method::GET,
            "/api/cart",
            &[("origin", "https://evil.example")],
            bytes::Bytes::new(),
        )
        .await;
    assert!(!foreign.headers.contains_key("access-control-allow-origin"));
    assert_eq!(
        foreign.headers["vary"], "Origin",
        "a cache must not serve one origin's answer to another"
    );
    // Stopped before its cluster is dropped: writers must not outlive their brokers.
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_refuses_a_weak_admin_token_on_an_exposed_address() {
    let cluster = mock_cluster();
    for (token, why) in [
        ("dev-admin-token", "development default"),
        ("short-token", "11 characters"),
    ] {
        let mut c = config(&cluster.bootstrap_servers(), &[]);
        c.admin_token = Some(token.to_owned());
        c.http_addr = "0.0.0.0:0".parse().unwrap();
        let (_stop, shutdown) = backend::shutdown::channel();
        let e = backend::app::Server::start(c, shutdown)
            .await
            .err()
            .expect("refused");
        assert!(e.to_string().contains(why), "{e}");
    }
    // On loopback the development token is fine, as `make run` uses it.
    let mut c = config(&cluster.bootstrap_servers(), &[]);
    c.admin_token = Some("dev-admin-token".to_owned());
    let shop = InProcess::start(c).await;
    Shopper::new(shop.addr)
        .get("/healthz")
        .await
        .expect(StatusCode::OK);
    // Stopped before its cluster is dropped: writers must not outlive their brokers.
    shop.stop().await;
}

/// Beyond loopback the cart key is the shoppers' keys: the shop refuses to start without one of
/// its own, and says which setting to give.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_refuses_an_exposed_address_without_a_cart_key_of_its_own() {
    let cluster = mock_cluster();
    for (key, why) in [
        (None, "CART_KEY is required"),
        (Some(backend::config::DEV_CART_KEY), "CART_KEY is required"),
        (Some("short"), "CART_KEY has 5 characters"),
    ] {
        let mut c = config(&cluster.bootstrap_servers(), &[]);
        c.admin_token = Some("an-admin-token-long-enough".to_owned());
        c.cart_key = key.map(str::to_owned);
        c.http_addr = "0.0.0.0:0".parse().unwrap();
        let (_stop, shutdown) = backend::shutdown::channel();
        let e = backend::app::Server::start(c, shutdown)
            .await
            .err()
            .expect("refused");
        assert!(e.to_string().contains(why), "{e}");
    }
}

/// Waits until `/readyz` answers 503 with a reason `says` accepts.
async fn not_ready_saying(addr: std::net::SocketAddr, what: &str, says: fn(&str) -> bool) {
    let s = Shopper::new(addr);
    support::eventually(
        Duration::from_secs(30),
        &format!("/readyz names {what}"),
        || {
            let mut s = s.clone();
            async move {
                let r = s.get("/readyz").await;
                r.status == StatusCode::SERVICE_UNAVAILABLE
                    && r.json()["reason"].as_str().is_some_and(says)
            }
        },
    )
    .await;
}

/// librdkafka's mock cluster keeps 5 MB per partition and drops the oldest events beyond: the
/// catalog topic then starts past offset 0, a hole the shop must never serve as a whole shop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_lost_events_is_never_reported_ready() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let cluster = mock_cluster();
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .unwrap();
    let filler = vec![b'x'; 10_000];
    for _ in 0..700 {
        producer
            .send(
                FutureRecord::<(), _>::to("shop.catalog.v1").payload(&filler),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
    }
    let (stop, shutdown) = backend::shutdown::channel();
    let server = backend::app::Server::start(config(&cluster.bootstrap_servers(), &[]), shutdown)
        .await
        .unwrap();
    let mut s = Shopper::new(server.addr);
    not_ready_saying(server.addr, "the missing events", |why| {
        why.starts_with("catalog cannot serve: events 0..") && why.contains("missing from the log")
    })
    .await;
    let m = metrics(server.addr).await;
    assert_eq!(
        sample(&m, r#"shop_log_gaps_total{context="catalog"}"#),
        Some(1.0),
        "{m}"
    );
    let r = s
        .get("/api/products")
        .await
        .expect(StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("missing from the log")
    );
    // Stopped before the cluster goes: its writers must not outlive the brokers they read.
    let _ = stop.send(true);
    server.stopped().await;
}

/// A partition whose log went back under the running shop, as a truncated or recreated topic
/// looks to a consumer: the broker answers a fetch with OFFSET_OUT_OF_RANGE, librdkafka resets to
/// the earliest offset and delivers offsets the context has already applied. The context must
/// say so and stop serving, never skip them as "seen".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_went_back_stops_its_context_and_says_so() {
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let (cluster, shop) = shop(&[]).await;
    let mut admin = Shopper::new(shop.addr);
    for id in 1..=3 {
        admin
            .add_product(id, &format!("Lamp {id}"), "Home", 1000, 0)
            .await;
    }
    cluster.request_errors(
        RDKafkaApiKey::Fetch,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE; 4],
    );
    not_ready_saying(shop.addr, "the log that went back", |why| {
        why.contains("cannot serve: shop.")
            && why.contains("went back: offset 0 arrived after offsets up to")
    })
    .await;
    let m = metrics(shop.addr).await;
    let rewinds: f64 = ["catalog", "checkout"]
        .iter()
        .filter_map(|c| sample(&m, &format!("shop_log_rewinds_total{{context=\"{c}\"}}")))
        .sum();
    assert!(rewinds >= 1.0, "{m}");
    let r = Shopper::new(shop.addr)
        .get("/api/products/1")
        .await
        .expect(StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.json()["message"].as_str().unwrap().contains("went back"));
    // Stopped before its cluster is dropped: writers must not outlive their brokers.
    shop.stop().await;
}
