//! What the integration and end-to-end tests share: a small HTTP client that keeps a cart
//! cookie, an in-process shop on librdkafka's mock cluster, and the real broker and backend as
//! child processes on spare ports.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use backend::app::Server;
use backend::config::Config;

pub const ADMIN_TOKEN: &str = "test-admin-token";

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn decode<M: prost::Message + Default>(&self) -> M {
        M::decode(self.body.clone()).expect("protobuf body")
    }

    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }
}

/// A browser-like client of one shop address: keeps the cart cookie it is given.
#[derive(Clone)]
pub struct Shopper {
    pub base: String,
    pub cookie: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Shopper {
    pub fn new(addr: SocketAddr) -> Self {
        Shopper {
            base: format!("http://{addr}"),
            cookie: None,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The same cart, through another address (another replica).
    pub fn via(&self, addr: SocketAddr) -> Self {
        Shopper {
            base: format!("http://{addr}"),
            ..self.clone()
        }
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        self.try_send(method, path, headers, body)
            .await
            .expect("request sent")
    }

    /// [`Shopper::send`] that reports a failed connection (a backend that is down) instead of
    /// panicking: a client that retries needs to see it.
    pub async fn try_send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<Reply, String> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self
            .client
            .request(req.body(Full::new(body.into())).unwrap())
            .await
            .map_err(|e| format!("request not answered: {e:?}"))?;
        let (parts, body) = resp.into_parts();
        if let Some(set) = parts.headers.get(header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            self.cookie = Some(pair);
        }
        let body = body
            .collect()
            .await
            .map_err(|e| format!("body cut short: {e:?}"))?
            .to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], Bytes::new()).await
    }

    /// A JSON command with the given idempotency key.
    pub async fn command(
        &mut self,
        method: Method,
        path: &str,
        key: &str,
        json: serde_json::Value,
    ) -> Reply {
        self.json_command(method, path, key, json, &[]).await
    }

    /// A JSON command of the admin API (with the bearer token).
    pub async fn admin(
        &mut self,
        method: Method,
        path: &str,
        key: &str,
        json: serde_json::Value,
    ) -> Reply {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        self.json_command(method, path, key, json, &[("authorization", &auth)])
            .await
    }

    async fn json_command(
        &mut self,
        method: Method,
        path: &str,
        key: &str,
        json: serde_json::Value,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut headers = vec![
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ];
        headers.extend_from_slice(extra);
        self.send(method, path, &headers, serde_json::to_vec(&json).unwrap())
            .await
    }

    pub async fn add_product(
        &mut self,
        id: u64,
        title: &str,
        category: &str,
        price: i64,
        stock: u32,
    ) {
        let p = serde_json::json!({"title": title, "description": format!("A fine {title}"), "category": category,
            "price": {"minor": price, "currency": "EUR"}});
        self.admin(
            Method::PUT,
            &format!("/api/admin/products/{id}"),
            &format!("p{id}-{price}"),
            p,
        )
        .await
        .expect(StatusCode::OK);
        if stock > 0 {
            let s = serde_json::json!({"productId": id.to_string(), "quantity": stock});
            self.admin(
                Method::POST,
                "/api/admin/stock",
                &format!("s{id}-{stock}"),
                s,
            )
            .await
            .expect(StatusCode::OK);
        }
    }

    pub async fn set_line(&mut self, product: u64, quantity: u32, key: &str) -> Reply {
        self.command(
            Method::PUT,
            &format!("/api/cart/lines/{product}"),
            key,
            serde_json::json!({"quantity": quantity}),
        )
        .await
    }

    /// Orders the cart as it is now shown (`GET /api/cart`), naming `version` as seen.
    pub async fn place_order(&mut self, version: u64, key: &str) -> Reply {
        let cart = self.get("/api/cart").await.expect(StatusCode::OK).json();
        // proto3 JSON leaves an empty list out.
        let lines = match &cart["lines"] {
            serde_json::Value::Null => serde_json::json!([]),
            l => l.clone(),
        };
        self.place_shown(version, lines, key).await
    }

    /// Orders the cart with the lines the shopper was shown (the `lines` of a cart view).
    pub async fn place_shown(
        &mut self,
        version: u64,
        lines: serde_json::Value,
        key: &str,
    ) -> Reply {
        self.command(
            Method::POST,
            "/api/orders",
            key,
            serde_json::json!({"cartVersion": version.to_string(), "lines": lines}),
        )
        .await
    }

    /// The cart's current version.
    pub async fn cart_version(&mut self) -> u64 {
        self.get("/api/cart").await.expect(StatusCode::OK).json()["version"]
            .as_str()
            .unwrap_or("0")
            .parse()
            .unwrap()
    }
}

/// The JSON body of an order for the cart as shown: its version and lines.
pub fn order_body(version: u64, lines: &[shared::proto::CartLineView]) -> Vec<u8> {
    let lines: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| {
            let price = l.unit_price.clone().unwrap_or_default();
            serde_json::json!({
                "productId": l.product_id.to_string(),
                "title": l.title,
                "unitPrice": {"minor": price.minor.to_string(), "currency": price.currency},
                "quantity": l.quantity,
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({"cartVersion": version.to_string(), "lines": lines}))
        .unwrap()
}

/// Number of events in a topic (its high watermark).
pub fn log_size(broker: &Broker, topic: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .create()
        .unwrap();
    c.fetch_watermarks(topic, 0, Duration::from_secs(5))
        .unwrap()
        .1
}

/// The value of the sample with exactly this name and label set in a Prometheus exposition
/// (labels in the exposition's order, which is sorted by label name).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().expect("a number"))
}

/// librdkafka's in-process mock cluster, as the tests hold it.
pub type Cluster =
    rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>;

/// A mock cluster with the shop's two topics (the mock cannot create topics on request).
pub fn mock_cluster() -> Cluster {
    let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("shop.catalog.v1", 1, 1).unwrap();
    cluster.create_topic("shop.checkout.v1", 1, 1).unwrap();
    cluster
}

/// An in-process shop on its own mock cluster (keep the cluster as long as the shop).
pub async fn shop_in_memory() -> (Cluster, InProcess) {
    let cluster = mock_cluster();
    let shop = InProcess::start(config(&cluster.bootstrap_servers(), &[])).await;
    (cluster, shop)
}

/// Sends `command` until it is answered 200, or panics after `limit` with the last answer.
pub async fn until_ok<F, Fut>(limit: Duration, what: &str, mut command: F) -> Reply
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let deadline = Instant::now() + limit;
    loop {
        let r = command().await;
        if r.status == StatusCode::OK {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not answered 200 within {limit:?}; the last answer: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `check` holds, polling every 20 ms, or panics after `limit` naming `what`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: Config,
}

/// The server's configuration for tests: port 0, admin token set, the given brokers and topics.
pub fn config(brokers: &str, extra: &[&str]) -> Config {
    let mut args = vec![
        "shop",
        "--kafka-brokers",
        brokers,
        "--http-addr",
        "127.0.0.1:0",
        "--admin-token",
        ADMIN_TOKEN,
        "--static-dir",
        "/nonexistent",
    ];
    args.extend_from_slice(extra);
    Args::parse_from(args).config
}

/// A shop running in this process on librdkafka's mock cluster.
pub struct InProcess {
    pub server: Option<Server>,
    pub addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
}

/// Logs of in-process servers, shown for failing tests; `RUST_LOG` filters (default: warn).
pub fn init_logs() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

impl InProcess {
    pub async fn start(config: Config) -> InProcess {
        init_logs();
        let (stop, shutdown) = backend::shutdown::channel();
        let server = Server::start(config, shutdown)
            .await
            .expect("server starts");
        let addr = server.addr;
        let mut me = InProcess {
            server: Some(server),
            addr,
            stop,
        };
        me.wait_ready().await;
        me
    }

    pub async fn wait_ready(&mut self) {
        let mut s = Shopper::new(self.addr);
        eventually(Duration::from_secs(20), "shop ready", || {
            let mut s = s.clone();
            async move { s.get("/readyz").await.status == StatusCode::OK }
        })
        .await;
        let _ = &mut s;
    }

    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(s) = self.server.take() {
            s.stopped().await;
        }
    }
}

/// The real Kafka-protocol broker (tansu) as a child process with its data in a temp dir.
pub struct Broker {
    pub port: u16,
    /// The port the broker names in its metadata: its own, or a proxy's in front of it.
    pub advertised_port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

fn tansu_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TANSU_BIN") {
        return p.into();
    }
    let home = std::env::var_os("HOME").expect("HOME");
    let p = PathBuf::from(home).join(".cache/kafka-shop/tools/bin/tansu");
    assert!(
        p.exists(),
        "the local broker is not installed: run `make test` (it installs tansu) or set TANSU_BIN"
    );
    p
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The broker's log goes to `$BROKER_LOG_DIR/tansu-PORT.log` when that is set (to see why a
/// test failed), else nowhere.
fn broker_log(port: u16) -> Stdio {
    match std::env::var_os("BROKER_LOG_DIR") {
        Some(dir) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(std::path::Path::new(&dir).join(format!("tansu-{port}.log")))
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null()),
        None => Stdio::null(),
    }
}

impl Broker {
    pub async fn start() -> Broker {
        let port = free_port();
        Broker::start_advertising(port, port).await
    }

    /// A broker on `port` that tells clients to connect to `advertised_port` (on loopback), e.g.
    /// a fault-injecting proxy in front of it: after the first metadata request every
    /// connection of a client goes there.
    pub async fn start_advertising(port: u16, advertised_port: u16) -> Broker {
        let mut b = Broker {
            port,
            advertised_port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        b.restart().await;
        b
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and data.
    pub async fn restart(&mut self) {
        // The broker's flags live in scripts/broker.sh (it execs: the child is the broker).
        let child = Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/broker.sh"))
            .arg(self.dir.path())
            .args([
                self.port.to_string(),
                self.advertised_port.to_string(),
                "shop-test".to_owned(),
            ])
            .env("TANSU_BIN", tansu_bin())
            .stdout(Stdio::null())
            .stderr(broker_log(self.port))
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        eventually(
            Duration::from_secs(20),
            "broker accepting connections",
            || async move { tokio::net::TcpStream::connect(addr).await.is_ok() },
        )
        .await;
    }

    /// SIGSTOP: connections stay open but nothing is answered, like a hung or partitioned broker.
    pub fn freeze(&mut self) {
        if let Some(c) = &self.child {
            unsafe { libc_kill(c.id() as i32, 19) };
        }
    }

    /// SIGCONT: a frozen broker answers again.
    pub fn thaw(&mut self) {
        if let Some(c) = &self.child {
            unsafe { libc_kill(c.id() as i32, 18) };
        }
    }

    /// SIGKILL: the harshest stop.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The shop binary as a child process.
pub struct Backend {
    pub addr: SocketAddr,
    child: Child,
}

impl Backend {
    /// Starts the binary and waits until it is ready.
    pub async fn start(brokers: &str, extra_env: &[(&str, &str)]) -> Backend {
        let b = Backend::spawn(brokers, extra_env).await;
        let s = Shopper::new(b.addr);
        eventually(Duration::from_secs(60), "backend ready", || {
            let mut s = s.clone();
            async move { s.get("/readyz").await.status == StatusCode::OK }
        })
        .await;
        b
    }

    /// Starts the binary and returns once it listens (its contexts may still be replaying).
    pub async fn spawn(brokers: &str, extra_env: &[(&str, &str)]) -> Backend {
        use std::io::BufRead;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shop"));
        cmd.arg("serve")
            .env("KAFKA_BROKERS", brokers)
            .env("HTTP_ADDR", "127.0.0.1:0")
            .env("ADMIN_TOKEN", ADMIN_TOKEN)
            .env("STATIC_DIR", "/nonexistent")
            // SHOP_TEST_LOG=info shows the binary's own log beside a failing test's.
            .env(
                "RUST_LOG",
                std::env::var("SHOP_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start the shop binary");
        let stdout = child.stdout.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .unwrap();
            line
        })
        .await
        .unwrap();
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("unexpected first line {line:?}"));
        Backend { addr, child }
    }

    /// The process id of the running binary (for reading its /proc entries).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM and wait: the graceful path.
    pub fn terminate(mut self) {
        unsafe { libc_kill(self.child.id() as i32, 15) };
        let _ = self.child.wait();
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// How the process ended, if it has (a crash shows as a signal).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("the shop's process status")
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// Every record of a topic's partition 0 from offset 0 to its end, read by a plain consumer of
/// the test's own (as any Kafka client would): the payloads in offset order.
pub async fn read_log(brokers: &str, topic: &str) -> Vec<Vec<u8>> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Message, Offset, TopicPartitionList};
    let (brokers, topic) = (brokers.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", "test-log-reader")
            .set("enable.auto.commit", "false")
            .create()
            .expect("a consumer");
        let (_, high) = consumer
            .fetch_watermarks(&topic, 0, Duration::from_secs(30))
            .expect("the topic's watermarks");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Beginning)
            .unwrap();
        consumer.assign(&tpl).expect("assign");
        let mut out = Vec::new();
        let mut next = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while next < high {
            assert!(
                Instant::now() < deadline,
                "read {next} of {high} of {topic}"
            );
            if let Some(m) = consumer.poll(Duration::from_millis(100)) {
                let m = m.expect("a message");
                next = m.offset() + 1;
                out.push(m.payload().unwrap_or_default().to_vec());
            }
        }
        out
    })
    .await
    .expect("the log read")
}

/// Writes one record to a topic as any Kafka client could (acks=all), e.g. an event of an
/// older version.
pub async fn produce(brokers: &str, topic: &str, key: &[u8], payload: &[u8]) {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("acks", "all")
        .create()
        .expect("a producer");
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(payload),
            Duration::from_secs(10),
        )
        .await
        .expect("produced");
}
