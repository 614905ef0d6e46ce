//! `/metrics`, `/healthz` and `/readyz` of the in-process shop (librdkafka's mock cluster), checked
//! by reading the exposition and with the real Prometheus tools: `promtool check metrics` lints
//! it, and a short-lived `prometheus` server scrapes the shop and is queried over its HTTP API.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use http::{Method, StatusCode};
use support::{Shopper, eventually, free_port, sample, shop_in_memory};

async fn scrape(s: &mut Shopper) -> String {
    let r = s.get("/metrics").await.expect(StatusCode::OK);
    assert_eq!(r.headers["content-type"], "text/plain; version=0.0.4");
    String::from_utf8(r.body.to_vec()).expect("UTF-8 exposition")
}

/// A product, a cart line, the same line again (a replay), an order (after reading the cart it
/// confirms) and some reads.
async fn some_traffic(addr: std::net::SocketAddr) -> Shopper {
    let mut admin = Shopper::new(addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 5).await;
    let mut alice = Shopper::new(addr);
    alice.set_line(1, 2, "l1").await.expect(StatusCode::OK);
    alice.set_line(1, 2, "l1").await.expect(StatusCode::OK);
    alice.place_order(1, "o1").await.expect(StatusCode::CREATED);
    alice.get("/api/products").await.expect(StatusCode::OK);
    alice.get("/api/cart").await.expect(StatusCode::OK);
    alice
        .get("/api/nowhere")
        .await
        .expect(StatusCode::NOT_FOUND);
    alice
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_commands_and_contexts() {
    let (_cluster, shop) = shop_in_memory().await;
    let mut alice = some_traffic(shop.addr).await;
    let cart_id = alice
        .cookie
        .clone()
        .unwrap()
        .trim_start_matches("cart=")
        .to_owned();
    let mut s = Shopper::new(shop.addr);

    // Lag is 0 once everything produced has been applied (the bridge may still be copying).
    eventually(Duration::from_secs(20), "both contexts caught up", || {
        let mut s = s.clone();
        async move {
            let text = scrape(&mut s).await;
            ["catalog", "checkout"].iter().all(|c| {
                sample(
                    &text,
                    &format!("shop_context_lag_events{{context=\"{c}\"}}"),
                ) == Some(0.0)
                    && sample(
                        &text,
                        &format!("shop_context_applied_offset{{context=\"{c}\"}}"),
                    )
                    .is_some_and(|o| o > 0.0)
            })
        }
    })
    .await;
    let text = scrape(&mut s).await;
    let exactly = |series: &str, want: f64| {
        let v = sample(&text, series);
        assert_eq!(v, Some(want), "{series}\n{text}");
    };
    // How often the writer publishes depends on how the events arrive in batches: only a floor.
    let at_least = |series: &str, min: f64| {
        let v = sample(&text, series);
        assert!(
            v.is_some_and(|v| v >= min),
            "{series} = {v:?}, want ≥ {min}\n{text}"
        );
    };
    // some_traffic's requests, each counted once.
    exactly(
        r#"shop_http_requests_total{method="GET",route="/api/products",status="200"}"#,
        1.0,
    );
    exactly(
        r#"shop_http_requests_total{method="GET",route="unknown",status="404"}"#,
        1.0,
    );
    exactly(
        r#"shop_http_request_duration_seconds_count{route="/api/cart/lines/{product_id}"}"#,
        2.0,
    );
    exactly(
        r#"shop_commands_total{kind="cart_line",result="applied"}"#,
        1.0,
    );
    exactly(
        r#"shop_commands_total{kind="cart_line",result="replayed"}"#,
        1.0,
    );
    exactly(r#"shop_commands_total{kind="order",result="applied"}"#, 1.0);
    exactly(
        r#"shop_commands_total{kind="product_upsert",result="applied"}"#,
        1.0,
    );
    // The replayed line was answered from its record: produced once.
    exactly(
        r#"shop_command_produce_duration_seconds_count{kind="cart_line"}"#,
        1.0,
    );
    exactly(
        r#"shop_command_apply_wait_duration_seconds_count{kind="stock_delivery"}"#,
        1.0,
    );
    exactly(r#"shop_reads_total{context="catalog"}"#, 1.0);
    // The cart read before the order (the order names the cart as shown) and the one after.
    exactly(r#"shop_reads_total{context="checkout"}"#, 2.0);
    exactly(
        r#"shop_events_applied_total{context="checkout",kind="cart_line_set"}"#,
        1.0,
    );
    exactly(
        r#"shop_events_applied_total{context="catalog",kind="product_upserted"}"#,
        1.0,
    );
    at_least(r#"shop_context_publishes_total{context="checkout"}"#, 2.0);
    at_least(
        r#"shop_context_publish_batch_events_count{context="catalog"}"#,
        1.0,
    );
    exactly(r#"shop_context_ready{context="catalog"}"#, 1.0);
    exactly(r#"shop_context_writer_running{context="checkout"}"#, 1.0);
    assert_eq!(
        sample(
            &text,
            r#"shop_model_entries{context="checkout",kind="orders"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"shop_model_entries{context="catalog",kind="products"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"shop_events_poison_total{context="catalog"}"#),
        Some(0.0)
    );
    assert!(text.contains("process_cpu_seconds_total"), "{text}");
    assert!(
        !text.contains(&cart_id),
        "a cart id leaked into the metrics"
    );

    // librdkafka's statistics arrive once a second.
    eventually(Duration::from_secs(20), "Kafka client statistics", || {
        let mut s = s.clone();
        async move {
            let t = scrape(&mut s).await;
            ["producer", "catalog", "checkout"].iter().all(|c| {
                sample(&t, &format!("shop_kafka_broker_up{{client=\"{c}\"}}")) == Some(1.0)
            }) && sample(
                &t,
                r#"shop_kafka_broker_tx_errors_total{client="producer"}"#,
            )
            .is_some()
        }
    })
    .await;
    let _ = alice.get("/api/cart").await;
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_json() {
    let (_cluster, shop) = shop_in_memory().await;
    let mut s = Shopper::new(shop.addr);
    let h = s.get("/healthz").await.expect(StatusCode::OK);
    assert_eq!(h.headers["content-type"], "application/json");
    assert_eq!(h.json(), serde_json::json!({"status": "ok"}));
    let r = s.get("/readyz").await.expect(StatusCode::OK);
    assert_eq!(r.json(), serde_json::json!({"ready": true}));
    // Probes and scrapes are counted under fixed route names.
    let text = scrape(&mut s).await;
    assert!(
        sample(
            &text,
            r#"shop_http_requests_total{method="GET",route="/healthz",status="200"}"#
        ) == Some(1.0),
        "{text}"
    );
    shop.stop().await;
}

/// A tool from Debian's `prometheus` package, found on PATH.
fn tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not on PATH: `make test` installs it (Debian package `prometheus`; \
                 by hand: apt-get install -y prometheus)"
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_accepts_the_exposition() {
    let promtool = tool("promtool");
    let (_cluster, shop) = shop_in_memory().await;
    some_traffic(shop.addr).await;
    let mut s = Shopper::new(shop.addr);
    // Wait for the Kafka statistics families too, so that every family is linted.
    eventually(Duration::from_secs(20), "Kafka client statistics", || {
        let mut s = s.clone();
        async move {
            scrape(&mut s)
                .await
                .contains("shop_kafka_broker_rtt_avg_seconds{")
        }
    })
    .await;
    let text = scrape(&mut s).await;

    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {}\n{said}",
        out.status
    );
    shop.stop().await;
}

/// A `prometheus` server on a free port with its data in a temp dir; killed on drop.
struct PrometheusServer {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl PrometheusServer {
    fn start(target: std::net::SocketAddr) -> PrometheusServer {
        let bin = tool("prometheus");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: shop\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        PrometheusServer {
            port,
            child,
            _dir: dir,
        }
    }

    /// Waits until the server accepts connections; panics with its log if it exited.
    async fn wait_listening(&mut self) {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self._dir.path().join("prometheus.log"));
                panic!("prometheus exited ({status}): {}", log.unwrap_or_default());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "prometheus is not listening after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The value of an instant query's first result, if it has one.
    async fn query(&self, client: &mut Shopper, promql: &str) -> Option<f64> {
        let q: String = form_urlencoded::byte_serialize(promql.as_bytes()).collect();
        let r = client.get(&format!("/api/v1/query?query={q}")).await;
        if r.status != StatusCode::OK {
            return None;
        }
        let v = r.json();
        v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse().ok())
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_a_command_it_just_saw() {
    let (_cluster, shop) = shop_in_memory().await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 5).await;
    let mut prometheus = PrometheusServer::start(shop.addr);
    prometheus.wait_listening().await;
    let api = Shopper::new(format!("127.0.0.1:{}", prometheus.port).parse().unwrap());
    let wait = Duration::from_secs(60);
    let applied = r#"shop_commands_total{kind="cart_line",result="applied"}"#;

    // Scraped before the command: the target is up and has no cart command yet.
    eventually(wait, "prometheus scraping the shop", || {
        let mut api = api.clone();
        let p = &prometheus;
        async move { p.query(&mut api, r#"up{job="shop"}"#).await == Some(1.0) }
    })
    .await;
    assert_eq!(prometheus.query(&mut api.clone(), applied).await, None);

    let mut alice = Shopper::new(shop.addr);
    alice.set_line(1, 1, "l1").await.expect(StatusCode::OK);
    eventually(wait, "the cart command in prometheus", || {
        let mut api = api.clone();
        let p = &prometheus;
        async move { p.query(&mut api, applied).await == Some(1.0) }
    })
    .await;
    let _ = alice
        .send(Method::GET, "/api/cart", &[], bytes::Bytes::new())
        .await;
    drop(prometheus);
    shop.stop().await;
}

/// The production-like stack's Prometheus config is valid, every query of its Grafana dashboard
/// parses, and every metric the dashboard charts is one the shop exports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docker_dashboard_charts_what_the_shop_exports() {
    let promtool = tool("promtool");
    let docker = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker");
    let check = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(&promtool).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    check(&[
        "check".as_ref(),
        "config".as_ref(),
        docker.join("prometheus.yml").as_os_str(),
    ]);

    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(docker.join("grafana/dashboards/shop.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| {
            // Grafana's variables, as Grafana would fill them in.
            t["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "1m")
                .replace("$instance", ".*")
        })
        .collect();
    assert!(exprs.len() > 20, "the dashboard has its queries");
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("dashboard-rules.yml");
    let mut yaml = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        yaml += &format!(
            "      - record: dashboard:query{i}\n        expr: {}\n",
            serde_json::to_string(e).unwrap()
        );
    }
    std::fs::write(&rules, yaml).unwrap();
    check(&["check".as_ref(), "rules".as_ref(), rules.as_os_str()]);

    let (cluster, shop) = shop_in_memory().await;
    some_traffic(shop.addr).await;
    // Every event of the checkout log once more, as retries that landed twice would: the fold
    // ignores them all, which is what the ignored-events panel shows.
    let brokers = cluster.bootstrap_servers();
    let again = tokio::task::spawn_blocking(move || append_log_again(&brokers, "shop.checkout.v1"))
        .await
        .unwrap();
    let mut s = Shopper::new(shop.addr);
    eventually(
        Duration::from_secs(20),
        "Kafka statistics and ignored events",
        || {
            let mut s = s.clone();
            async move {
                let text = scrape(&mut s).await;
                text.contains("shop_kafka_broker_rtt_avg_seconds{")
                    && text
                        .lines()
                        .filter(|l| l.starts_with("shop_events_ignored_total{context=\"checkout\""))
                        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                        .sum::<f64>()
                        >= again as f64
            }
        },
    )
    .await;
    let text = scrape(&mut s).await;
    let exported: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut charted: Vec<&str> = exprs
        .iter()
        .flat_map(|e| e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|w| w.starts_with("shop_") || w.starts_with("process_"))
        .map(|w| w.strip_suffix("_bucket").unwrap_or(w))
        .collect();
    charted.sort_unstable();
    charted.dedup();
    let missing: Vec<&&str> = charted.iter().filter(|m| !exported.contains(**m)).collect();
    assert!(missing.is_empty(), "charted but not exported: {missing:?}");
    shop.stop().await;
}

/// Appends a copy of every event of `topic` to it; returns how many.
fn append_log_again(brokers: &str, topic: &str) -> usize {
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "metrics-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let high = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(5))
        .unwrap()
        .1;
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut events = Vec::new();
    while (events.len() as i64) < high {
        if let Some(m) = consumer.poll(Duration::from_secs(5)) {
            let m = m.unwrap();
            events.push((
                m.key().map(<[u8]>::to_vec),
                m.payload().unwrap_or_default().to_vec(),
            ));
        }
    }
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    for (key, payload) in &events {
        let mut record = BaseRecord::<[u8], [u8]>::to(topic)
            .partition(0)
            .payload(payload);
        if let Some(k) = key {
            record = record.key(k);
        }
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    events.len()
}
