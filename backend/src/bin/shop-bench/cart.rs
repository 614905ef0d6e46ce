//! e. Add-to-cart round trip against the broker's own produce round trip and the raw
//! produce→consumed latency at the same `fetch.wait.max.ms`.

use super::*;

impl Bench {
    pub(crate) async fn cart(&mut self) -> SectionResult {
        self.ensure_shop().await?;
        let addr = self.shop.as_ref().expect("started").addr;
        let cfg = self.kafka()?;
        let fw = self.fetch_wait_ms;
        const WARM: usize = 50;
        const SAMPLES: usize = 500;

        // (i) the broker's own produce round trip.
        let scratch = "bench.produce";
        self.create_topics(&[scratch, "bench.latency"]).await?;
        self.say("broker produce round trip (sequential, acks=all, idempotent, linger 0)");
        let status = BrokerStatus::new();
        let producer = kafka::producer(&cfg.settings(), status.clone())?;
        let payload = [b'x'; 100];
        let mut produce = vec![];
        for i in 0..WARM + SAMPLES {
            let t0 = Instant::now();
            kafka::produce(&producer, &status, scratch, b"k", &payload)
                .await
                .with_context(|| format!("produce {i}"))?;
            if i >= WARM {
                produce.push(t0.elapsed());
            }
        }
        let produce = Percentiles::of(produce);
        self.say(&format!("  produce round trip {produce}"));

        // (ii) produce → consumed, one message at a time.
        self.say(&format!(
            "produce→consumed floor (fetch.wait.max.ms={fw}, one message at a time)"
        ));
        let floor = produce_to_consumed(&cfg, &producer, &status, WARM, SAMPLES).await?;
        self.say(&format!("  produce→consumed {floor}"));

        // The shop's add-to-cart.
        self.say("add-to-cart: sequential PUT /api/cart/lines/{id}");
        let cookie = bench_cart_cookie();
        let mut client = HttpConn::connect(addr).await?;
        let mut cart = vec![];
        for i in 0..WARM + SAMPLES {
            let product = 1 + (i as u64 * 7) % 10;
            let body = format!("{{\"quantity\":{}}}", 1 + i % 3);
            let key = format!("bench-{i}");
            let path = format!("/api/cart/lines/{product}");
            let t0 = Instant::now();
            let (status, reply) = client
                .request(
                    "PUT",
                    &path,
                    &[
                        ("content-type", "application/json"),
                        ("idempotency-key", &key),
                        ("cookie", &cookie),
                    ],
                    body.as_bytes(),
                )
                .await?;
            let took = t0.elapsed();
            if status != 200 {
                bail!(
                    "PUT {path} answered {status}: {}",
                    String::from_utf8_lossy(&reply)
                );
            }
            if i >= WARM {
                cart.push(took);
            }
        }
        let cart = Percentiles::of(cart);
        self.say(&format!("  add-to-cart {cart}"));

        let ms = |d: Duration| format!("{:.2} ms", millis(d));
        let diff = |a: Duration, b: Duration| format!("{:+.2} ms", millis(a) - millis(b));
        let mut table = Table::new(&[
            "figure",
            "fetch.wait.max.ms",
            "p50",
            "p99",
            "cart p50 minus it",
            "cart p99 minus it",
        ]);
        table.row(vec![
            "add-to-cart round trip (`PUT /api/cart/lines/{id}`, HTTP)".into(),
            fw.to_string(),
            ms(cart.p50),
            ms(cart.p99),
            "—".into(),
            "—".into(),
        ]);
        table.row(vec![
            "baseline (i): broker produce round trip (acks=all, idempotent, linger 0, 100 B)"
                .into(),
            format!("{fw} (not involved)"),
            ms(produce.p50),
            ms(produce.p99),
            diff(cart.p50, produce.p50),
            diff(cart.p99, produce.p99),
        ]);
        table.row(vec![
            "baseline (ii): raw produce→consumed floor (one message at a time)".into(),
            fw.to_string(),
            ms(floor.p50),
            ms(floor.p99),
            diff(cart.p50, floor.p50),
            diff(cart.p99, floor.p99),
        ]);
        let notes = vec![
            format!(
                "{SAMPLES} sequential requests after {WARM} warm-up ones, each with a fresh \
                 Idempotency-Key and the same cart cookie, over one keep-alive connection from \
                 this process (a minimal HTTP/1.1 client on a tokio `TcpStream`: the backend \
                 crate has hyper's client only as a dev-dependency). Ten products, quantities \
                 1 to 3. A command answers once the checkout writer has applied its own event, \
                 so its round trip is a produce plus a consume."
            ),
            format!(
                "Baselines in the same run, same broker: (i) {SAMPLES} sequential produces with \
                 `kafka::producer`'s settings to a scratch topic; (ii) one producer and one \
                 consumer made by `kafka::consumer` (fetch.wait.max.ms={fw}), one message at a \
                 time, from send to receipt. tansu holds every fetch for fetch.wait.max.ms even \
                 when data arrives, so (ii) is the floor a command cannot beat on this broker."
            ),
            format!(
                "The shop here is the one of d. ({} products).",
                self.args.shop_products
            ),
        ];
        Ok((notes, table))
    }
}
