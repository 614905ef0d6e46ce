//! b. Decode + apply without a broker: prost decoding and the pure folds on one thread,
//! against decoding alone.

use super::*;

impl Bench {
    pub(crate) fn decode_apply(&mut self) -> SectionResult {
        let n = self.args.events;
        let seed = self.args.seed;
        self.say(&format!("encoding {n} catalog events in memory"));
        let catalog = Encoded::build((1..=n).map(|id| catalog_upsert(seed, id)));
        self.say(&format!(
            "encoded {n} events, {} MB",
            catalog.buf.len() / 1_000_000
        ));
        let mut table = Table::new(&["figure", "value", "baseline", "ratio", "goal"]);
        for round in 1..=2 {
            let decode = time(|| decode_only::<CatalogEvent>(&catalog));
            let (apply, finalize, products) = {
                let t0 = Instant::now();
                let mut model = Catalog::default();
                for (i, bytes) in catalog.iter().enumerate() {
                    let event = CatalogEvent::decode(bytes).expect("encoded here");
                    CatalogFold::apply(&mut model, &event, i as i64);
                }
                let apply = t0.elapsed();
                let t1 = Instant::now();
                CatalogFold::finalize(&mut model);
                let finalize = t1.elapsed();
                let products = model.product_count();
                drop(model);
                (apply, finalize, products)
            };
            assert_eq!(products as u64, n, "every product applied");
            let (r_apply, r_decode) = (per_sec(n, apply), per_sec(n, decode));
            self.say(&format!(
                "round {round}: decode {} ; decode+apply {} ; finalize {:.0} ms",
                rate(n, decode),
                rate(n, apply),
                millis(finalize)
            ));
            table.row(vec![
                format!("catalog decode + apply, round {round} (events/s)"),
                count(r_apply),
                format!("decode alone: {}", count(r_decode)),
                format!("{:.2}", r_apply / r_decode),
                "—".into(),
            ]);
            table.row(vec![
                format!("catalog `finalize` of {n} products, round {round}"),
                format!("{:.0} ms", millis(finalize)),
                format!("decode + apply: {:.0} ms", millis(apply)),
                format!("{:.2}", finalize.as_secs_f64() / apply.as_secs_f64()),
                "—".into(),
            ]);
            table.row(vec![
                format!("catalog decode + apply + finalize, round {round} (events/s)"),
                count(per_sec(n, apply + finalize)),
                format!("decode alone: {}", count(r_decode)),
                format!("{:.2}", per_sec(n, apply + finalize) / r_decode),
                "≥ 1,000,000/s".into(),
            ]);
        }
        drop(catalog);

        // Checkout: carts of four lines and an order each, over pre-bridged, stocked products.
        let p = self.args.products.max(4);
        self.say(&format!(
            "checkout: bridging {p} products and their stock (not timed)"
        ));
        let mut base = Checkout::default();
        for id in 1..=p {
            let fact = CheckoutEvent {
                event: Some(checkout_event::Event::CatalogFactV1(CatalogFactV1 {
                    source_offset: id as i64 - 1,
                    previous_source_offset: id as i64 - 2,
                    event: Some(catalog_upsert(seed, id)),
                })),
                meta: None,
            };
            CheckoutFold::apply(&mut base, &fact, id as i64 - 1);
        }
        for id in 1..=p {
            let stock = CheckoutEvent {
                event: Some(checkout_event::Event::StockDeliveredV1(StockDeliveredV1 {
                    product_id: id,
                    quantity: 1_000,
                })),
                meta: Some(meta(format!("stock-{id}"))),
            };
            CheckoutFold::apply(&mut base, &stock, (p + id) as i64);
        }
        CheckoutFold::finalize(&mut base);
        let lines = (n / 2).max(4);
        let events = shopper_events(p, lines);
        let m = events.len() as u64;
        self.say(&format!(
            "checkout: {lines} cart-line events + {} order events encoded",
            m - lines
        ));
        let mut notes_checkout = String::new();
        for round in 1..=2 {
            let decode = time(|| decode_only::<CheckoutEvent>(&events));
            let mut model = base.clone();
            let first = 2 * p as i64;
            let t0 = Instant::now();
            for (i, bytes) in events.iter().enumerate() {
                let event = CheckoutEvent::decode(bytes).expect("encoded here");
                CheckoutFold::apply(&mut model, &event, first + i as i64);
            }
            let apply = t0.elapsed();
            let (_, orders, _) = model.counts();
            drop(model);
            notes_checkout = format!("{orders} orders placed");
            let (r_apply, r_decode) = (per_sec(m, apply), per_sec(m, decode));
            self.say(&format!(
                "checkout round {round}: decode {} ; decode+apply {}",
                rate(m, decode),
                rate(m, apply)
            ));
            table.row(vec![
                format!("checkout decode + apply, round {round} (events/s)"),
                count(r_apply),
                format!("decode alone: {}", count(r_decode)),
                format!("{:.2}", r_apply / r_decode),
                "—".into(),
            ]);
        }
        let notes = vec![
            format!(
                "Catalog: the same {n} events as in a., encoded once into memory, then decoded \
                 with prost and applied with `CatalogFold::apply` in batch mode (the replay's \
                 mode: listings not maintained), then one `CatalogFold::finalize` (sorts the \
                 listings). Baseline: decoding alone. One thread, no broker."
            ),
            format!(
                "Checkout: a model with {p} bridged products (`CatalogFactV1`) and stock, then \
                 {lines} `CartLineSetV1` events (carts of four lines) and {} `OrderRequestedV1` \
                 events (one per cart; {notes_checkout}), each with its own idempotency key.",
                m - lines
            ),
        ];
        Ok((notes, table))
    }
}
