//! `shop import`: loads products and stock deliveries from CSV files into Kafka, and the one
//! produce loop every bulk tool (import, demo data) shares.
//!
//! A file is validated whole before anything is written: one bad row and nothing reaches Kafka,
//! so a fixed file can simply be imported again. Every row's idempotency key is derived from the
//! file's content and the row's line, so importing the same file twice has no second effect.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::FutureExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use prost::Message;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use shared::proto::{
    CatalogEvent, CheckoutEvent, Money, ProductUpsertedV1, StockDeliveredV1, UpsertProduct,
    catalog_event, checkout_event,
};

use crate::catalog::validate::validate_product;
use crate::commands::meta;
use crate::config::KafkaConfig;
use crate::engine::kafka::{self, BrokerStatus, ShopClientContext};

/// The products file's columns, in the order `generate` writes them (any order is read).
pub const PRODUCT_COLUMNS: [&str; 8] = [
    "id",
    "title",
    "description",
    "long_text",
    "category",
    "price_minor",
    "currency",
    "image_urls",
];
/// The stock file's columns.
pub const STOCK_COLUMNS: [&str; 2] = ["product_id", "quantity"];
/// Separates the URLs inside the `image_urls` column.
pub const IMAGE_URL_SEPARATOR: char = '|';
/// Largest quantity of one stock row, the server's default delivery limit.
pub const MAX_STOCK_QUANTITY: u32 = 1_000_000;
/// More bad rows than this are counted, not printed.
const MAX_PRINTED_ERRORS: usize = 50;

/// `shop import products|stock FILE.csv`.
#[derive(clap::Subcommand)]
pub enum ImportCommand {
    /// Create or replace products. Columns: id,title,description,long_text,category,
    /// price_minor,currency,image_urls (URLs separated by `|`, may be empty).
    Products(ImportArgs),
    /// Add stock deliveries to the current stock. Columns: product_id,quantity (1 to 1000000).
    ///
    /// Product ids are not checked against the catalog: the catalog may be imported in the same
    /// session and not have reached the checkout yet. Stock of an id the catalog never gets is
    /// counted but cannot be sold.
    Stock(ImportArgs),
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The CSV file, with a header line.
    pub file: PathBuf,
    #[command(flatten)]
    pub kafka: KafkaConfig,
}

/// A row that cannot be imported. `line` is the file's line (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A valid row and the line it starts on (part of its idempotency key).
#[derive(Debug, Clone, PartialEq)]
pub struct Row<T> {
    pub line: u64,
    pub event: T,
}

/// Reads a products file; every bad row is reported, not just the first.
pub fn parse_products(reader: impl Read) -> Result<Vec<Row<ProductUpsertedV1>>, Vec<RowError>> {
    parse_rows(
        reader,
        PRODUCT_COLUMNS,
        |[
            id,
            title,
            description,
            long_text,
            category,
            price,
            currency,
            urls,
        ]| {
            let id = positive_id("id", id)?;
            let minor = price
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("price_minor must be an integer, got {price:?}"))?;
            let image_urls = if urls.trim().is_empty() {
                Vec::new()
            } else {
                urls.split(IMAGE_URL_SEPARATOR)
                    .map(|u| u.trim().to_owned())
                    .collect()
            };
            let upsert = UpsertProduct {
                title: title.to_owned(),
                description: description.to_owned(),
                long_text: long_text.to_owned(),
                category: category.to_owned(),
                price: Some(Money {
                    minor,
                    currency: currency.trim().to_owned(),
                }),
                image_urls,
            };
            validate_product(id, &upsert).map_err(|e| e.message)
        },
        |p| p.product_id,
    )
}

/// Reads a stock file; every bad row is reported, not just the first.
pub fn parse_stock(reader: impl Read) -> Result<Vec<Row<StockDeliveredV1>>, Vec<RowError>> {
    parse_rows(
        reader,
        STOCK_COLUMNS,
        |[product_id, quantity]| {
            let product_id = positive_id("product_id", product_id)?;
            let q = quantity
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("quantity must be an integer, got {quantity:?}"))?;
            match u32::try_from(q) {
                Ok(quantity) if (1..=MAX_STOCK_QUANTITY).contains(&quantity) => {
                    Ok(StockDeliveredV1 {
                        product_id,
                        quantity,
                    })
                }
                _ => Err(format!(
                    "quantity must be between 1 and {MAX_STOCK_QUANTITY}, got {q}"
                )),
            }
        },
        |s| s.product_id,
    )
}

fn positive_id(column: &str, value: &str) -> Result<u64, String> {
    let v = value.trim();
    match v.parse::<u64>() {
        Ok(n) if n > 0 && !v.starts_with('+') => Ok(n),
        _ => Err(format!(
            "{column} must be a positive integer, got {:?}",
            value.chars().take(40).collect::<String>()
        )),
    }
}

/// Where each expected column is in the header. The order is free; a missing, unknown or
/// repeated column is an error, since a misspelt column would otherwise import as empty.
fn column_positions<const N: usize>(
    header: &csv::StringRecord,
    expected: [&str; N],
) -> Result<[usize; N], String> {
    let mut positions = [usize::MAX; N];
    let mut problems = Vec::new();
    for (i, name) in header.iter().enumerate() {
        // A spreadsheet's UTF-8 byte order mark sticks to the first name.
        let name = name.trim_start_matches('\u{feff}').trim();
        match expected.iter().position(|e| *e == name) {
            Some(c) if positions[c] != usize::MAX => {
                problems.push(format!("column {name:?} appears twice"))
            }
            Some(c) => positions[c] = i,
            None => problems.push(format!("unknown column {name:?}")),
        }
    }
    let missing: Vec<&str> = expected
        .iter()
        .zip(positions)
        .filter(|(_, p)| *p == usize::MAX)
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        problems.insert(0, format!("missing column(s) {}", missing.join(", ")));
    }
    if problems.is_empty() {
        Ok(positions)
    } else {
        Err(format!(
            "{} (expected header: {})",
            problems.join("; "),
            expected.join(",")
        ))
    }
}

/// The frame of both parsers: header, per-row conversion, duplicate ids, error collection.
fn parse_rows<T, const N: usize>(
    reader: impl Read,
    columns: [&str; N],
    convert: impl Fn([&str; N]) -> Result<T, String>,
    id_of: impl Fn(&T) -> u64,
) -> Result<Vec<Row<T>>, Vec<RowError>> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let header_error = |message: String| vec![RowError { line: 1, message }];
    let positions = match csv.headers() {
        Ok(header) => column_positions(header, columns).map_err(header_error)?,
        Err(e) => return Err(header_error(csv_error_message(&e))),
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut first_line_of: HashMap<u64, u64> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let fields = positions.map(|p| record.get(p).unwrap_or(""));
                match convert(fields) {
                    Ok(event) => match first_line_of.entry(id_of(&event)) {
                        Entry::Occupied(first) => errors.push(RowError {
                            line,
                            message: format!(
                                "duplicate {} {} (first on line {})",
                                columns[0],
                                first.key(),
                                first.get()
                            ),
                        }),
                        Entry::Vacant(slot) => {
                            slot.insert(line);
                            rows.push(Row { line, event });
                        }
                    },
                    Err(message) => errors.push(RowError { line, message }),
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
                errors.push(RowError {
                    line,
                    message: csv_error_message(&e),
                });
                if fatal {
                    break;
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

fn csv_error_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields, got {len}"),
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        csv::ErrorKind::Io(e) => format!("cannot read the file: {e}"),
        _ => e.to_string(),
    }
}

pub async fn run(command: ImportCommand) -> anyhow::Result<()> {
    match command {
        ImportCommand::Products(args) => import(FileKind::Products, args).await,
        ImportCommand::Stock(args) => import(FileKind::Stock, args).await,
    }
}

/// What an import file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Products,
    Stock,
}

impl FileKind {
    /// `products` or `stock`, as the CLI's subcommand and the import endpoint's path name it.
    pub fn parse(name: &str) -> Option<FileKind> {
        match name {
            "products" => Some(FileKind::Products),
            "stock" => Some(FileKind::Stock),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FileKind::Products => "products",
            FileKind::Stock => "stock",
        }
    }

    /// What its rows are, in a progress bar or a summary.
    pub fn rows(self) -> &'static str {
        match self {
            FileKind::Products => "products",
            FileKind::Stock => "stock rows",
        }
    }
}

/// A valid file as the records that import it, in file order.
pub struct Prepared {
    pub kind: FileKind,
    pub topic: String,
    pub records: Vec<([u8; 8], Vec<u8>)>,
    /// The file's fingerprint: part of every stock row's idempotency key.
    pub hash: u64,
}

/// Validates a whole file and builds the records that import it: every bad row is reported,
/// and with one nothing is built. The one rule set of `shop import` and the import endpoint.
pub fn prepare(kind: FileKind, bytes: &[u8], cfg: &KafkaConfig) -> Result<Prepared, Vec<RowError>> {
    let hash = meta::fingerprint(&[bytes]);
    let (topic, records) = match kind {
        FileKind::Products => {
            let records = parse_products(bytes)?
                .into_iter()
                .map(|row| {
                    let id = row.event.product_id;
                    let event = CatalogEvent {
                        event: Some(catalog_event::Event::ProductUpsertedV1(row.event)),
                        // An upsert is idempotent by its content (importing again sets the same
                        // fields); a key would only cost the catalog model a record per product.
                        meta: None,
                    };
                    (id.to_be_bytes(), event.encode_to_vec())
                })
                .collect();
            (&cfg.catalog_topic, records)
        }
        FileKind::Stock => {
            let records = parse_stock(bytes)?
                .into_iter()
                .map(|row| {
                    // The same file again (any upload, any replica) adds nothing twice.
                    let key = format!("import-stock-{hash:016x}-{}", row.line);
                    let id = row.event.product_id;
                    let event = CheckoutEvent {
                        event: Some(checkout_event::Event::StockDeliveredV1(row.event)),
                        meta: Some(meta::meta(key, 0)),
                    };
                    (id.to_be_bytes(), event.encode_to_vec())
                })
                .collect();
            (&cfg.checkout_topic, records)
        }
    };
    Ok(Prepared {
        kind,
        topic: topic.clone(),
        records,
        hash,
    })
}

async fn import(kind: FileKind, args: ImportArgs) -> anyhow::Result<()> {
    let file = &args.file;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let prepared = match prepare(kind, &bytes, &args.kafka) {
        Ok(p) => p,
        Err(errors) => {
            for e in errors.iter().take(MAX_PRINTED_ERRORS) {
                eprintln!("{}: {e}", file.display());
            }
            if errors.len() > MAX_PRINTED_ERRORS {
                eprintln!(
                    "... and {} more bad rows",
                    errors.len() - MAX_PRINTED_ERRORS
                );
            }
            bail!(
                "{} has {} bad row(s); nothing was written to Kafka",
                file.display(),
                errors.len()
            )
        }
    };
    prepare_topics(&args.kafka).await?;
    let total = prepared.records.len() as u64;
    write_all(
        &args.kafka,
        &prepared.topic,
        kind.rows(),
        total,
        prepared.records.into_iter(),
    )
    .await
}

/// Refuses the in-process mock cluster (a bulk load into it would vanish on exit) and creates
/// the shop's topics where missing.
pub async fn prepare_topics(cfg: &KafkaConfig) -> anyhow::Result<()> {
    if cfg.brokers == "memory" {
        bail!(
            "--kafka-brokers memory is an in-process cluster that is gone when this command exits; \
             point it at the broker the shop uses"
        );
    }
    kafka::ensure_topics(cfg, &[&cfg.catalog_topic, &cfg.checkout_topic])
        .await
        .with_context(|| format!("cannot create the shop's topics on {}", cfg.brokers))
}

/// Produces `total` records to `topic` with a progress bar and prints a summary line.
pub async fn write_all<K: AsRef<[u8]>>(
    cfg: &KafkaConfig,
    topic: &str,
    what: &str,
    total: u64,
    records: impl Iterator<Item = (K, Vec<u8>)>,
) -> anyhow::Result<()> {
    let producer = kafka::producer(&bulk_config(cfg), BrokerStatus::new())?;
    let progress = progress_bar(total, what);
    let started = Instant::now();
    let result = produce_all(&producer, topic, records, &progress).await;
    let elapsed = started.elapsed().as_secs_f64();
    match result {
        Ok(written) => {
            progress.finish_and_clear();
            println!(
                "wrote {written} {what} to {topic} in {elapsed:.1} s ({:.0} rows/s)",
                written as f64 / elapsed.max(1e-9)
            );
            Ok(())
        }
        Err(e) => {
            progress.abandon();
            bail!(
                "writing {what} to {topic} failed: Kafka acknowledged {} of {total} ({})",
                e.acknowledged,
                e.cause
            )
        }
    }
}

/// The producer settings of a bulk load. Its records wait in librdkafka's queue behind thousands
/// of others, and message.timeout.ms counts that wait: the server's few seconds per command
/// would fail a load on any broker slower than the queue is deep.
pub fn bulk_config(cfg: &KafkaConfig) -> KafkaConfig {
    let mut cfg = cfg.clone();
    cfg.produce_timeout = cfg.produce_timeout.max(Duration::from_secs(120));
    // Fuller batches; a bulk load has no one waiting on a single record's latency.
    cfg.linger_ms = cfg.linger_ms.max(5);
    cfg
}

/// A progress bar on stderr; hidden when stderr is not a terminal.
pub fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{msg} [{bar:40}] {human_pos}/{human_len} ({per_sec:0}, {eta} left)",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
        .with_style(style)
        .with_message(what.to_owned())
}

/// A bulk produce that stopped on the first failed delivery.
#[derive(Debug, thiserror::Error)]
#[error("Kafka acknowledged {acknowledged} records, then failed: {cause}")]
pub struct ProduceAllError {
    pub acknowledged: u64,
    pub cause: KafkaError,
}

/// Records enqueued before the loop waits for acknowledgements: enough to keep the producer's
/// batches full, few enough to stay well inside librdkafka's queue.
const BATCH: usize = 10_000;

/// Produces every record to partition 0 of `topic`, in order, and waits until Kafka has
/// acknowledged each one (acks=all). Works in batches: while one batch is in flight the next is
/// enqueued, so the producer never idles and never holds more than two batches. On the first
/// failed delivery nothing more is enqueued; what is in flight is still awaited, so the count of
/// acknowledged records in the error is exact. Returns the number of records written.
pub async fn produce_all<K: AsRef<[u8]>>(
    producer: &FutureProducer<ShopClientContext>,
    topic: &str,
    records: impl Iterator<Item = (K, Vec<u8>)>,
    progress: &ProgressBar,
) -> Result<u64, ProduceAllError> {
    produce_all_until(producer, topic, records, progress)
        .await
        .map(|(written, _)| written)
}

/// [`produce_all`], also returning the highest offset written (-1: none), for a caller that
/// waits until a context has applied them all.
pub async fn produce_all_until<K: AsRef<[u8]>>(
    producer: &FutureProducer<ShopClientContext>,
    topic: &str,
    records: impl Iterator<Item = (K, Vec<u8>)>,
    progress: &ProgressBar,
) -> Result<(u64, i64), ProduceAllError> {
    let mut deliveries = Deliveries {
        in_flight: VecDeque::with_capacity(2 * BATCH),
        acknowledged: 0,
        last_offset: -1,
        failure: None,
        progress,
    };
    let mut records = records.peekable();
    while deliveries.failure.is_none() && records.peek().is_some() {
        for (key, payload) in records.by_ref().take(BATCH) {
            match enqueue(producer, topic, key.as_ref(), &payload).await {
                Ok(delivery) => deliveries.in_flight.push_back(delivery),
                Err(e) => {
                    deliveries.failure = Some(e);
                    break;
                }
            }
            deliveries.count_ready();
        }
        while deliveries.in_flight.len() > BATCH && deliveries.failure.is_none() {
            deliveries.settle_oldest().await;
        }
    }
    while !deliveries.in_flight.is_empty() {
        deliveries.settle_oldest().await;
    }
    match deliveries.failure {
        None => Ok((deliveries.acknowledged, deliveries.last_offset)),
        Some(cause) => Err(ProduceAllError {
            acknowledged: deliveries.acknowledged,
            cause,
        }),
    }
}

/// The records handed to librdkafka and not yet settled, oldest first.
struct Deliveries<'a> {
    in_flight: VecDeque<DeliveryFuture>,
    acknowledged: u64,
    last_offset: i64,
    failure: Option<KafkaError>,
    progress: &'a ProgressBar,
}

impl Deliveries<'_> {
    /// Settles the oldest records that are already settled without waiting, so the count (and
    /// the progress bar) follows the broker rather than jumping a batch at a time.
    fn count_ready(&mut self) {
        while let Some(oldest) = self.in_flight.front_mut() {
            match oldest.now_or_never() {
                Some(outcome) => {
                    self.in_flight.pop_front();
                    self.record(outcome);
                }
                None => break,
            }
        }
    }

    async fn settle_oldest(&mut self) {
        if let Some(oldest) = self.in_flight.pop_front() {
            let outcome = oldest.await;
            self.record(outcome);
        }
    }

    fn record(&mut self, outcome: <DeliveryFuture as Future>::Output) {
        match outcome {
            Ok(Ok(delivery)) => {
                self.acknowledged += 1;
                self.last_offset = self.last_offset.max(delivery.offset);
                self.progress.inc(1);
            }
            Ok(Err((e, _))) => {
                self.failure.get_or_insert(e);
            }
            Err(_) => {
                self.failure.get_or_insert(KafkaError::Canceled);
            }
        }
    }
}

/// Hands one record to librdkafka, waiting while its queue is full.
async fn enqueue(
    producer: &FutureProducer<ShopClientContext>,
    topic: &str,
    key: &[u8],
    payload: &[u8],
) -> Result<DeliveryFuture, KafkaError> {
    let mut record = FutureRecord::to(topic)
        .partition(0)
        .key(key)
        .payload(payload);
    loop {
        match producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err((e, _)) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "id,title,description,long_text,category,price_minor,currency,image_urls\n";

    fn errors<T: fmt::Debug>(r: Result<T, Vec<RowError>>) -> Vec<String> {
        r.unwrap_err().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_good_products_file() {
        let file = format!(
            "{HEADER}\
             1,Walnut Desk Lamp,A lamp.,Long text.,Office,4999,EUR,\n\
             2, Linen Throw Pillow ,Soft.,,Home & Garden,1250,EUR,https://x.test/a.jpg|https://x.test/b.jpg\n"
        );
        let rows = parse_products(file.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].event.title, "Walnut Desk Lamp");
        assert!(rows[0].event.image_urls.is_empty());
        assert_eq!(rows[1].line, 3);
        assert_eq!(rows[1].event.title, "Linen Throw Pillow");
        assert_eq!(rows[1].event.price_minor, 1250);
        assert_eq!(
            rows[1].event.image_urls,
            ["https://x.test/a.jpg", "https://x.test/b.jpg"]
        );
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let file = format!(
            "{HEADER}\
             1,Lamp,,,Office,4999,EUR,\n\
             x,Lamp,,,Office,4999,EUR,\n\
             3,,,,Office,4999,EUR,\n\
             4,Lamp,,,Office,\"12,50\",EUR,\n\
             5,Lamp,,,Office,100,eur,\n\
             6,Lamp,,,Office,100,EUR,ftp://x\n\
             7,Lamp,,,Office,100\n"
        );
        assert_eq!(
            errors(parse_products(file.as_bytes())),
            [
                r#"line 3: id must be a positive integer, got "x""#,
                "line 4: title must be between 1 and 200 characters, got 0",
                r#"line 5: price_minor must be an integer, got "12,50""#,
                r#"line 6: currency must be an ISO 4217 code of three upper-case letters, got "eur""#,
                r#"line 7: image URL "ftp://x" must be an http(s) URL with a host, like https://images.example/lamp.jpg: it must start with https:// or http://"#,
                "line 8: expected 8 fields, got 6",
            ]
        );
    }

    #[test]
    fn duplicate_ids_are_errors() {
        let file = format!(
            "{HEADER}\
             1,Lamp,,,Office,4999,EUR,\n\
             2,Chair,,,Office,4999,EUR,\n\
             1,Lamp again,,,Office,4999,EUR,\n\
             1,Lamp thrice,,,Office,4999,EUR,\n"
        );
        assert_eq!(
            errors(parse_products(file.as_bytes())),
            [
                "line 4: duplicate id 1 (first on line 2)",
                "line 5: duplicate id 1 (first on line 2)",
            ]
        );
        assert_eq!(
            errors(parse_stock("product_id,quantity\n7,1\n7,2\n".as_bytes())),
            ["line 3: duplicate product_id 7 (first on line 2)"]
        );
    }

    #[test]
    fn the_header_must_name_every_column_once() {
        let file = "id,title,description,category,price_minor,currency,image_urls,colour\n";
        assert_eq!(
            errors(parse_products(file.as_bytes())),
            [format!(
                "line 1: missing column(s) long_text; unknown column \"colour\" (expected header: {})",
                PRODUCT_COLUMNS.join(",")
            )]
        );
        assert_eq!(
            errors(parse_stock("".as_bytes())),
            [
                "line 1: missing column(s) product_id, quantity (expected header: product_id,quantity)"
            ]
        );
        // Any order, and a spreadsheet's byte order mark, are fine.
        let rows = parse_stock("\u{feff}quantity,product_id\n5,9\n".as_bytes()).unwrap();
        assert_eq!(
            rows[0].event,
            StockDeliveredV1 {
                product_id: 9,
                quantity: 5
            }
        );
    }

    #[test]
    fn quoted_fields_keep_commas_quotes_and_newlines() {
        let file = format!(
            "{HEADER}\
             1,\"Lamp, large\",\"Bright, warm and \"\"dimmable\"\".\",\"First line.\nSecond line.\",Office,4999,EUR,\n\
             2,Chair,,,Office,x,EUR,\n"
        );
        let err = errors(parse_products(file.as_bytes()));
        // The quoted newline makes row 2 start on line 4 of the file.
        assert_eq!(err, [r#"line 4: price_minor must be an integer, got "x""#]);
        let fixed = file.replace(",x,", ",100,");
        let rows = parse_products(fixed.as_bytes()).unwrap();
        assert_eq!(rows[0].event.title, "Lamp, large");
        assert_eq!(rows[0].event.description, "Bright, warm and \"dimmable\".");
        assert_eq!(rows[0].event.long_text, "First line.\nSecond line.");
        assert_eq!(rows[1].line, 4);
    }

    #[test]
    fn stock_rows() {
        let file = "product_id,quantity\n1,5\n2,0\n0,3\n3,1000001\n4,-2\n5,lots\n6,1000000\n";
        assert_eq!(
            errors(parse_stock(file.as_bytes())),
            [
                "line 3: quantity must be between 1 and 1000000, got 0",
                r#"line 4: product_id must be a positive integer, got "0""#,
                "line 5: quantity must be between 1 and 1000000, got 1000001",
                "line 6: quantity must be between 1 and 1000000, got -2",
                r#"line 7: quantity must be an integer, got "lots""#,
            ]
        );
        let rows = parse_stock("product_id,quantity\n1,5\n6,1000000\n".as_bytes()).unwrap();
        assert_eq!(
            rows.iter()
                .map(|r| (r.line, r.event.product_id, r.event.quantity))
                .collect::<Vec<_>>(),
            [(2, 1, 5), (3, 6, 1_000_000)]
        );
    }
}
