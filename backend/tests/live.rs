//! Integration tests of live updates (`GET /api/ws`): the real server in this process on
//! librdkafka's mock cluster, and websocket clients that watch products and carts while the API
//! changes them.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Method, StatusCode};
use prost::Message as _;
use shared::proto::{
    CartView, LiveFrame, LiveRequest, OrderView, ProductLive, ProductView, RejectionReason,
    live_frame::Frame,
};
use support::{InProcess, Shopper, config, eventually, mock_cluster, shop_in_memory};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// The longest any expected frame may take: a guard against hanging, not a timing assertion.
const LIMIT: Duration = Duration::from_secs(20);

fn request(
    addr: std::net::SocketAddr,
    cookie: Option<&str>,
) -> tungstenite::handshake::client::Request {
    let mut req = format!("ws://{addr}/api/ws").into_client_request().unwrap();
    if let Some(c) = cookie {
        req.headers_mut().insert("cookie", c.parse().unwrap());
    }
    req
}

async fn connect(addr: std::net::SocketAddr, cookie: Option<&str>) -> Socket {
    let (ws, resp) = tokio_tungstenite::connect_async(request(addr, cookie))
        .await
        .expect("websocket connects");
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    ws
}

async fn watch(ws: &mut Socket, ids: &[u64]) {
    let req = LiveRequest {
        watch_products: ids.to_vec(),
    };
    ws.send(Message::Binary(req.encode_to_vec().into()))
        .await
        .expect("request sent");
}

/// The next message that is not a ping or pong, within LIMIT in all (pings do not extend it).
async fn next_message(ws: &mut Socket) -> Option<Result<Message, tungstenite::Error>> {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("a message within the limit");
        match m {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => return other,
        }
    }
}

async fn next_frame(ws: &mut Socket) -> LiveFrame {
    match next_message(ws).await {
        Some(Ok(Message::Binary(b))) => LiveFrame::decode(b).expect("a LiveFrame"),
        other => panic!("expected a binary frame, got {other:?}"),
    }
}

/// Reads frames until one satisfies `want`, checking each one before it with `pass`.
async fn frame_until(
    ws: &mut Socket,
    mut pass: impl FnMut(&Frame),
    mut want: impl FnMut(&Frame) -> bool,
) -> Frame {
    let deadline = Instant::now() + LIMIT;
    loop {
        assert!(Instant::now() < deadline, "the wanted frame did not come");
        let f = next_frame(ws).await.frame.expect("a frame kind");
        if want(&f) {
            return f;
        }
        pass(&f);
    }
}

fn product(f: &Frame) -> Option<&ProductLive> {
    match f {
        Frame::Product(p) => Some(p),
        _ => None,
    }
}

fn cart(f: &Frame) -> Option<&CartView> {
    match f {
        Frame::Cart(c) => Some(c),
        _ => None,
    }
}

/// A close frame's code and reason, once every frame before it is read.
async fn close_of(ws: &mut Socket) -> (CloseCode, String) {
    let deadline = Instant::now() + LIMIT;
    loop {
        assert!(Instant::now() < deadline, "the socket was not closed");
        match next_message(ws).await {
            Some(Ok(Message::Close(Some(c)))) => return (c.code, c.reason.to_string()),
            Some(Ok(Message::Binary(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn protobuf<M: prost::Message + Default>(s: &mut Shopper, path: &str) -> M {
    s.send(
        Method::GET,
        path,
        &[("accept", shared::PROTOBUF)],
        Bytes::new(),
    )
    .await
    .expect(StatusCode::OK)
    .decode()
}

/// A counter or gauge from `/metrics` (the first series of that name and label text).
async fn metric(s: &mut Shopper, series: &str) -> f64 {
    let text = s.get("/metrics").await.expect(StatusCode::OK).body;
    let text = String::from_utf8(text.to_vec()).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

async fn deliver(admin: &mut Shopper, id: u64, quantity: u32, key: &str) {
    admin
        .admin(
            Method::POST,
            "/api/admin/stock",
            key,
            serde_json::json!({"productId": id.to_string(), "quantity": quantity}),
        )
        .await
        .expect(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_product_shows_stock_price_and_disable_as_reads_do() {
    let (_cluster, shop) = shop_in_memory().await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Lamp", "Home", 2500, 0).await;
    admin.add_product(2, "Chair", "Home", 9900, 0).await;
    let mut ws = connect(shop.addr, None).await;
    watch(&mut ws, &[1, 404]).await;

    // The newly watched product as it is now; an unknown id sends nothing.
    let f = next_frame(&mut ws).await.frame.unwrap();
    let p = product(&f).expect("a product frame");
    assert_eq!(p.product_id, 1);
    assert_eq!(p.price.as_ref().unwrap().minor, 2500);
    assert_eq!(p.availability.as_ref().unwrap().available, 0);
    assert!(p.for_sale);

    let only_product_1 = |f: &Frame| {
        assert_eq!(product(f).map(|p| p.product_id), Some(1), "{f:?}");
    };
    deliver(&mut admin, 2, 3, "s2").await; // not watched: no frame
    deliver(&mut admin, 1, 7, "s1").await;
    let f = frame_until(&mut ws, only_product_1, |f| {
        product(f).is_some_and(|p| p.availability.as_ref().unwrap().available == 7)
    })
    .await;
    let read: ProductView = protobuf(&mut admin, "/api/products/1").await;
    assert_eq!(read.availability, product(&f).unwrap().availability);

    admin
        .admin(
            Method::PUT,
            "/api/admin/products/1/price",
            "price-1",
            serde_json::json!({"priceMinor": 1999}),
        )
        .await
        .expect(StatusCode::OK);
    let f = frame_until(&mut ws, only_product_1, |f| {
        product(f).is_some_and(|p| p.price.as_ref().unwrap().minor == 1999)
    })
    .await;
    let read: ProductView = protobuf(&mut admin, "/api/products/1").await;
    assert_eq!(read.price, product(&f).unwrap().price);
    assert_eq!(read.availability, product(&f).unwrap().availability);

    admin
        .admin(
            Method::DELETE,
            "/api/admin/products/1",
            "disable-1",
            serde_json::json!({}),
        )
        .await
        .expect(StatusCode::OK);
    frame_until(&mut ws, only_product_1, |f| {
        product(f).is_some_and(|p| !p.for_sale)
    })
    .await;
    admin
        .get("/api/products/1")
        .await
        .expect(StatusCode::NOT_FOUND);

    // Watching replaces the set: product 2 now, and only it.
    watch(&mut ws, &[2]).await;
    let f = frame_until(&mut ws, only_product_1, |f| {
        product(f).is_some_and(|p| p.product_id == 2)
    })
    .await;
    assert_eq!(
        product(&f)
            .unwrap()
            .availability
            .as_ref()
            .unwrap()
            .available,
        3
    );
    deliver(&mut admin, 1, 1, "s1-again").await;
    deliver(&mut admin, 2, 1, "s2-again").await;
    let f = next_frame(&mut ws).await.frame.unwrap();
    let p = product(&f).expect("a product frame");
    assert_eq!(
        (p.product_id, p.availability.as_ref().unwrap().available),
        (2, 4)
    );

    assert!(metric(&mut admin, "shop_live_frames_sent_total{kind=\"product\"}").await >= 5.0);
    assert_eq!(metric(&mut admin, "shop_live_sockets").await, 1.0);
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_change_reaches_every_socket_of_that_cart_and_no_other() {
    let (_cluster, shop) = shop_in_memory().await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Lamp", "Home", 2500, 10).await;
    let mut alice = Shopper::new(shop.addr);
    alice.set_line(1, 1, "a1").await.expect(StatusCode::OK);
    let mut bob = Shopper::new(shop.addr);
    bob.set_line(1, 2, "b1").await.expect(StatusCode::OK);

    let mut tab1 = connect(shop.addr, alice.cookie.as_deref()).await;
    let mut tab2 = connect(shop.addr, alice.cookie.as_deref()).await;
    let mut bobs = connect(shop.addr, bob.cookie.as_deref()).await;
    let mut anonymous = connect(shop.addr, None).await;
    // Each cart socket starts with its cart as it is.
    for ws in [&mut tab1, &mut tab2] {
        let f = next_frame(ws).await.frame.unwrap();
        assert_eq!(cart(&f).expect("a cart frame").lines[0].quantity, 1);
    }
    let f = next_frame(&mut bobs).await.frame.unwrap();
    assert_eq!(cart(&f).expect("a cart frame").lines[0].quantity, 2);

    alice.set_line(1, 3, "a2").await.expect(StatusCode::OK);
    let read: CartView = protobuf(&mut alice, "/api/cart").await;
    assert_eq!((read.version, read.lines[0].quantity), (2, 3));
    for ws in [&mut tab1, &mut tab2] {
        let f = next_frame(ws).await.frame.unwrap();
        assert_eq!(cart(&f), Some(&read), "the frame shows what a read shows");
    }

    // Frames follow the log: had Alice's change reached Bob's socket, it would come first.
    bob.set_line(1, 4, "b2").await.expect(StatusCode::OK);
    let f = next_frame(&mut bobs).await.frame.unwrap();
    let bobs_cart: CartView = protobuf(&mut bob, "/api/cart").await;
    assert_eq!(cart(&f), Some(&bobs_cart));
    alice.set_line(1, 5, "a3").await.expect(StatusCode::OK);
    for ws in [&mut tab1, &mut tab2] {
        let f = next_frame(ws).await.frame.unwrap();
        assert_eq!(cart(&f).map(|c| c.lines[0].quantity), Some(5), "{f:?}");
    }

    // A socket without a cart cookie gets no cart frames; a watched product still comes.
    watch(&mut anonymous, &[1]).await;
    let f = next_frame(&mut anonymous).await.frame.unwrap();
    assert_eq!(product(&f).map(|p| p.product_id), Some(1), "{f:?}");
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_placed_and_rejected_arrive_on_the_carts_sockets() {
    let (_cluster, shop) = shop_in_memory().await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Lamp", "Home", 2500, 10).await;
    let mut alice = Shopper::new(shop.addr);
    alice.set_line(1, 2, "a1").await.expect(StatusCode::OK);
    let mut ws = connect(shop.addr, alice.cookie.as_deref()).await;
    let f = next_frame(&mut ws).await.frame.unwrap();
    assert_eq!(cart(&f).map(|c| c.version), Some(1));
    watch(&mut ws, &[1]).await;
    let f = next_frame(&mut ws).await.frame.unwrap();
    assert_eq!(
        product(&f).map(|p| p.availability.as_ref().unwrap().available),
        Some(10)
    );

    alice
        .place_order(0, "stale")
        .await
        .expect(StatusCode::CONFLICT);
    let f = next_frame(&mut ws).await.frame.unwrap();
    match f {
        Frame::OrderRejected(r) => {
            assert_eq!(r.cart_version, 0);
            let why = r.rejection.unwrap();
            assert_eq!(why.reason(), RejectionReason::CartChanged);
            assert_eq!((why.expected_version, why.current_version), (0, 1));
        }
        other => panic!("expected a rejection, got {other:?}"),
    }

    let placed = alice.place_order(1, "o1").await.expect(StatusCode::CREATED);
    let id = placed.json()["id"].as_str().unwrap().to_owned();
    let mut order = None;
    let mut stock = None;
    let emptied = frame_until(
        &mut ws,
        |f| match f {
            Frame::OrderPlaced(o) => order = Some(o.clone()),
            Frame::Product(p) => stock = Some(p.availability.as_ref().unwrap().available),
            other => panic!("unexpected {other:?}"),
        },
        |f| cart(f).is_some(),
    )
    .await;
    let order = order.expect("the order placed frame comes before the emptied cart");
    let read: OrderView = protobuf(&mut alice, &format!("/api/orders/{id}")).await;
    assert_eq!(order, read);
    assert_eq!(stock, Some(8), "the order took two");
    let emptied = cart(&emptied).unwrap();
    assert!(emptied.lines.is_empty());
    assert_eq!(emptied.version, 2);

    // Someone else's order says nothing to this socket, though it moves a watched product.
    let mut bob = Shopper::new(shop.addr);
    bob.set_line(1, 1, "b1").await.expect(StatusCode::OK);
    bob.place_order(1, "o1").await.expect(StatusCode::CREATED);
    let f = next_frame(&mut ws).await.frame.unwrap();
    assert_eq!(
        product(&f).map(|p| p.availability.as_ref().unwrap().available),
        Some(7),
        "{f:?}"
    );
    shop.stop().await;
}

/// A client socket that receives into a small kernel buffer, so that a client that does not
/// read blocks the server's writes soon.
async fn connect_small(addr: std::net::SocketAddr, cookie: Option<&str>) -> Socket {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (ws, _) =
        tokio_tungstenite::client_async(request(addr, cookie), MaybeTlsStream::Plain(stream))
            .await
            .expect("websocket connects");
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_dropped_and_others_are_served() {
    let cluster = mock_cluster();
    let shop = InProcess::start(config(
        &cluster.bootstrap_servers(),
        &["--live-socket-buffer", "4"],
    ))
    .await;
    let mut admin = Shopper::new(shop.addr);
    let mut alice = Shopper::new(shop.addr);
    // Forty lines with long titles make each cart frame about 10 KB.
    for id in 1..=40 {
        let title = format!("{id} {}", "x".repeat(190));
        admin.add_product(id, &title, "Home", 100, 0).await;
        alice
            .set_line(id, 1, &format!("line-{id}"))
            .await
            .expect(StatusCode::OK);
    }
    let mut slow = connect_small(shop.addr, alice.cookie.as_deref()).await;
    let mut good = connect(shop.addr, alice.cookie.as_deref()).await;
    let greeting = next_frame(&mut good).await.frame.unwrap();
    let mut version = cart(&greeting).unwrap().version;

    let mut changes = 0;
    while metric(&mut admin, "shop_live_slow_clients_dropped_total").await < 1.0 {
        changes += 1;
        assert!(changes <= 2000, "the slow client was never dropped");
        alice
            .set_line(1, 1 + changes % 2, &format!("toggle-{changes}"))
            .await
            .expect(StatusCode::OK);
        version += 1;
        let f = next_frame(&mut good).await.frame.unwrap();
        assert_eq!(
            cart(&f).map(|c| c.version),
            Some(version),
            "the good socket is served"
        );
    }
    // The slow socket ends with a close frame 1013 behind the frames already on their way.
    let deadline = Instant::now() + LIMIT;
    loop {
        assert!(Instant::now() < deadline, "the slow socket stays open");
        match tokio::time::timeout(LIMIT, slow.next())
            .await
            .expect("the slow socket ends")
        {
            Some(Ok(Message::Close(Some(c)))) => {
                assert_eq!(c.code, CloseCode::Again);
                assert_eq!(c.reason, "too slow: reconnect");
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("the slow socket ended without its close frame: {other:?}"),
        }
    }
    // The server goes on serving the good socket.
    alice.set_line(2, 3, "after").await.expect(StatusCode::OK);
    let f = next_frame(&mut good).await.frame.unwrap();
    assert_eq!(cart(&f).map(|c| c.version), Some(version + 1));
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_more_than_500_products_closes_with_1008() {
    let (_cluster, shop) = shop_in_memory().await;
    let mut ws = connect(shop.addr, None).await;
    let ids: Vec<u64> = (1..=501).collect();
    watch(&mut ws, &ids[..500]).await; // allowed (none exist, so nothing is sent)
    watch(&mut ws, &ids).await;
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, CloseCode::Policy);
    assert!(reason.contains("500"), "{reason}");
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sockets_with_1001_and_a_plain_get_is_refused() {
    let (_cluster, shop) = shop_in_memory().await;
    let mut s = Shopper::new(shop.addr);
    let r = s.get("/api/ws").await.expect(StatusCode::UPGRADE_REQUIRED);
    assert_eq!(r.json()["code"], "upgrade_required");
    let mut ws = connect(shop.addr, None).await;
    let stopping = tokio::spawn(shop.stop());
    let (code, _) = close_of(&mut ws).await;
    assert_eq!(code, CloseCode::Away);
    stopping.await.unwrap();
}

/// A websocket client that never answers a ping, as a vanished peer would not: a raw TCP
/// connection past the upgrade.
async fn silent_client(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET /api/ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    while !seen.ends_with(b"\r\n\r\n") {
        seen.push(tcp.read_u8().await.expect("the upgrade answer"));
    }
    assert!(
        seen.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    tcp
}

/// The server's next frame as (opcode, payload); server frames are never masked.
async fn raw_frame(tcp: &mut tokio::net::TcpStream) -> Option<(u8, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head).await.ok()?;
    let len = match head[1] & 0x7f {
        126 => usize::from(tcp.read_u16().await.ok()?),
        127 => tcp.read_u64().await.ok()? as usize,
        n => usize::from(n),
    };
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload).await.ok()?;
    Some((head[0] & 0x0f, payload))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_silent_past_the_idle_limit_is_pinged_then_closed_with_1001() {
    let cluster = mock_cluster();
    let shop = InProcess::start(config(
        &cluster.bootstrap_servers(),
        &["--live-ping-ms", "100", "--live-idle-ms", "500"],
    ))
    .await;
    let mut tcp = silent_client(shop.addr).await;
    let mut pings = 0;
    let close = tokio::time::timeout(LIMIT, async {
        loop {
            match raw_frame(&mut tcp).await {
                Some((0x9, _)) => pings += 1,
                Some((0x8, payload)) => return payload,
                Some(_) => {}
                None => panic!("the connection ended without a close frame"),
            }
        }
    })
    .await
    .expect("the silent socket is closed");
    assert!(pings >= 1, "closed without a ping first");
    assert_eq!(u16::from_be_bytes([close[0], close[1]]), 1001);
    assert_eq!(String::from_utf8_lossy(&close[2..]), "no message for 0.5 s");
    shop.stop().await;
}

/// A catalog copy in the checkout topic that claims a catalog offset the catalog has not
/// reached: a socket watching products waits for the catalog (up to 2 s) before it sends the
/// frames of that batch. Written as the bridge would, with the bridge of this shop off.
async fn a_copy_ahead_of_the_catalog(brokers: &str, product: u64) {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use shared::proto::{CatalogEvent, CatalogFactV1, CheckoutEvent, ProductUpsertedV1};
    let copy = CheckoutEvent {
        event: Some(shared::proto::checkout_event::Event::CatalogFactV1(
            CatalogFactV1 {
                source_offset: 1_000,
                previous_source_offset: -1,
                event: Some(CatalogEvent {
                    event: Some(shared::proto::catalog_event::Event::ProductUpsertedV1(
                        ProductUpsertedV1 {
                            product_id: product,
                            title: "Desk lamp".into(),
                            category: "Home".into(),
                            price_minor: 2500,
                            currency: "EUR".into(),
                            ..Default::default()
                        },
                    )),
                    meta: None,
                }),
            },
        )),
        meta: None,
    };
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let payload = copy.encode_to_vec();
    producer
        .send(
            FutureRecord::<[u8], _>::to("shop.checkout.v1").payload(&payload),
            Duration::from_secs(10),
        )
        .await
        .expect("the copy is written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_falls_behind_the_announcements_is_told_to_resync() {
    let cluster = mock_cluster();
    let shop = InProcess::start(config(
        &cluster.bootstrap_servers(),
        &["--bridge", "false", "--live-announced-batches", "1"],
    ))
    .await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 0).await;
    let mut ws = connect(shop.addr, None).await;
    watch(&mut ws, &[1]).await;
    let now = next_frame(&mut ws).await.frame.unwrap();
    assert!(product(&now).is_some(), "{now:?}");

    // While the socket waits for the catalog, three more batches are announced: more than the
    // one the hub keeps for it.
    a_copy_ahead_of_the_catalog(&cluster.bootstrap_servers(), 1).await;
    for key in ["d1", "d2", "d3"] {
        deliver(&mut admin, 1, 1, key).await;
    }
    frame_until(&mut ws, |_| {}, |f| matches!(f, Frame::Resync(_))).await;
    assert_eq!(metric(&mut admin, "shop_live_resyncs_total").await, 1.0);
    shop.stop().await;
}

/// Adds products `ids` from a few clients at once, each titled `Lamp {id}` and described by
/// `description`.
async fn add_products(
    addr: std::net::SocketAddr,
    ids: std::ops::RangeInclusive<u64>,
    description: &str,
) {
    let workers = 8;
    let tasks = (0..workers).map(|w| {
        let (ids, description) = (ids.clone(), description.to_owned());
        tokio::spawn(async move {
            let mut admin = Shopper::new(addr);
            for id in ids.skip(w).step_by(workers) {
                let p = serde_json::json!({"title": format!("Lamp {id}"), "description": description,
                    "category": "Home", "price": {"minor": 1000, "currency": "EUR"}});
                admin
                    .admin(
                        Method::PUT,
                        &format!("/api/admin/products/{id}"),
                        &format!("p{id}"),
                        p,
                    )
                    .await
                    .expect(StatusCode::OK);
            }
        })
    });
    for t in futures_util::future::join_all(tasks).await {
        t.unwrap();
    }
}

/// Three pages of 500 products watched one after the other, every frame read: 1,500 snapshots
/// through a queue of 8 pushed frames, and the socket stays open (it was closed with 1013 when
/// the answers counted against that queue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reading_the_answers_to_its_own_requests_is_never_too_slow() {
    let cluster = mock_cluster();
    let shop = InProcess::start(config(
        &cluster.bootstrap_servers(),
        &["--live-socket-buffer", "8"],
    ))
    .await;
    add_products(shop.addr, 1..=1000, "A lamp.").await;
    let mut admin = Shopper::new(shop.addr);
    let mut ws = connect(shop.addr, None).await;
    let pages: [Vec<u64>; 3] = [
        (1..=500).collect(),
        (501..=1000).collect(),
        (1..=500).collect(),
    ];
    for (n, page) in pages.iter().enumerate() {
        watch(&mut ws, page).await;
        let mut got = Vec::with_capacity(page.len());
        while got.len() < page.len() {
            match next_message(&mut ws).await {
                Some(Ok(Message::Binary(b))) => {
                    let f = LiveFrame::decode(b).unwrap().frame.unwrap();
                    got.push(product(&f).expect("a product snapshot").product_id);
                }
                other => panic!(
                    "request {} got {} of its {} snapshots, then {other:?}",
                    n + 1,
                    got.len(),
                    page.len()
                ),
            }
        }
        assert_eq!(
            &got, page,
            "each newly watched product once, in the order asked"
        );
    }
    // Still open, and changes are still pushed.
    deliver(&mut admin, 7, 3, "d7").await;
    let f = next_frame(&mut ws).await.frame.unwrap();
    let p = product(&f).expect("a product frame");
    assert_eq!(
        (p.product_id, p.availability.as_ref().unwrap().available),
        (7, 3)
    );
    assert_eq!(
        metric(&mut admin, "shop_live_slow_clients_dropped_total").await,
        0.0
    );
    shop.stop().await;
}

/// A client that asks for page after page of large products every 100 ms and never reads: its
/// queue stops moving, its pings are not written within the idle limit, and it is closed with
/// 1013 (its answers wait as ids meanwhile, never as frames without bound). Its close frame
/// arrives once it reads: the server reads what it still sent, so the connection is not reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_answers_is_still_cut_off() {
    let cluster = mock_cluster();
    let shop = InProcess::start(config(
        &cluster.bootstrap_servers(),
        &["--live-ping-ms", "100", "--live-idle-ms", "400"],
    ))
    .await;
    // Snapshots of about 2 KB, 1 MB a page: the pages it keeps asking for soon fill the kernel's
    // buffers (up to 4 MB) and the server's writes to it block.
    add_products(shop.addr, 1..=1000, &"Solid walnut. ".repeat(140)).await;
    let admin = Shopper::new(shop.addr);
    let ws = connect_small(shop.addr, None).await;
    let (mut tx, mut rx) = ws.split();
    let sender = tokio::spawn(async move {
        let pages: [Vec<u64>; 3] = [
            (1..=500).collect(),
            (501..=1000).collect(),
            (1..=500).collect(),
        ];
        for page in pages.iter().cycle() {
            let req = LiveRequest {
                watch_products: page.clone(),
            };
            if tx
                .send(Message::Binary(req.encode_to_vec().into()))
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    eventually(LIMIT, "the client that never reads is dropped", || {
        let mut admin = admin.clone();
        async move { metric(&mut admin, "shop_live_slow_clients_dropped_total").await >= 1.0 }
    })
    .await;
    sender.abort();
    // Read now: the frames on their way, then the close frame.
    let deadline = Instant::now() + LIMIT;
    loop {
        assert!(Instant::now() < deadline, "the socket stays open");
        match tokio::time::timeout(LIMIT, rx.next())
            .await
            .expect("the socket ends")
        {
            Some(Ok(Message::Close(Some(c)))) => {
                assert_eq!(c.code, CloseCode::Again);
                assert_eq!(c.reason, "too slow: reconnect");
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("the socket ended without its close frame: {other:?}"),
        }
    }
    eventually(LIMIT, "the socket no longer counted", || {
        let mut admin = admin.clone();
        async move { metric(&mut admin, "shop_live_sockets").await == 0.0 }
    })
    .await;
    shop.stop().await;
}
