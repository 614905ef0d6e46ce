//! f. Start-up with a snapshot against a replay from offset 0, each model's snapshot write and
//! load without a broker, and the whole shop's (in `whole_shop.rs`).

use super::*;

impl Bench {
    pub(crate) async fn startup(&mut self) -> SectionResult {
        let (p, seed) = (self.args.products, self.args.seed);
        let mut table = Table::new(&["figure", "value", "baseline", "ratio", "goal"]);
        let mut notes = vec![];
        // Removed with the broker's directory at the end of the run.
        let dir = &self.broker.dir.join("snapshots");

        // Without a broker: each model's snapshot written and loaded.
        self.say(&format!(
            "building the catalog model of {p} products in memory"
        ));
        let mut catalog = Catalog::default();
        for id in 1..=p {
            CatalogFold::apply(&mut catalog, &catalog_upsert(seed, id), id as i64 - 1);
        }
        CatalogFold::finalize(&mut catalog);
        let t0 = Instant::now();
        let written =
            snapshot::file::write::<CatalogFold>(dir, "mem.catalog", p as i64, 0, &catalog, 1)?;
        let write = t0.elapsed();
        drop(catalog);
        trim_heap();
        let load = load_snapshot::<CatalogFold>(dir, "mem.catalog", p as i64)?;
        self.say(&format!(
            "catalog snapshot: {} MB written in {:.2} s (encode {:.2} s), loaded in {:.2} s ({:.2} s CPU)",
            written.bytes / 1_000_000,
            write.as_secs_f64(),
            written.encode.as_secs_f64(),
            load.wall.as_secs_f64(),
            load.cpu.as_secs_f64()
        ));
        table.row(vec![
            format!("catalog snapshot load, {} products (s)", load.entries),
            format!("{:.2}", load.wall.as_secs_f64()),
            format!("CPU time: {:.2}", load.cpu.as_secs_f64()),
            "—".into(),
            "≤ 2 s".into(),
        ]);
        table.row(vec![
            format!(
                "catalog snapshot write ({} MB; off the writer thread) (s)",
                written.bytes / 1_000_000
            ),
            format!("{:.2}", write.as_secs_f64()),
            format!("encode alone: {:.2}", written.encode.as_secs_f64()),
            "—".into(),
            "—".into(),
        ]);

        self.say(&format!(
            "building the checkout model of {p} products and stock in memory"
        ));
        let mut checkout = Checkout::default();
        for id in 1..=p {
            let fact = CheckoutEvent {
                event: Some(checkout_event::Event::CatalogFactV1(CatalogFactV1 {
                    source_offset: id as i64 - 1,
                    previous_source_offset: id as i64 - 2,
                    event: Some(catalog_upsert(seed, id)),
                })),
                meta: None,
            };
            CheckoutFold::apply(&mut checkout, &fact, id as i64 - 1);
            let stock = CheckoutEvent {
                event: Some(checkout_event::Event::StockDeliveredV1(StockDeliveredV1 {
                    product_id: id,
                    quantity: 1_000,
                })),
                meta: Some(meta(format!("stock-{id}"))),
            };
            CheckoutFold::apply(&mut checkout, &stock, (p + id) as i64);
        }
        CheckoutFold::finalize(&mut checkout);
        let t0 = Instant::now();
        let written = snapshot::file::write::<CheckoutFold>(
            dir,
            "mem.checkout",
            2 * p as i64,
            0,
            &checkout,
            1,
        )?;
        let write = t0.elapsed();
        drop(checkout);
        trim_heap();
        let load = load_snapshot::<CheckoutFold>(dir, "mem.checkout", 2 * p as i64)?;
        self.say(&format!(
            "checkout snapshot: {} MB written in {:.2} s, loaded in {:.2} s ({:.2} s CPU)",
            written.bytes / 1_000_000,
            write.as_secs_f64(),
            load.wall.as_secs_f64(),
            load.cpu.as_secs_f64()
        ));
        table.row(vec![
            format!("checkout snapshot load, {p} products + {p} stock deliveries (s)"),
            format!("{:.2}", load.wall.as_secs_f64()),
            format!("CPU time: {:.2}", load.cpu.as_secs_f64()),
            "—".into(),
            "≤ 2 s".into(),
        ]);

        // On the broker: the catalog context's start-up, from offset 0 and from the snapshot
        // the first start wrote.
        let n = self.args.events;
        let topic = match &self.catalog_topic {
            Some((topic, events)) if *events == n => topic.clone(),
            _ => {
                let topic = "bench.startup.catalog";
                self.create_topics(&[topic]).await?;
                self.say(&format!(
                    "producing {n} catalog events (products 1..={n}, seed {seed})"
                ));
                self.produce(
                    topic,
                    n,
                    (1..=n).map(move |id| {
                        (id.to_be_bytes(), catalog_upsert(seed, id).encode_to_vec())
                    }),
                )
                .await?;
                self.catalog_topic = Some((topic.to_owned(), n));
                topic.to_owned()
            }
        };
        let cfg = self.kafka()?;
        let settings = snapshot::SnapshotSettings {
            dir: dir.join("broker"),
            every_events: 0,
            every: Duration::ZERO,
            keep: 1,
            verify_every: None,
        };
        self.say("catalog start-up without a snapshot (replay from offset 0; writes one)");
        let full = engine_start(&cfg, &topic, &settings, self.started).await?;
        self.say(&format!("ready in {:.2} s", full.ready.as_secs_f64()));
        self.say("catalog start-up with the snapshot");
        let fast = engine_start(&cfg, &topic, &settings, self.started).await?;
        self.say(&format!(
            "ready in {:.2} s (snapshot at {}, tail {})",
            fast.ready.as_secs_f64(),
            fast.snapshot_offset,
            fast.tail
        ));
        if fast.snapshot_offset != n as i64 || full.products != fast.products {
            bail!(
                "the start with a snapshot loaded offset {} (want {n}) and has {} products (want {})",
                fast.snapshot_offset,
                fast.products,
                full.products
            );
        }
        table.row(vec![
            format!(
                "catalog context on the broker, {n} events: time to ready with the snapshot (s)"
            ),
            format!("{:.2}", fast.ready.as_secs_f64()),
            format!("replay from offset 0: {:.2}", full.ready.as_secs_f64()),
            format!("{:.3}", fast.ready.as_secs_f64() / full.ready.as_secs_f64()),
            "≤ 2 s".into(),
        ]);
        notes.push(format!(
            "Without a broker: the model of products 1..={p} of `shop generate --seed {seed}` (the \
             checkout model also with one keyed stock delivery per product), written by \
             `snapshot::write` (encode, temp file, fsync, rename) and read back by \
             `snapshot::load_newest` (read, CRC, decode into the persistent maps, no sorting: the \
             three sort orders are stored) from the page cache, into a fresh heap. CPU time is \
             the process's, all threads (the load builds one map on a second thread); wall time \
             on this shared machine depends on its load."
        ));
        notes.push(format!(
            "On the broker: `engine::spawn` of a `Context<CatalogFold>` with snapshots in a fresh \
             directory over the {n}-event topic, from its start (after reading the watermark) to \
             ready (`stats().replay_millis`, which includes the snapshot load and `finalize`). The \
             first start finds no snapshot, replays from offset 0 and writes one; the second loads \
             it ({} events of tail), after reading back the event the snapshot ends with. The \
             shop starts checkout, then the catalog: with snapshots, its time to ready is about \
             the sum of the two loads plus the broker round trips.",
            fast.tail
        ));
        if self.args.whole_shop_products > 0 {
            self.whole_shop(&mut table, &mut notes).await?;
        }
        Ok((notes, table))
    }
}
