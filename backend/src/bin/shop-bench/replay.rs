//! a. Replay of a catalog topic: the engine's start-up replay against a bare librdkafka
//! consumer that only counts the same messages.

use super::*;

impl Bench {
    pub(crate) async fn replay(&mut self) -> SectionResult {
        let n = self.args.events;
        let topic = "bench.replay.catalog";
        let cfg = self.kafka()?;
        self.create_topics(&[topic]).await?;
        self.say(&format!(
            "producing {n} catalog events (products 1..={n}, seed {})",
            self.args.seed
        ));
        let seed = self.args.seed;
        let produced = self
            .produce(
                topic,
                n,
                (1..=n).map(move |id| (id.to_be_bytes(), catalog_upsert(seed, id).encode_to_vec())),
            )
            .await?;
        self.catalog_topic = Some((topic.to_owned(), n));
        let mut table = Table::new(&[
            "round",
            "engine replay (events/s)",
            "baseline: raw consumer (events/s)",
            "ratio",
            "goal",
        ]);
        let mut details = vec![];
        for round in 1..=2 {
            self.say(&format!("round {round}: raw consumer"));
            let raw = raw_consume(cfg.clone(), topic.to_owned()).await;
            match &raw {
                Ok(raw) => self.say(&format!(
                    "round {round}: raw consumer read {} events in {:.2} s ({})",
                    raw.events,
                    raw.elapsed.as_secs_f64(),
                    rate(raw.events, raw.elapsed)
                )),
                Err(e) => self.say(&format!("round {round}: raw consumer failed: {e:#}")),
            }
            self.say(&format!("round {round}: engine replay"));
            let eng = engine_replay(&cfg, topic, self.started).await;
            match &eng {
                Ok(eng) => self.say(&format!(
                    "round {round}: engine replayed {} events in {:.2} s ({}), finalize included",
                    eng.events,
                    eng.elapsed.as_secs_f64(),
                    rate(eng.events, eng.elapsed)
                )),
                Err(e) => self.say(&format!("round {round}: engine replay failed: {e:#}")),
            }
            let cell = |r: Result<(u64, Duration), &anyhow::Error>| match r {
                Ok((events, elapsed)) => format!(
                    "{} ({:.1} s)",
                    count(per_sec(events, elapsed)),
                    elapsed.as_secs_f64()
                ),
                Err(e) => format!("**failed:** {e:#}"),
            };
            let ratio = match (&raw, &eng) {
                (Ok(raw), Ok(eng)) => format!(
                    "{:.2}",
                    per_sec(eng.events, eng.elapsed) / per_sec(raw.events, raw.elapsed)
                ),
                _ => "—".into(),
            };
            table.row(vec![
                round.to_string(),
                cell(eng.as_ref().map(|e| (e.events, e.elapsed))),
                cell(raw.as_ref().map(|r| (r.events, r.elapsed))),
                ratio,
                "≥ 0.9".into(),
            ]);
            if let (Ok(raw), Ok(eng)) = (&raw, &eng) {
                details.push(format!(
                    "round {round}: {} products in the engine's model, {} MB of payload read raw",
                    eng.products,
                    raw.bytes / 1_000_000
                ));
            }
        }
        let mut notes = vec![
            format!(
                "{n} `ProductUpsertedV1` events (products 1..={n} of `shop generate --seed {}`), \
                 {:.0} bytes each on average, produced by `import::produce_all` at {} \
                 ({:.1} s; acks=all, idempotent, linger.ms=5).",
                self.args.seed,
                produced.bytes as f64 / n as f64,
                rate(n, produced.elapsed),
                produced.elapsed.as_secs_f64()
            ),
            format!(
                "Raw consumer: a `BaseConsumer` made by `kafka::consumer` (fetch.wait.max.ms={}), \
                 assigned from offset 0, polling until the high watermark and only counting. \
                 Engine: `engine::spawn` of a `Context<CatalogFold>`; time from its own start \
                 (after reading the watermark) to ready, i.e. `stats().replay_millis`, which \
                 includes `finalize`. The two alternate, twice.",
                self.fetch_wait_ms
            ),
            "The broker is the bottleneck (tansu near 100% of a core, the engine thread \
             mostly idle; compare b.). tansu 0.6.0's SQLite fetch (`record_fetch.sql`) sums \
             the sizes of every record from the fetch offset up to the high watermark before \
             applying the byte limit, and reads headers with one query per record, so a fetch \
             costs O(records after its offset): a replay of a large topic starts slow and \
             speeds up towards the end, and events/s fall as the topic grows (the toolchain \
             notes' 50–64k msg/s were for 200k messages of 100 bytes)."
                .to_owned(),
        ];
        if !details.is_empty() {
            notes.push(format!("Checks: {}.", details.join("; ")));
        }
        Ok((notes, table))
    }

    pub(crate) async fn produce(
        &self,
        topic: &str,
        n: u64,
        records: impl Iterator<Item = ([u8; 8], Vec<u8>)>,
    ) -> anyhow::Result<Produced> {
        let cfg = self.bulk_kafka()?;
        let producer = kafka::producer(&cfg.settings(), BrokerStatus::new())?;
        let bar = ProgressBar::hidden();
        let ticker = ticker(self.started, bar.clone(), n, "produced");
        let mut bytes = 0u64;
        let records = records.inspect(|(_, p)| bytes += p.len() as u64);
        let t0 = Instant::now();
        let result = import::produce_all(&producer, topic, records, &bar).await;
        let elapsed = t0.elapsed();
        ticker.abort();
        let written = result?;
        kafka::flush(&producer, Duration::from_secs(10));
        self.say(&format!(
            "produced {written} events to {topic} in {:.1} s ({})",
            elapsed.as_secs_f64(),
            rate(written, elapsed)
        ));
        Ok(Produced { bytes, elapsed })
    }
}
