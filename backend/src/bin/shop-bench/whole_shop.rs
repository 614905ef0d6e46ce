//! f, the whole shop: the real `shop` binary on the broker, timed from exec to its first
//! `/readyz` 200, from offset 0 and from the snapshots its own SIGTERM wrote.

use super::*;

/// One `shop serve` child with its log in the broker's directory.
pub(crate) struct ShopProcess {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl ShopProcess {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn spawn(
        bin: &Path,
        env: &[(&str, String)],
        log: &Path,
    ) -> anyhow::Result<ShopProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = std::fs::File::create(log)?;
        let child = Command::new(bin)
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("HTTP_ADDR", addr.to_string())
            .env("STATIC_DIR", "/nonexistent")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        Ok(ShopProcess { child, addr })
    }

    /// Polls `path` every 10 ms until it answers 200; the time since `since`.
    pub(crate) async fn until_ok(
        &mut self,
        path: &str,
        since: Instant,
        limit: Duration,
    ) -> anyhow::Result<Duration> {
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the shop exited ({status}) before {path} answered 200");
            }
            if let Ok(mut conn) = HttpConn::connect(self.addr).await
                && let Ok((200, _)) = conn.request("GET", path, &[], b"").await
            {
                return Ok(since.elapsed());
            }
            if since.elapsed() > limit {
                bail!("{path} did not answer 200 within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(crate) async fn metric(&self, series: &str) -> Option<f64> {
        let mut conn = HttpConn::connect(self.addr).await.ok()?;
        let (_, body) = conn.request("GET", "/metrics", &[], b"").await.ok()?;
        String::from_utf8_lossy(&body)
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    /// SIGTERM, then waits for the exit (each context writes its snapshot on the way out).
    pub(crate) fn terminate(mut self) -> anyhow::Result<Duration> {
        let t0 = Instant::now();
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status()?;
        if !sent.success() {
            bail!("kill -TERM {pid} failed");
        }
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the shop exited with {status} after SIGTERM");
        }
        Ok(t0.elapsed())
    }
}

impl Drop for ShopProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Bench {
    /// Adds the whole shop's start-up rows and note to section f.
    pub(crate) async fn whole_shop(
        &mut self,
        table: &mut Table,
        notes: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        let (n, seed) = (self.args.whole_shop_products, self.args.seed);
        let bin = std::env::current_exe()?.with_file_name("shop");
        let (catalog_topic, checkout_topic) = ("whole.catalog", "whole.checkout");
        let mut kafka = self.bulk_kafka()?;
        kafka.catalog_topic = catalog_topic.into();
        kafka.checkout_topic = checkout_topic.into();
        self.say(&format!(
            "the whole shop: `shop generate --products {n} --seed {seed}` into fresh topics"
        ));
        generate::run(generate::GenerateArgs {
            products: n,
            seed,
            stock_max: 50,
            csv: None,
            if_empty: false,
            kafka,
        })
        .await?;
        let stocked = generate::stock_deliveries(seed, n, 50).count() as u64;
        let snapshots = self.broker.dir.join("whole-shop-snapshots");
        let base = vec![
            ("KAFKA_BROKERS", self.broker.brokers()),
            ("KAFKA_FETCH_WAIT_MAX_MS", self.fetch_wait_ms.to_string()),
            ("TOPIC_CATALOG", catalog_topic.to_owned()),
            ("TOPIC_CHECKOUT", checkout_topic.to_owned()),
        ];
        let with_snapshots = {
            let mut env = base.clone();
            env.push(("SNAPSHOT_DIR", snapshots.display().to_string()));
            env
        };
        let log = |name: &str| self.broker.dir.join(format!("whole-shop-{name}.log"));
        let limit = Duration::from_secs(3_600);

        // The first start replays both topics and bridges every product into checkout.
        let copies = stocked + n;
        self.say(&format!(
            "first start: replay, then {n} bridge copies (checkout's log ends at {copies} events)"
        ));
        let t0 = Instant::now();
        let mut first = ShopProcess::spawn(&bin, &with_snapshots, &log("first"))?;
        let first_ready = first.until_ok("/readyz", t0, limit).await?;
        let applied = r#"shop_context_applied_offset{context="checkout"}"#;
        loop {
            if first
                .metric(applied)
                .await
                .is_some_and(|o| o + 1.0 >= copies as f64)
            {
                break;
            }
            if t0.elapsed() > limit {
                bail!("checkout did not apply the bridge's {n} copies within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let bridged = t0.elapsed();
        let stop = first.terminate()?;
        self.say(&format!(
            "ready in {:.1} s, bridged in {:.1} s, stopped (snapshots written) in {:.1} s",
            first_ready.as_secs_f64(),
            bridged.as_secs_f64(),
            stop.as_secs_f64()
        ));

        let mut ready = vec![];
        for (name, env) in [
            ("replay", &base),
            ("snapshots-1", &with_snapshots),
            ("snapshots-2", &with_snapshots),
        ] {
            self.say(&format!("start: {name}"));
            let t0 = Instant::now();
            let mut shop = ShopProcess::spawn(&bin, env, &log(name))?;
            ready.push(shop.until_ok("/readyz", t0, limit).await?);
            shop.terminate()?;
        }
        let (replay, from_snapshots) = (ready[0], &ready[1..]);
        self.say(&format!(
            "ready from offset 0 in {:.1} s, from snapshots in {:.2} s and {:.2} s",
            replay.as_secs_f64(),
            from_snapshots[0].as_secs_f64(),
            from_snapshots[1].as_secs_f64()
        ));
        let best = from_snapshots.iter().min().copied().unwrap_or_default();
        table.row(vec![
            format!("whole shop (`shop serve`), {n} products: exec to `/readyz` 200 from its snapshots (s)"),
            format!(
                "{:.2} ({:.2} and {:.2})",
                best.as_secs_f64(),
                from_snapshots[0].as_secs_f64(),
                from_snapshots[1].as_secs_f64()
            ),
            format!("replay from offset 0: {:.1}", replay.as_secs_f64()),
            format!("{:.4}", best.as_secs_f64() / replay.as_secs_f64()),
            "≤ 2 s".into(),
        ]);
        notes.push(format!(
            "The whole shop: `shop generate --products {n} --seed {seed}` ({n} products, {stocked} \
             stock deliveries) into fresh topics, then the release `shop serve` started by this \
             run: a first start with `SNAPSHOT_DIR` replays both topics and bridges {n} copies \
             into checkout (ready in {:.1} s, every copy applied after {:.1} s; checkout's log: \
             {copies} events), stopped with SIGTERM, which writes each context's snapshot; then \
             started without `SNAPSHOT_DIR` (a replay of both topics from offset 0) and twice \
             with it, each timed from exec to its first `/readyz` 200 (both contexts ready; \
             polled every 10 ms).",
            first_ready.as_secs_f64(),
            bridged.as_secs_f64()
        ));
        Ok(())
    }
}
