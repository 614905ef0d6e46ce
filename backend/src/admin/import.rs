//! `shop import`: loads products and stock deliveries from CSV files into Kafka, and the one
//! produce loop every bulk tool (import, demo data) shares.
//!
//! A file is checked whole before anything is written: one bad row and nothing reaches Kafka,
//! so a fixed file can simply be imported again. Every stock row's idempotency key is derived
//! from the file's content and the row's line, so importing the same file twice has no second
//! effect.
//!
//! Both passes stream: [`check`] reads the file row by row and keeps the first
//! [`MAX_KEPT_ERRORS`] bad rows with a message (the rest are counted, and a message is only
//! written for a row that is kept), and [`records`] reads it again to build each record as it
//! is written. Neither holds a copy of the rows, so a file of millions of bad rows costs little
//! more than the file.
//!
//! One file past 600 lines because both passes read the same rows through the same reader
//! (`Records`) and problems (`Problem`, `RowError`); the produce loop the bulk tools share
//! (`produce_all`, at the end) is the part that can leave first.

use std::collections::VecDeque;
use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::pin::pin;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::{FutureExt as _, Stream, StreamExt as _};
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
use crate::engine::kafka::{self, BrokerStatus, KafkaSettings, ShopClientContext};

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
/// Bad rows kept with their message, in line order; the rest are counted.
pub const MAX_KEPT_ERRORS: usize = 100;
/// Characters of a bad value quoted in a message; a longer value is cut and its length given.
pub const MAX_QUOTED_CHARS: usize = 60;
/// Longest message kept for a row, whatever rule wrote it.
const MAX_MESSAGE_CHARS: usize = 400;
/// Header problems named one by one (a header of a thousand unknown columns names five).
const MAX_HEADER_PROBLEMS: usize = 5;
/// Bad rows printed by `shop import`.
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

/// What is wrong with a file: how many rows are bad, and the first [`MAX_KEPT_ERRORS`] of them
/// in line order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BadRows {
    pub count: u64,
    pub first: Vec<RowError>,
}

impl BadRows {
    fn add(&mut self, line: u64, problem: Problem<'_>) {
        self.count += 1;
        if self.first.len() < MAX_KEPT_ERRORS {
            self.first.push(RowError {
                line,
                message: cut(problem.message(), MAX_MESSAGE_CHARS),
            });
        }
    }

    fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds `count` bad rows found by another pass, the first of which are `first` (in line
    /// order), keeping the first [`MAX_KEPT_ERRORS`] of both in line order.
    fn merge(&mut self, count: u64, first: Vec<RowError>) {
        self.count += count;
        self.first.extend(first);
        self.first.sort_by_key(|e| e.line);
        self.first.truncate(MAX_KEPT_ERRORS);
    }
}

/// Why a row cannot be imported. The bad value is borrowed from the row: the message is written
/// only for a row that is kept.
#[derive(Debug)]
enum Problem<'a> {
    NotPositive {
        column: &'static str,
        value: &'a str,
    },
    NotInteger {
        column: &'static str,
        value: &'a str,
    },
    Quantity(i64),
    Duplicate {
        column: &'static str,
        id: u64,
        first_line: u64,
    },
    Fields {
        expected: u64,
        got: u64,
    },
    NotUtf8,
    Unreadable(String),
    /// A rule's own message (the product rules of `catalog::validate`).
    Rule(String),
}

impl Problem<'_> {
    fn message(&self) -> String {
        match self {
            Problem::NotPositive { column, value } => {
                format!("{column} must be a positive integer, got {}", quoted(value))
            }
            Problem::NotInteger { column, value } => {
                format!("{column} must be an integer, got {}", quoted(value))
            }
            Problem::Quantity(q) => {
                format!("quantity must be between 1 and {MAX_STOCK_QUANTITY}, got {q}")
            }
            Problem::Duplicate {
                column,
                id,
                first_line,
            } => format!("duplicate {column} {id} (first on line {first_line})"),
            Problem::Fields { expected, got } => format!("expected {expected} fields, got {got}"),
            Problem::NotUtf8 => "not valid UTF-8".to_owned(),
            Problem::Unreadable(why) => format!("cannot read the file: {why}"),
            Problem::Rule(message) => message.clone(),
        }
    }
}

/// A value as a message quotes it: whole when short, else its first [`MAX_QUOTED_CHARS`]
/// characters, an ellipsis and its length (a 32 MiB cell is never echoed back).
pub fn quoted(value: &str) -> String {
    match value.char_indices().nth(MAX_QUOTED_CHARS) {
        None => format!("{value:?}"),
        Some((end, _)) => format!(
            "{:?}… ({} characters)",
            &value[..end],
            value.chars().count()
        ),
    }
}

/// At most `max` characters of `s`, the cut marked with an ellipsis.
fn cut(mut s: String, max: usize) -> String {
    if let Some((end, _)) = s.char_indices().nth(max) {
        s.truncate(end);
        s.push('…');
    }
    s
}

/// A valid row and the line it starts on (part of its idempotency key).
#[derive(Debug, Clone, PartialEq)]
pub struct Row<T> {
    pub line: u64,
    pub event: T,
}

fn product_of(
    [
        id,
        title,
        description,
        long_text,
        category,
        price,
        currency,
        urls,
    ]: [&str; 8],
) -> Result<ProductUpsertedV1, Problem<'_>> {
    let id = positive_id("id", id)?;
    let minor = price
        .trim()
        .parse::<i64>()
        .map_err(|_| Problem::NotInteger {
            column: "price_minor",
            value: price,
        })?;
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
    validate_product(id, &upsert).map_err(|e| Problem::Rule(e.to_string()))
}

fn stock_of([product_id, quantity]: [&str; 2]) -> Result<StockDeliveredV1, Problem<'_>> {
    let product_id = positive_id("product_id", product_id)?;
    let q = quantity
        .trim()
        .parse::<i64>()
        .map_err(|_| Problem::NotInteger {
            column: "quantity",
            value: quantity,
        })?;
    match u32::try_from(q) {
        Ok(quantity) if (1..=MAX_STOCK_QUANTITY).contains(&quantity) => Ok(StockDeliveredV1 {
            product_id,
            quantity,
        }),
        _ => Err(Problem::Quantity(q)),
    }
}

fn positive_id<'a>(column: &'static str, value: &'a str) -> Result<u64, Problem<'a>> {
    let v = value.trim();
    match v.parse::<u64>() {
        Ok(n) if n > 0 && !v.starts_with('+') => Ok(n),
        _ => Err(Problem::NotPositive { column, value }),
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
    let mut more = 0usize;
    let mut problem = |p: String| {
        if problems.len() < MAX_HEADER_PROBLEMS {
            problems.push(p);
        } else {
            more += 1;
        }
    };
    for (i, name) in header.iter().enumerate() {
        // A spreadsheet's UTF-8 byte order mark sticks to the first name.
        let name = name.trim_start_matches('\u{feff}').trim();
        match expected.iter().position(|e| *e == name) {
            Some(c) if positions[c] != usize::MAX => {
                problem(format!("column {} appears twice", quoted(name)))
            }
            Some(c) => positions[c] = i,
            None => problem(format!("unknown column {}", quoted(name))),
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
    if more > 0 {
        problems.push(format!("{more} more unknown or repeated columns"));
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

/// A CSV file read record by record into one reused buffer.
struct Records<R: Read, const N: usize> {
    csv: csv::Reader<R>,
    positions: [usize; N],
    record: csv::StringRecord,
    done: bool,
}

/// What [`Records::advance`] found.
enum Next {
    /// The record on this line is in the buffer.
    Record(u64),
    /// A row that is not a record of the file's shape, on this line.
    Bad(u64, Problem<'static>),
    End,
}

impl<R: Read, const N: usize> Records<R, N> {
    /// Reads the header; a header that does not name the columns is the file's one problem.
    fn open(reader: R, columns: [&str; N]) -> Result<Self, RowError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(reader);
        let header_error = |message: String| RowError {
            line: 1,
            message: cut(message, MAX_MESSAGE_CHARS),
        };
        let positions = match csv.headers() {
            Ok(header) => column_positions(header, columns).map_err(header_error)?,
            Err(e) => return Err(header_error(csv_problem(&e).message())),
        };
        Ok(Records {
            csv,
            positions,
            record: csv::StringRecord::new(),
            done: false,
        })
    }

    fn advance(&mut self) -> Next {
        if self.done {
            return Next::End;
        }
        match self.csv.read_record(&mut self.record) {
            Ok(false) => {
                self.done = true;
                Next::End
            }
            Ok(true) => Next::Record(self.record.position().map_or(0, |p| p.line())),
            Err(e) => {
                // A reader that fails (never a slice) would fail again: stop there.
                self.done = matches!(e.kind(), csv::ErrorKind::Io(_));
                Next::Bad(e.position().map_or(0, |p| p.line()), csv_problem(&e))
            }
        }
    }

    /// The expected columns of the record in the buffer.
    fn fields(&self) -> [&str; N] {
        self.positions.map(|p| self.record.get(p).unwrap_or(""))
    }
}

fn csv_problem(e: &csv::Error) -> Problem<'static> {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => Problem::Fields {
            expected: *expected_len,
            got: *len,
        },
        csv::ErrorKind::Utf8 { .. } => Problem::NotUtf8,
        csv::ErrorKind::Io(e) => Problem::Unreadable(e.to_string()),
        _ => Problem::Unreadable(e.to_string()),
    }
}

/// One pass over a file: every row converted and checked, then the ids sorted to find repeated
/// ones (and, only if there are, a second pass to name them). `each` sees the valid rows in
/// order for as long as no bad row has turned up (a file with a repeated id is refused at the
/// end, whatever `each` saw). Returns the number of rows of a valid file.
fn check_rows<T, const N: usize>(
    bytes: &[u8],
    columns: [&'static str; N],
    convert: impl Fn([&str; N]) -> Result<T, Problem<'_>>,
    id_of: impl Fn(&T) -> u64,
    mut each: impl FnMut(&Row<T>),
) -> Result<u64, BadRows> {
    let mut records = Records::open(bytes, columns).map_err(|e| BadRows {
        count: 1,
        first: vec![e],
    })?;
    let mut bad = BadRows::default();
    // Every valid row's id: 8 bytes a row, the one structure that grows with a valid file (a
    // map of the line each id was first seen on cost 20 to 40).
    let mut ids: Vec<u64> = Vec::new();
    loop {
        let line = match records.advance() {
            Next::End => break,
            Next::Bad(line, problem) => {
                bad.add(line, problem);
                continue;
            }
            Next::Record(line) => line,
        };
        match convert(records.fields()) {
            Ok(event) => {
                ids.push(id_of(&event));
                if bad.is_empty() {
                    each(&Row { line, event });
                }
            }
            Err(problem) => bad.add(line, problem),
        }
    }
    let rows = ids.len() as u64;
    ids.sort_unstable();
    let repeats = ids.windows(2).filter(|w| w[0] == w[1]).count() as u64;
    if repeats > 0 {
        let repeated: Vec<u64> = ids
            .chunk_by(|a, b| a == b)
            .filter(|run| run.len() > 1)
            .map(|run| run[0])
            .collect();
        drop(ids);
        bad.merge(
            repeats,
            repeated_rows(bytes, columns, &convert, &id_of, &repeated),
        );
    }
    if bad.is_empty() { Ok(rows) } else { Err(bad) }
}

/// The first [`MAX_KEPT_ERRORS`] rows, in line order, whose id (one of `repeated`, sorted) an
/// earlier row has.
fn repeated_rows<T, const N: usize>(
    bytes: &[u8],
    columns: [&'static str; N],
    convert: &impl Fn([&str; N]) -> Result<T, Problem<'_>>,
    id_of: &impl Fn(&T) -> u64,
    repeated: &[u64],
) -> Vec<RowError> {
    let Ok(mut records) = Records::open(bytes, columns) else {
        return vec![];
    };
    let mut first_line = vec![0u64; repeated.len()];
    let mut found = Vec::new();
    while found.len() < MAX_KEPT_ERRORS {
        let line = match records.advance() {
            Next::End => break,
            Next::Bad(..) => continue,
            Next::Record(line) => line,
        };
        let Ok(event) = convert(records.fields()) else {
            continue;
        };
        let id = id_of(&event);
        let Ok(i) = repeated.binary_search(&id) else {
            continue;
        };
        if first_line[i] == 0 {
            first_line[i] = line;
        } else {
            let problem = Problem::Duplicate {
                column: columns[0],
                id,
                first_line: first_line[i],
            };
            found.push(RowError {
                line,
                message: problem.message(),
            });
        }
    }
    found
}

/// Checks a products file; `each` sees its valid rows while none is bad.
pub fn check_products(
    bytes: &[u8],
    each: impl FnMut(&Row<ProductUpsertedV1>),
) -> Result<u64, BadRows> {
    check_rows(bytes, PRODUCT_COLUMNS, product_of, |p| p.product_id, each)
}

/// Checks a stock file; `each` sees its valid rows while none is bad.
pub fn check_stock(bytes: &[u8], each: impl FnMut(&Row<StockDeliveredV1>)) -> Result<u64, BadRows> {
    check_rows(bytes, STOCK_COLUMNS, stock_of, |s| s.product_id, each)
}

/// Checks a whole file: the number of its rows, or what is wrong with it.
pub fn check(kind: FileKind, bytes: &[u8]) -> Result<u64, BadRows> {
    match kind {
        FileKind::Products => check_products(bytes, |_| {}),
        FileKind::Stock => check_stock(bytes, |_| {}),
    }
}

/// The rows of a file that [`check`] found valid, in order, read again.
fn valid_rows<T, R: Read, const N: usize>(
    reader: R,
    columns: [&'static str; N],
    convert: impl Fn([&str; N]) -> Result<T, Problem<'_>>,
) -> impl Iterator<Item = Row<T>> {
    let mut records = Records::open(reader, columns).ok();
    std::iter::from_fn(move || {
        let records = records.as_mut()?;
        loop {
            match records.advance() {
                Next::End => return None,
                // Not in a checked file; skipped rather than written.
                Next::Bad(..) => continue,
                Next::Record(line) => {
                    if let Ok(event) = convert(records.fields()) {
                        return Some(Row { line, event });
                    }
                }
            }
        }
    })
}

/// A products file's valid rows (see [`check_products`]), read again.
pub fn product_rows(reader: impl Read) -> impl Iterator<Item = Row<ProductUpsertedV1>> {
    valid_rows(reader, PRODUCT_COLUMNS, product_of)
}

/// A stock file's valid rows (see [`check_stock`]), read again.
pub fn stock_rows(reader: impl Read) -> impl Iterator<Item = Row<StockDeliveredV1>> {
    valid_rows(reader, STOCK_COLUMNS, stock_of)
}

/// Reads a whole products file: its rows, or its bad rows (the first [`MAX_KEPT_ERRORS`]).
pub fn parse_products(reader: impl Read) -> Result<Vec<Row<ProductUpsertedV1>>, Vec<RowError>> {
    let bytes = read_all(reader)?;
    let mut rows = Vec::new();
    check_products(&bytes, |r| rows.push(r.clone())).map_err(|bad| bad.first)?;
    Ok(rows)
}

/// Reads a whole stock file: its rows, or its bad rows (the first [`MAX_KEPT_ERRORS`]).
pub fn parse_stock(reader: impl Read) -> Result<Vec<Row<StockDeliveredV1>>, Vec<RowError>> {
    let bytes = read_all(reader)?;
    let mut rows = Vec::new();
    check_stock(&bytes, |r| rows.push(r.clone())).map_err(|bad| bad.first)?;
    Ok(rows)
}

fn read_all(mut reader: impl Read) -> Result<Vec<u8>, Vec<RowError>> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(|e| {
        vec![RowError {
            line: 1,
            message: Problem::Unreadable(e.to_string()).message(),
        }]
    })?;
    Ok(bytes)
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

    /// The topic its records go to.
    pub fn topic(self, cfg: &KafkaConfig) -> &str {
        match self {
            FileKind::Products => &cfg.catalog_topic,
            FileKind::Stock => &cfg.checkout_topic,
        }
    }
}

/// A record as it is produced: the product id (big-endian) as its key, the event as its value.
pub type Record = ([u8; 8], Vec<u8>);

/// The record of a products row.
pub fn product_record(row: Row<ProductUpsertedV1>) -> Record {
    let id = row.event.product_id;
    let event = CatalogEvent {
        event: Some(catalog_event::Event::ProductUpsertedV1(row.event)),
        // An upsert is idempotent by its content (importing again sets the same fields); a key
        // would only cost the catalog model a record per product.
        meta: None,
    };
    (id.to_be_bytes(), event.encode_to_vec())
}

/// The idempotency key of a stock row: the file's fingerprint and the row's line, so the same
/// file again (any upload, any replica) adds nothing twice.
pub fn stock_row_key(file: u64, line: u64) -> String {
    format!("import-stock-{file:016x}-{line}")
}

/// The record of a stock row of the file whose fingerprint is `file`.
pub fn stock_record(row: Row<StockDeliveredV1>, file: u64) -> Record {
    let id = row.event.product_id;
    let event = CheckoutEvent {
        event: Some(checkout_event::Event::StockDeliveredV1(row.event)),
        meta: Some(meta::meta(stock_row_key(file, row.line), 0)),
    };
    (id.to_be_bytes(), event.encode_to_vec())
}

/// The records that import a checked file, built one by one as they are taken, in file order.
/// The one rule set of `shop import` and the import endpoint.
/// `file` is the file's fingerprint (`meta::fingerprint(&[bytes])`), part of stock rows' keys.
pub fn records(
    kind: FileKind,
    bytes: &[u8],
    file: u64,
) -> Box<dyn Iterator<Item = Record> + Send + '_> {
    match kind {
        FileKind::Products => Box::new(product_rows(bytes).map(product_record)),
        FileKind::Stock => Box::new(stock_rows(bytes).map(move |row| stock_record(row, file))),
    }
}

async fn import(kind: FileKind, args: ImportArgs) -> anyhow::Result<()> {
    let file = &args.file;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let total = match check(kind, &bytes) {
        Ok(rows) => rows,
        Err(bad) => {
            for e in bad.first.iter().take(MAX_PRINTED_ERRORS) {
                eprintln!("{}: {e}", file.display());
            }
            let printed = bad.first.len().min(MAX_PRINTED_ERRORS) as u64;
            if bad.count > printed {
                eprintln!("... and {} more bad rows", bad.count - printed);
            }
            bail!(
                "{} has {} bad row(s); nothing was written to Kafka",
                file.display(),
                bad.count
            )
        }
    };
    prepare_topics(&args.kafka).await?;
    write_all(
        &args.kafka,
        kind.topic(&args.kafka),
        kind.rows(),
        total,
        records(kind, &bytes, meta::fingerprint(&[&bytes])),
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
    kafka::ensure_topics(&cfg.settings(), &[&cfg.catalog_topic, &cfg.checkout_topic])
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
pub fn bulk_config(cfg: &KafkaConfig) -> KafkaSettings {
    let mut cfg = cfg.settings();
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
    produce_stream_until(
        producer,
        topic,
        futures_util::stream::iter(records),
        progress,
    )
    .await
}

/// [`produce_all_until`] of records that arrive as a stream (built on another thread, say).
pub async fn produce_stream_until<K: AsRef<[u8]>>(
    producer: &FutureProducer<ShopClientContext>,
    topic: &str,
    records: impl Stream<Item = (K, Vec<u8>)>,
    progress: &ProgressBar,
) -> Result<(u64, i64), ProduceAllError> {
    let mut deliveries = Deliveries {
        in_flight: VecDeque::with_capacity(2 * BATCH),
        acknowledged: 0,
        last_offset: -1,
        failure: None,
        progress,
    };
    let mut records = pin!(records);
    let mut more = true;
    while deliveries.failure.is_none() && more {
        for _ in 0..BATCH {
            let Some((key, payload)) = records.next().await else {
                more = false;
                break;
            };
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

    #[test]
    fn a_file_of_many_bad_rows_keeps_the_first_hundred_and_counts_them_all() {
        let mut file = String::from("product_id,quantity\n1,5\n");
        for i in 0..5_000 {
            file.push_str(&format!("{},0\n", i + 2));
        }
        let bad = check(FileKind::Stock, file.as_bytes()).unwrap_err();
        assert_eq!(bad.count, 5_000);
        assert_eq!(bad.first.len(), MAX_KEPT_ERRORS);
        assert_eq!(bad.first[0].line, 3);
        assert_eq!(bad.first[99].line, 102);
        // The short form the tests and the fuzz targets read keeps the same first rows.
        assert_eq!(parse_stock(file.as_bytes()).unwrap_err(), bad.first);
    }

    #[test]
    fn repeated_ids_are_counted_all_and_listed_in_line_order_with_the_other_bad_rows() {
        let mut file = String::from("product_id,quantity\n");
        for id in 1..=150 {
            file.push_str(&format!("{id},1\n"));
        }
        file.push_str("7,0\n"); // line 152: a bad quantity, not a repeat
        for id in 1..=150 {
            file.push_str(&format!("{id},2\n"));
        }
        let bad = check(FileKind::Stock, file.as_bytes()).unwrap_err();
        assert_eq!(bad.count, 151);
        assert_eq!(bad.first.len(), MAX_KEPT_ERRORS);
        assert_eq!(
            bad.first[0].to_string(),
            "line 152: quantity must be between 1 and 1000000, got 0"
        );
        assert_eq!(
            bad.first[1].to_string(),
            "line 153: duplicate product_id 1 (first on line 2)"
        );
        assert_eq!(
            bad.first[99].to_string(),
            "line 251: duplicate product_id 99 (first on line 100)"
        );
        assert!(bad.first.windows(2).all(|w| w[0].line < w[1].line));
    }

    #[test]
    fn a_huge_value_is_quoted_short_with_its_length() {
        let cell = "9".repeat(100_000) + "x";
        let file = format!("product_id,quantity\n1,{cell}\n{cell},2\n");
        let bad = check(FileKind::Stock, file.as_bytes()).unwrap_err();
        let head = "9".repeat(MAX_QUOTED_CHARS);
        assert_eq!(
            bad.first
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                format!("line 2: quantity must be an integer, got \"{head}\"… (100001 characters)"),
                format!(
                    "line 3: product_id must be a positive integer, got \"{head}\"… (100001 characters)"
                ),
            ]
        );
        assert_eq!(quoted("naïve"), "\"naïve\"");
        let long = "é".repeat(61);
        assert_eq!(
            quoted(&long),
            format!("{:?}… (61 characters)", "é".repeat(60))
        );
        let header = format!("product_id,quantity,{}\n", "c".repeat(1_000_000));
        let bad = check(FileKind::Stock, header.as_bytes()).unwrap_err();
        assert!(bad.first[0].message.len() < 500, "{}", bad.first[0].message);
        let many = format!("product_id,quantity{}\n", ",x".repeat(10_000));
        let bad = check(FileKind::Stock, many.as_bytes()).unwrap_err();
        assert_eq!(
            bad.first[0].message,
            format!(
                "{}9995 more unknown or repeated columns (expected header: product_id,quantity)",
                "unknown column \"x\"; ".repeat(5)
            )
        );
    }

    #[test]
    fn records_are_built_again_from_the_checked_file_in_its_order() {
        let file = "product_id,quantity\n7,1\n3,2\n";
        assert_eq!(check(FileKind::Stock, file.as_bytes()), Ok(2));
        let hash = meta::fingerprint(&[file.as_bytes()]);
        let built: Vec<Record> = records(FileKind::Stock, file.as_bytes(), hash).collect();
        assert_eq!(built.len(), 2);
        assert_eq!(built[0].0, 7u64.to_be_bytes());
        let event = CheckoutEvent::decode(built[1].1.as_slice()).unwrap();
        assert_eq!(event.meta.unwrap().idempotency_key, stock_row_key(hash, 3));
        let products = format!("{HEADER}5,Lamp,,,Office,100,EUR,\n");
        let built: Vec<Record> = records(FileKind::Products, products.as_bytes(), 0).collect();
        assert_eq!(built.len(), 1);
        let event = CatalogEvent::decode(built[0].1.as_slice()).unwrap();
        assert!(event.meta.is_none());
    }
}
