//! t. Commands under load: add-to-cart and place-order through the one checkout partition at
//! 16, 64 and 256 concurrent clients, next to the broker's raw produce→consumed rate; then the
//! product page's reads per second alone and while a command load writes.

use super::*;

/// Client counts of the command load.
const CLIENTS: [usize; 3] = [16, 64, 256];
/// Products with plenty of stock for the orders (so every order can be accepted).
const STOCKED: u64 = 512;

/// One load run's figures.
struct Load {
    answered: u64,
    failed: u64,
    elapsed: Duration,
    latency: Percentiles,
}

impl Load {
    fn per_sec(&self) -> f64 {
        self.answered as f64 / self.elapsed.as_secs_f64()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    AddToCart,
    PlaceOrder,
}

impl Bench {
    pub(crate) async fn commands(&mut self) -> SectionResult {
        self.ensure_shop().await?;
        let shop = self.shop.as_ref().expect("started");
        let addr = shop.addr;
        let token = shop
            .server
            .state
            .admin_token()
            .context("the shop has no admin token")?
            .to_owned();
        let secs = self.args.duration_secs;

        // The broker's own rate: messages produced as fast as the producer queues them and
        // consumed by a consumer made like the shop's, first send to last receipt.
        self.create_topics(&["bench.rate"]).await?;
        let raw = raw_rate(&self.kafka()?, "bench.rate", 50_000).await?;
        self.say(&format!("raw produce→consumed: {:.0} messages/s", raw));

        self.say(&format!("stock for products 1..={STOCKED}"));
        let mut admin = HttpConn::connect(addr).await?;
        let auth = format!("Bearer {token}");
        for id in 1..=STOCKED {
            let body = format!("{{\"productId\":\"{id}\",\"quantity\":1000000}}");
            let key = format!("bench-t-stock-{id}-{}", std::process::id());
            let (status, reply) = admin
                .request(
                    "POST",
                    "/api/admin/stock",
                    &[
                        ("content-type", "application/json"),
                        ("authorization", &auth),
                        ("idempotency-key", &key),
                    ],
                    body.as_bytes(),
                )
                .await?;
            if status != 200 {
                bail!(
                    "stock for {id}: {status} {}",
                    String::from_utf8_lossy(&reply)
                );
            }
        }

        let mut table = Table::new(&[
            "command",
            "clients",
            "answered/s",
            "p50 / p99",
            "baseline: broker produce→consumed (messages/s)",
            "ratio",
            "goal",
        ]);
        let mut round = 0;
        for kind in [Kind::AddToCart, Kind::PlaceOrder] {
            for clients in CLIENTS {
                round += 1;
                let name = match kind {
                    Kind::AddToCart => "add-to-cart (`PUT /api/cart/lines/{id}`)",
                    Kind::PlaceOrder => "place-order (`POST /api/orders`)",
                };
                self.say(&format!("{name}: {clients} clients for {secs} s"));
                let load = run_load(addr, kind, clients, Duration::from_secs(secs), round).await?;
                self.say(&format!(
                    "  {:.0}/s, {} failed, {}",
                    load.per_sec(),
                    load.failed,
                    load.latency
                ));
                table.row(vec![
                    name.into(),
                    clients.to_string(),
                    format!(
                        "{}{}",
                        count(load.per_sec()),
                        if load.failed > 0 {
                            format!(" ({} failed!)", load.failed)
                        } else {
                            String::new()
                        }
                    ),
                    format!(
                        "{:.2} / {:.2} ms",
                        millis(load.latency.p50),
                        millis(load.latency.p99)
                    ),
                    count(raw),
                    format!("{:.3}", load.per_sec() / raw),
                    "— (reported)".into(),
                ]);
            }
        }

        // Reads of the product page, alone and beside 64 clients adding to carts.
        let page = format!("http://{addr}/api/products/{}", STOCKED / 2);
        self.say("product page reads alone");
        wrk_with(&["-t1", "-c16"], 2, &page, None).await?;
        let idle = wrk_with(&["-t1", "-c16"], secs, &page, None).await?;
        self.say(&format!("  {idle}"));
        self.say("product page reads beside 256 clients adding to carts");
        let broker_pid = self.broker.child.as_ref().map(Child::id);
        let writers = tokio::spawn(run_load(
            addr,
            Kind::AddToCart,
            256,
            Duration::from_secs(secs + 2),
            round + 1,
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let cpu = |pid: Option<u32>| pid.and_then(cpu_seconds);
        let (broker0, own0, t0) = (
            cpu(broker_pid),
            cpu(Some(std::process::id())),
            Instant::now(),
        );
        let busy = wrk_with(&["-t1", "-c16"], secs, &page, None).await?;
        let (broker1, own1, wall) = (cpu(broker_pid), cpu(Some(std::process::id())), t0.elapsed());
        let writes = writers.await??;
        let cores_of = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => format!("{:.2}", (b - a) / wall.as_secs_f64()),
            _ => "?".into(),
        };
        let (broker_cores, own_cores) = (cores_of(broker0, broker1), cores_of(own0, own1));
        self.say(&format!(
            "  cores used meanwhile: broker {broker_cores}, this process (shop and load) {own_cores}"
        ));
        self.say(&format!(
            "  {busy}; commands meanwhile {:.0}/s",
            writes.per_sec()
        ));
        table.row(vec![
            format!(
                "product page reads (wrk -c16) beside 256 clients adding to carts (cores used \
                 meanwhile: broker {broker_cores}, shop and command load {own_cores}, of {})",
                cores()
            ),
            "16 + 256".into(),
            format!("{} reads/s", count(busy.rps)),
            busy.latency_cell(),
            format!("alone: {} reads/s", count(idle.rps)),
            format!("{:.2}", busy.rps / idle.rps),
            format!(
                "≥ 0.90 with ≥ 5,000 events/s written (written: {}/s)",
                count(writes.per_sec())
            ),
        ]);

        let notes = vec![
            format!(
                "The in-process shop of d. and e. (fetch.wait.max.ms={}), one checkout \
                 partition, so one writer thread applies every command. Each client is one \
                 keep-alive connection and one cart, sending its next command when the last is \
                 answered, for {secs} s. Add-to-cart alternates the quantity of one of four \
                 lines (every command a change, so every one is an event); place-order sets a \
                 line, reads the cart and orders it as shown, only the `POST /api/orders` \
                 timed. Products 1..={STOCKED} were given a million units each first, so \
                 orders are accepted.",
                self.fetch_wait_ms
            ),
            "Baseline: 50,000 messages of 100 bytes produced with the shop's producer \
             settings (acks=all, idempotent) as fast as its queue takes them, and consumed by \
             a consumer made like the shop's; first send to last receipt. That is the most \
             events per second this broker moves through one partition on this machine, the \
             ceiling of any command rate."
                .to_owned(),
            format!(
                "A command costs a produce and waits for its own event to come back and be \
                 applied; tansu holds every fetch for fetch.wait.max.ms, so one client manages \
                 at most about 1000 / {} commands a second, and the rate grows with clients \
                 until the broker, the writer or the two cores run out. **Load generator, \
                 shop and broker share the machine's {} cores**: the reads beside writes row \
                 measures what the command load (its HTTP, the producer, tansu's storage and \
                 the load generator itself) takes from the reads on these cores.",
                self.fetch_wait_ms,
                cores()
            ),
        ];
        Ok((notes, table))
    }
}

/// Runs `clients` clients of `kind` for `length`; `round` keeps idempotency keys apart.
async fn run_load(
    addr: SocketAddr,
    kind: Kind,
    clients: usize,
    length: Duration,
    round: usize,
) -> anyhow::Result<Load> {
    let started = Instant::now();
    let deadline = started + length;
    let tasks: Vec<_> = (0..clients)
        .map(|c| tokio::spawn(client(addr, kind, c, round, deadline)))
        .collect();
    let (mut answered, mut failed, mut samples) = (0, 0, vec![]);
    for t in tasks {
        let (ok, bad, mut s) = t.await??;
        answered += ok;
        failed += bad;
        samples.append(&mut s);
    }
    if samples.is_empty() {
        bail!("no command was answered");
    }
    Ok(Load {
        answered,
        failed,
        elapsed: started.elapsed(),
        latency: Percentiles::of(samples),
    })
}

/// One client: its own connection and cart. Returns (answered, failed, latencies).
async fn client(
    addr: SocketAddr,
    kind: Kind,
    c: usize,
    round: usize,
    deadline: Instant,
) -> anyhow::Result<(u64, u64, Vec<Duration>)> {
    let mut conn = HttpConn::connect(addr).await?;
    let cookie = bench_cart_cookie();
    let (mut ok, mut bad, mut samples) = (0u64, 0u64, vec![]);
    let mut i = 0u64;
    while Instant::now() < deadline {
        i += 1;
        let product = 1 + (c as u64 * 4 + i % 4) % STOCKED;
        let key = |what: &str| format!("t{round}-{c}-{i}-{what}");
        let path = format!("/api/cart/lines/{product}");
        match kind {
            Kind::AddToCart => {
                // 1 or 2 units, each time the other: always a change.
                let quantity = 1 + (i / 4) % 2;
                let t0 = Instant::now();
                let (status, _) =
                    set_line(&mut conn, &path, quantity, &key("line"), &cookie).await?;
                if status == 200 {
                    ok += 1;
                    samples.push(t0.elapsed());
                } else {
                    bad += 1;
                }
            }
            Kind::PlaceOrder => {
                let (status, _) = set_line(&mut conn, &path, 1, &key("line"), &cookie).await?;
                if status != 200 {
                    bad += 1;
                    continue;
                }
                let (status, cart) = conn
                    .request("GET", "/api/cart", &[("cookie", cookie.as_str())], b"")
                    .await?;
                if status != 200 {
                    bad += 1;
                    continue;
                }
                let cart: serde_json::Value = serde_json::from_slice(&cart)?;
                let body =
                    serde_json::json!({"cartVersion": cart["version"], "lines": cart["lines"]})
                        .to_string();
                let order_key = key("order");
                let headers = [
                    ("content-type", "application/json"),
                    ("idempotency-key", order_key.as_str()),
                    ("cookie", cookie.as_str()),
                ];
                let t0 = Instant::now();
                let (status, _) = conn
                    .request("POST", "/api/orders", &headers, body.as_bytes())
                    .await?;
                if status == 201 {
                    ok += 1;
                    samples.push(t0.elapsed());
                } else {
                    bad += 1;
                }
            }
        }
    }
    Ok((ok, bad, samples))
}

/// `PUT` of one cart line.
pub(crate) async fn set_line(
    conn: &mut HttpConn,
    path: &str,
    quantity: u64,
    key: &str,
    cookie: &str,
) -> anyhow::Result<(u16, Vec<u8>)> {
    let body = format!("{{\"quantity\":{quantity}}}");
    let headers = [
        ("content-type", "application/json"),
        ("idempotency-key", key),
        ("cookie", cookie),
    ];
    conn.request("PUT", path, &headers, body.as_bytes()).await
}

/// CPU seconds a process has used (user + system), from /proc/PID/stat.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (user, system): (f64, f64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
    // SAFETY: sysconf reads a constant of the system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((user + system) / ticks)
}

/// Messages per second through one partition: `n` produced as fast as the producer queues
/// them, consumed from the first offset of this run; first send to last receipt.
async fn raw_rate(cfg: &KafkaConfig, topic: &str, n: usize) -> anyhow::Result<f64> {
    let status = BrokerStatus::new();
    let producer = kafka::producer(&cfg.settings(), status.clone())?;
    let consumer = kafka::consumer(&cfg.settings(), "bench-rate", BrokerStatus::new())?;
    let (_, high) = consumer.fetch_watermarks(topic, 0, Duration::from_secs(10))?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(high))?;
    consumer.assign(&tpl)?;
    let target = high + n as i64;
    let reader = std::thread::spawn(move || -> Option<Instant> {
        let give_up = Instant::now() + Duration::from_secs(120);
        while Instant::now() < give_up {
            if let Some(Ok(msg)) = consumer.poll(Duration::from_millis(100))
                && msg.offset() + 1 >= target
            {
                return Some(Instant::now());
            }
        }
        None
    });
    let payload = [b'r'; 100];
    let t0 = Instant::now();
    let mut sends = Vec::with_capacity(n);
    for _ in 0..n {
        let record = rdkafka::producer::FutureRecord::to(topic)
            .key(b"k".as_slice())
            .payload(payload.as_slice());
        match producer.send_result(record) {
            Ok(delivery) => sends.push(delivery),
            Err((e, _)) => bail!("queueing a message: {e}"),
        }
    }
    for s in sends {
        s.await?.map_err(|(e, _)| anyhow::anyhow!("produce: {e}"))?;
    }
    let last = tokio::task::spawn_blocking(move || reader.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the reader panicked"))?
        .context("the messages did not all arrive within 120 s")?;
    Ok(n as f64 / (last - t0).as_secs_f64())
}
