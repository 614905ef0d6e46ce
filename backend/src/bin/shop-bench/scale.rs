//! u. How cost grows with the catalog: the real `shop` binary at 10,000, 100,000 and 1,000,000
//! generated products — time to ready from offset 0 and from snapshots, memory, the product
//! page, a catalog page, a search and add-to-cart at a fixed load — as a table and an SVG chart
//! (log-scale x axis, each figure relative to its value at the smallest catalog).

use super::command_load::set_line;
use super::search::urlencode;
use super::whole_shop::ShopProcess;
use super::*;

/// Queries the search row rotates through (each a kind of section s).
const QUERIES: [&str; 5] = ["lamp", "desk lamp", "wallnut bookshelf", "gift", "ca"];

/// One catalog size's figures, in the order of [`FIGURES`].
type Figures = [f64; 7];

/// (name, unit) of each figure.
const FIGURES: [(&str, &str); 7] = [
    ("ready from offset 0", "s"),
    ("ready from snapshots", "s"),
    ("memory (RSS)", "MiB"),
    ("product page p99 at 1,000 req/s", "ms"),
    ("catalog page p99 at 500 req/s", "ms"),
    ("search p99 at 100 req/s", "ms"),
    ("add-to-cart p99, one client", "ms"),
];

impl Bench {
    pub(crate) async fn scale(&mut self) -> SectionResult {
        let sizes = self.args.scale_products.clone();
        let mut rows: Vec<(u64, Figures)> = vec![];
        for &n in &sizes {
            self.say(&format!("--- {n} products"));
            rows.push((n, self.one_size(n).await?));
        }
        let mut header = vec!["figure".to_owned()];
        header.extend(
            sizes
                .iter()
                .map(|n| format!("{} products", count(*n as f64))),
        );
        header.push(format!(
            "growth, {} → {}",
            count(sizes[0] as f64),
            count(sizes[sizes.len() - 1] as f64)
        ));
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut table = Table::new(&header);
        let mut growth = vec![];
        for (f, (name, unit)) in FIGURES.iter().enumerate() {
            let values: Vec<f64> = rows.iter().map(|(_, v)| v[f]).collect();
            let g = values[values.len() - 1] / values[0];
            growth.push((g, *name));
            let mut row = vec![format!("{name} ({unit})")];
            row.extend(values.iter().map(|v| {
                if *v >= 100.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            }));
            row.push(format!("{g:.1}×"));
            table.row(row);
        }
        let chart = &self.args.scale_chart;
        std::fs::write(chart, svg(&rows))
            .with_context(|| format!("cannot write {}", chart.display()))?;
        growth.sort_by(|a, b| b.0.total_cmp(&a.0));
        let name = chart
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let notes = vec![
            format!(
                "![How each figure grows with the catalog, relative to {} products]({name})",
                count(sizes[0] as f64)
            ),
            format!(
                "Each size: `shop generate --products N --seed {}` into fresh topics, then the \
                 release `shop serve` (fetch.wait.max.ms={}, `SNAPSHOT_DIR` set): ready from \
                 offset 0 is its first start (exec to `/readyz` 200; the bridge's copies are \
                 then waited for), memory its RSS once every copy is applied, then the loads, \
                 then SIGTERM (which writes the snapshots) and a second start from them. Loads \
                 are open-loop at a fixed rate from this process (8 connections; a request whose \
                 connection was still busy at its slot counts from the slot, so a stall is not \
                 hidden) for 5 s each: \
                 product pages of random products, catalog pages 1–50 by name, the searches \
                 {} in turn; add-to-cart is 200 sequential commands of one cart.",
                self.args.seed,
                self.fetch_wait_ms,
                QUERIES.map(|q| format!("`{q}`")).join(", ")
            ),
            {
                let size = sizes[sizes.len() - 1] as f64 / sizes[0] as f64;
                let pace = |g: f64| {
                    if g > size * 1.2 {
                        "faster than the catalog"
                    } else if g > size / 1.5 {
                        "in step with the catalog"
                    } else if g > 1.5 {
                        "slower than the catalog"
                    } else {
                        "flat"
                    }
                };
                format!(
                    "Fastest-growing: **{}**, {:.0}× for a {size:.0}× larger catalog ({}); then \
                     {}, {:.1}× ({}). Start-up from offset 0 reads every event through the \
                     broker (about two per product: the product and its stock, then the bridge's \
                     copy), so it grows with the log, and at a million products it is the \
                     broker's fetch rate (section a) that sets it; a start from snapshots is a \
                     pass over each model, and memory the models themselves, both linear once \
                     the fixed cost of the process is small beside them. Reads, searches and \
                     commands are bounded by their page, their posting lists and one log \
                     append, so they stay within a few times their small-catalog cost, bent \
                     only by caches the model outgrows.",
                    growth[0].1,
                    growth[0].0,
                    pace(growth[0].0),
                    growth[1].1,
                    growth[1].0,
                    pace(growth[1].0),
                )
            },
        ];
        Ok((notes, table))
    }

    async fn one_size(&mut self, n: u64) -> anyhow::Result<Figures> {
        let seed = self.args.seed;
        let bin = std::env::current_exe()?.with_file_name("shop");
        let (catalog_topic, checkout_topic) =
            (format!("scale{n}.catalog"), format!("scale{n}.checkout"));
        let mut kafka = self.bulk_kafka()?;
        kafka.catalog_topic = catalog_topic.clone();
        kafka.checkout_topic = checkout_topic.clone();
        generate::run(generate::GenerateArgs {
            products: n,
            seed,
            stock_max: 50,
            csv: None,
            if_empty: false,
            kafka,
        })
        .await?;
        let copies = generate::stock_deliveries(seed, n, 50).count() as u64 + n;
        let snapshots = self.broker.dir.join(format!("scale{n}-snapshots"));
        let env = vec![
            ("KAFKA_BROKERS", self.broker.brokers()),
            ("KAFKA_FETCH_WAIT_MAX_MS", self.fetch_wait_ms.to_string()),
            ("TOPIC_CATALOG", catalog_topic),
            ("TOPIC_CHECKOUT", checkout_topic),
            ("SNAPSHOT_DIR", snapshots.display().to_string()),
        ];
        let log = |name: &str| self.broker.dir.join(format!("scale{n}-{name}.log"));
        let limit = Duration::from_secs(3_600);

        let t0 = Instant::now();
        let mut shop = ShopProcess::spawn(&bin, &env, &log("first"))?;
        let from_zero = shop.until_ok("/readyz", t0, limit).await?;
        let applied = r#"shop_context_applied_offset{context="checkout"}"#;
        while !shop
            .metric(applied)
            .await
            .is_some_and(|o| o + 1.0 >= copies as f64)
        {
            if t0.elapsed() > limit {
                bail!("checkout did not apply the bridge's copies within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let rss = rss_of(shop.pid()).context("the shop's RSS")?;
        self.say(&format!(
            "  ready from offset 0 in {:.1} s, RSS {}",
            from_zero.as_secs_f64(),
            mib(rss)
        ));
        let addr = shop.addr;
        let product = |i: u64| format!("/api/products/{}", 1 + (i * 7919) % n);
        let page = |i: u64| format!("/api/products?sort=name&page={}&page_size=20", 1 + i % 50);
        let search = |i: u64| {
            format!(
                "/api/products?q={}",
                urlencode(QUERIES[i as usize % QUERIES.len()])
            )
        };
        let products = paced(addr, 1000.0, &[], &product).await?.p99;
        let pages = paced(addr, 500.0, &[], &page).await?.p99;
        let searches = paced(addr, 100.0, &[], &search).await?.p99;
        let carts = add_to_cart(addr, 200).await?;
        self.say(&format!(
            "  p99: product {:.2} ms, page {:.2} ms, search {:.2} ms, cart {:.2} ms",
            millis(products),
            millis(pages),
            millis(searches),
            millis(carts)
        ));
        shop.terminate()?;
        let t0 = Instant::now();
        let mut again = ShopProcess::spawn(&bin, &env, &log("snapshots"))?;
        let from_snapshots = again.until_ok("/readyz", t0, limit).await?;
        again.terminate()?;
        self.say(&format!(
            "  ready from snapshots in {:.2} s",
            from_snapshots.as_secs_f64()
        ));
        Ok([
            from_zero.as_secs_f64(),
            from_snapshots.as_secs_f64(),
            rss as f64 / (1 << 20) as f64,
            millis(products),
            millis(pages),
            millis(searches),
            millis(carts),
        ])
    }
}

/// VmRSS of a process, in bytes.
fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// The p99 of `n` sequential add-to-cart commands of one cart.
async fn add_to_cart(addr: SocketAddr, n: usize) -> anyhow::Result<Duration> {
    let mut conn = HttpConn::connect(addr).await?;
    let cookie = bench_cart_cookie();
    let mut samples = vec![];
    for i in 0..n + 20 {
        let key = format!("scale-{i}");
        let path = format!("/api/cart/lines/{}", 1 + (i % 5));
        let t0 = Instant::now();
        let (status, reply) = set_line(&mut conn, &path, 1 + i as u64 % 3, &key, &cookie).await?;
        if status != 200 {
            bail!("PUT {path}: {status} {}", String::from_utf8_lossy(&reply));
        }
        if i >= 20 {
            samples.push(t0.elapsed());
        }
    }
    Ok(Percentiles::of(samples).p99)
}

/// The chart: x the catalog size (log), y each figure over its value at the smallest size
/// (log), one line per figure.
fn svg(rows: &[(u64, Figures)]) -> String {
    const COLOURS: [&str; 7] = [
        "#d62728", "#ff7f0e", "#2ca02c", "#1f77b4", "#9467bd", "#8c564b", "#e377c2",
    ];
    let (w, h, left, right, top, bottom) = (760.0, 420.0, 70.0, 250.0, 30.0, 50.0);
    let (x0, x1) = (
        (rows[0].0 as f64).log10(),
        (rows[rows.len() - 1].0 as f64).log10(),
    );
    let ratios: Vec<Vec<f64>> = (0..FIGURES.len())
        .map(|f| {
            rows.iter()
                .map(|(_, v)| (v[f] / rows[0].1[f]).max(1e-3))
                .collect()
        })
        .collect();
    let max = ratios.iter().flatten().fold(1.0f64, |a, &b| a.max(b));
    let min = ratios.iter().flatten().fold(1.0f64, |a, &b| a.min(b));
    let (y0, y1) = (min.log10().floor().min(0.0), max.log10().ceil().max(1.0));
    let px = |x: f64| left + (x.log10() - x0) / (x1 - x0) * (w - left - right);
    let py = |y: f64| top + (y1 - y.log10()) / (y1 - y0) * (h - top - bottom);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    // Axes with a grid line per decade.
    let mut d = y0;
    while d <= y1 {
        let y = py(10f64.powf(d));
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}×</text>",
            w - right,
            left - 6.0,
            y + 4.0,
            10f64.powf(d)
        );
        d += 1.0;
    }
    for (n, _) in rows {
        let x = px(*n as f64);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            h - bottom,
            h - bottom + 18.0,
            count(*n as f64)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">products (log scale)</text>\
         <text x=\"16\" y=\"{:.1}\" transform=\"rotate(-90 16 {:.1})\" text-anchor=\"middle\">relative to {} products (log scale)</text>",
        left + (w - left - right) / 2.0,
        h - 12.0,
        top + (h - top - bottom) / 2.0,
        top + (h - top - bottom) / 2.0,
        count(rows[0].0 as f64)
    );
    for (f, (name, _)) in FIGURES.iter().enumerate() {
        let points: Vec<String> = rows
            .iter()
            .zip(&ratios[f])
            .map(|((n, _), r)| format!("{:.1},{:.1}", px(*n as f64), py(*r)))
            .collect();
        let colour = COLOURS[f % COLOURS.len()];
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        );
        let last = ratios[f][ratios[f].len() - 1];
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{colour}\">{name} ({last:.1}×)</text>",
            w - right + 8.0,
            top + 16.0 * f as f64 + 8.0
        );
    }
    s.push_str("</svg>\n");
    s
}
