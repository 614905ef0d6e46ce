//! The one `Config` of the server and its tools, read once from flags and environment at start-up
//! and passed down.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

fn millis(s: &str) -> Result<Duration, String> {
    s.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|e| format!("milliseconds: {e}"))
}

fn positive_millis(s: &str) -> Result<Duration, String> {
    match millis(s)? {
        d if d.is_zero() => Err("milliseconds: must be at least 1".into()),
        d => Ok(d),
    }
}

fn seconds(s: &str) -> Result<Duration, String> {
    s.parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|e| format!("seconds: {e}"))
}

fn hours(s: &str) -> Result<Duration, String> {
    s.parse::<u64>()
        .ok()
        .and_then(|h| h.checked_mul(3600))
        .map(Duration::from_secs)
        .ok_or_else(|| format!("hours: a whole number up to {}", u64::MAX / 3600))
}

/// An origin as browsers send it: `scheme://host[:port]`, no path; `*` is refused (credentials
/// are allowed, so every origin must be named).
fn origin(s: &str) -> Result<String, String> {
    let o = s.trim().trim_end_matches('/').to_ascii_lowercase();
    if o.is_empty() {
        // `ALLOWED_ORIGINS=` (an empty variable) names none.
        return Ok(o);
    }
    let rest = o
        .strip_prefix("http://")
        .or_else(|| o.strip_prefix("https://"))
        .ok_or_else(|| format!("origin {s:?} must start with http:// or https://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '*', ' ']) {
        return Err(format!(
            "origin {s:?} must be scheme://host[:port], without a path or wildcard"
        ));
    }
    Ok(o)
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .ok_or_else(|| format!("expected key=value, got {s:?}"))
}

/// Where and how to reach Kafka. The defaults suit the local single broker of `make run`.
#[derive(clap::Args, Clone, Debug)]
pub struct KafkaConfig {
    /// Bootstrap servers, or `memory` for an in-process mock cluster that loses everything on exit.
    #[arg(
        long = "kafka-brokers",
        env = "KAFKA_BROKERS",
        default_value = "127.0.0.1:9092"
    )]
    pub brokers: String,
    /// librdkafka's fetch.wait.max.ms: the longest a fetch waits for new data. On a broker that
    /// holds every fetch for this long (the local one does), it is the read-your-writes latency,
    /// and lower values cost the broker CPU while idle.
    #[arg(long, env = "KAFKA_FETCH_WAIT_MAX_MS", default_value_t = 10)]
    pub fetch_wait_max_ms: u32,
    /// librdkafka's linger.ms for the producer.
    #[arg(long, env = "KAFKA_LINGER_MS", default_value_t = 0)]
    pub linger_ms: u32,
    /// How long a produce may take before the command fails with 503 (librdkafka's message.timeout.ms).
    #[arg(long = "kafka-produce-timeout-ms", env = "KAFKA_PRODUCE_TIMEOUT_MS", default_value = "5000", value_parser = millis)]
    pub produce_timeout: Duration,
    /// Replication factor for topics the shop creates (3 in production).
    #[arg(long, env = "KAFKA_REPLICATION_FACTOR", default_value_t = 1)]
    pub replication_factor: i32,
    #[arg(long, env = "TOPIC_CATALOG", default_value = "shop.catalog.v1")]
    pub catalog_topic: String,
    #[arg(long, env = "TOPIC_CHECKOUT", default_value = "shop.checkout.v1")]
    pub checkout_topic: String,
    /// Further librdkafka settings as key=value, comma-separated (e.g. security.protocol=SSL).
    #[arg(long = "kafka-option", env = "KAFKA_OPTIONS", value_delimiter = ',', value_parser = key_value)]
    pub extra: Vec<(String, String)>,
}

impl KafkaConfig {
    /// What the engine's Kafka clients are made with (everything here but the topic names).
    pub fn settings(&self) -> crate::engine::kafka::KafkaSettings {
        crate::engine::kafka::KafkaSettings {
            brokers: self.brokers.clone(),
            fetch_wait_max_ms: self.fetch_wait_max_ms,
            linger_ms: self.linger_ms,
            produce_timeout: self.produce_timeout,
            replication_factor: self.replication_factor,
            extra: self.extra.clone(),
        }
    }
}

/// OpenTelemetry resource attributes, in the form of `OTEL_RESOURCE_ATTRIBUTES`: `key=value`
/// pairs, comma-separated, values percent-encoded. Empty entries (an empty variable) are skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceAttributes(pub Vec<(String, String)>);

fn resource_attributes(s: &str) -> Result<ResourceAttributes, String> {
    s.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(resource_attribute)
        .collect::<Result<_, _>>()
        .map(ResourceAttributes)
}

/// One resource attribute: `key=value` with the value percent-encoded.
fn resource_attribute(s: &str) -> Result<(String, String), String> {
    let (key, value) = key_value(s)?;
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match escaped {
            Some(b) => {
                decoded.push(b);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded)
        .map(|value| (key, value))
        .map_err(|_| format!("{s:?} is not UTF-8 once percent-decoded"))
}

/// Where traces go. The variables are OpenTelemetry's own, so the usual deployment settings apply.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TraceConfig {
    /// OTLP/HTTP base address to export traces to (`/v1/traces` is appended), e.g.
    /// http://localhost:4318 for Jaeger. Unset: no spans are made and nothing is exported.
    #[arg(long = "otlp-endpoint", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the exported spans (default `shop`, or the one given in
    /// OTEL_RESOURCE_ATTRIBUTES).
    #[arg(long = "otel-service-name", env = "OTEL_SERVICE_NAME")]
    pub service_name: Option<String>,
    /// Further resource attributes of the exported spans as key=value, comma-separated (values
    /// percent-encoded), e.g. deployment.environment.name=production.
    #[arg(long = "otel-resource-attributes", env = "OTEL_RESOURCE_ATTRIBUTES", default_value = "", value_parser = resource_attributes)]
    pub resource_attributes: ResourceAttributes,
}

/// The server's settings.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    #[command(flatten)]
    pub kafka: KafkaConfig,
    #[command(flatten)]
    pub traces: TraceConfig,
    /// Address to listen on (port 0 picks a free port; the chosen address is logged).
    #[arg(long, env = "HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Directory served at `/` (the browser app); unknown paths without a file extension get its
    /// index.html so the app's routes work on reload.
    #[arg(long, env = "STATIC_DIR", default_value = "frontend/dist")]
    pub static_dir: PathBuf,
    /// Bearer token of the admin API. Without it the admin API is switched off.
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// How long a command waits for its event to be applied before answering 503.
    #[arg(long = "command-timeout-ms", env = "COMMAND_TIMEOUT_MS", default_value = "5000", value_parser = millis)]
    pub command_timeout: Duration,
    /// Largest request body accepted (413 above).
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Largest quantity of one cart line (400 above).
    #[arg(long, env = "MAX_LINE_QUANTITY", default_value_t = 99)]
    pub max_line_quantity: u32,
    /// Largest stock delivery in one command.
    #[arg(long, env = "MAX_DELIVERY_QUANTITY", default_value_t = 1_000_000)]
    pub max_delivery_quantity: u32,
    /// At or below this many units a product shows "only N left".
    #[arg(long, env = "LOW_STOCK_THRESHOLD", default_value_t = 5)]
    pub low_stock_threshold: u64,
    /// Mark the cart cookie `Secure` (set when served over HTTPS).
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false)]
    pub cookie_secure: bool,
    /// The secret cart cookies are signed with and carts are named by in the log (HMAC-SHA256
    /// keys are derived from it). Every replica needs the same one; a new one ends every cart
    /// cookie issued before. Required (at least 32 characters) when `HTTP_ADDR` is not a
    /// loopback address; on loopback, unset means the public development key.
    #[arg(long, env = "CART_KEY", hide_env_values = true)]
    pub cart_key: Option<String>,
    /// Before serving, generate this many demo products (seed 42) if the catalog is empty.
    #[arg(long, env = "DEMO_PRODUCTS", default_value_t = 0)]
    pub demo_products: u64,
    /// Let this process copy catalog events into the checkout topic. Every replica may; copies
    /// are deduplicated in the checkout log.
    #[arg(long, env = "BRIDGE", default_value_t = true, action = clap::ArgAction::Set)]
    pub bridge: bool,
    /// `/healthz` fails when a context has events to apply but its writer made no progress for
    /// this many seconds.
    #[arg(long = "stuck-after-secs", env = "STUCK_AFTER_SECS", default_value = "30", value_parser = seconds)]
    pub stuck_after: Duration,
    /// Pushed frames (changes, pings) one live-update websocket may have waiting; a client that
    /// falls this far behind is disconnected (close code 1013) so it never slows the server. The
    /// snapshots answering the client's own watch request do not count: they are built as the
    /// client takes them.
    #[arg(long, env = "LIVE_SOCKET_BUFFER", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub live_socket_buffer: u32,
    /// Published batches of checkout events a live-update websocket may fall behind (while it
    /// waits for the catalog, or is not scheduled) before it is sent a `Resync` frame, after
    /// which the app reads its cart and products anew.
    #[arg(long, env = "LIVE_ANNOUNCED_BATCHES", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub live_announced_batches: u32,
    /// A live-update websocket is pinged after this many milliseconds without a ping.
    #[arg(long = "live-ping-ms", env = "LIVE_PING_MS", default_value = "20000", value_parser = positive_millis)]
    pub live_ping_every: Duration,
    /// A live-update websocket that has sent nothing (not even a pong) for this many
    /// milliseconds is closed with 1001, and one that has taken nothing (its pings of this long
    /// are still unwritten) with 1013; both are checked at each ping.
    #[arg(long = "live-idle-ms", env = "LIVE_IDLE_MS", default_value = "60000", value_parser = positive_millis)]
    pub live_idle_limit: Duration,
    #[command(flatten)]
    pub snapshot: Box<SnapshotConfig>,
    #[command(flatten)]
    pub limits: Box<LimitsConfig>,
    #[command(flatten)]
    pub search: SearchConfig,
    #[command(flatten)]
    pub admin: AdminConfig,
}

/// The operator's side: the event log's rings and CSV uploads.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct AdminConfig {
    /// Events each context's log keeps for the event-log page and `GET /api/admin/events`
    /// (the newest ones; the start-up replay fills it with the log's last events).
    #[arg(long, env = "EVENT_LOG_SIZE", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub event_log_size: u32,
    /// Largest CSV file the import endpoint reads (413 above); `shop import` has no limit.
    #[arg(long, env = "MAX_IMPORT_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_import_bytes: usize,
}

/// How product search tolerates typos and where large searches run.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct SearchConfig {
    /// A search word of at least this many characters may have one typo (Meilisearch's 5).
    #[arg(long, env = "SEARCH_ONE_TYPO_FROM", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub one_typo_from: u32,
    /// A search word of at least this many characters may have two typos (Meilisearch's 9).
    #[arg(long, env = "SEARCH_TWO_TYPOS_FROM", default_value_t = 9, value_parser = clap::value_parser!(u32).range(1..))]
    pub two_typos_from: u32,
    /// Threads that run large searches, below the request workers' priority.
    #[arg(long, env = "SEARCH_THREADS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: u32,
    /// Searches waiting for a search thread at most; more are refused with 503.
    #[arg(long, env = "SEARCH_QUEUE", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub queue: u32,
}

/// What no client, however hostile, may exceed: deadlines, connection and socket caps, the
/// origins allowed in, and how long what anonymous clients write is kept.
#[derive(clap::Args, Clone, Debug)]
pub struct LimitsConfig {
    /// A cart nobody changed or ordered for this many hours is dropped (measured in log time;
    /// 720 = 30 days). Written into each cart event, so every replica drops the same carts.
    #[arg(long = "cart-retention-hours", env = "CART_RETENTION_HOURS", default_value = "720", value_parser = hours)]
    pub cart_retention: Duration,
    /// A command's idempotency record is kept this many hours (Stripe's 24); a retry after that
    /// is a new command.
    #[arg(long = "idempotency-retention-hours", env = "IDEMPOTENCY_RETENTION_HOURS", default_value = "24", value_parser = hours)]
    pub idempotency_retention: Duration,
    /// New carts one client address may create per minute (429 with `Retry-After` beyond); 0:
    /// no limit (behind a proxy every client has the proxy's address: let the proxy limit).
    #[arg(long, env = "CART_CREATE_PER_MINUTE", default_value_t = 60)]
    pub cart_create_per_minute: u32,
    /// New carts one client address may create at once before `CART_CREATE_PER_MINUTE` paces it.
    #[arg(long, env = "CART_CREATE_BURST", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub cart_create_burst: u32,
    /// The most distinct lines one cart may hold (409 `cart_full` beyond).
    #[arg(long, env = "CART_MAX_LINES", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub cart_max_lines: u32,
    /// A request head must arrive within this many milliseconds of the connection's last request.
    #[arg(long = "header-timeout-ms", env = "HEADER_TIMEOUT_MS", default_value = "30000", value_parser = positive_millis)]
    pub header_timeout: Duration,
    /// A request body must arrive whole within this many milliseconds (nginx's
    /// client_body_timeout); 408 and the connection closed otherwise.
    #[arg(long = "body-timeout-ms", env = "BODY_TIMEOUT_MS", default_value = "30000", value_parser = positive_millis)]
    pub body_timeout: Duration,
    /// A write to a client that accepts nothing for this many milliseconds closes the
    /// connection (nginx's send_timeout).
    #[arg(long = "send-timeout-ms", env = "SEND_TIMEOUT_MS", default_value = "30000", value_parser = positive_millis)]
    pub send_timeout: Duration,
    /// Open HTTP connections at most; at the cap the server accepts no more until one closes.
    /// A connection that becomes a live websocket leaves this count for `LIVE_MAX_SOCKETS`'.
    /// The process raises its open-file limit to allow both.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Live-update websockets open at most; more are refused with 503.
    #[arg(long, env = "LIVE_MAX_SOCKETS", default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub live_max_sockets: u32,
    /// Live-update websockets per client address (429 beyond); 0: no per-address cap (behind a
    /// proxy every client has the proxy's address: let the proxy limit, e.g. nginx's limit_conn).
    #[arg(long, env = "LIVE_MAX_SOCKETS_PER_CLIENT", default_value_t = 32)]
    pub live_max_sockets_per_client: u32,
    /// Origins besides the shop's own that may open the live socket and call the API from a
    /// browser (CORS with credentials), comma-separated, e.g. https://shop.example.
    #[arg(long = "allowed-origins", env = "ALLOWED_ORIGINS", value_delimiter = ',', value_parser = origin)]
    pub allowed_origins: Vec<String>,
}

/// Snapshots of the contexts' models (boxed in [`Config`]: most runs leave them at defaults).
#[derive(clap::Args, Clone, Debug)]
pub struct SnapshotConfig {
    /// Directory of the contexts' snapshots: a start-up loads the newest usable one and replays
    /// only the log after it. Unset: no snapshots, every start replays from offset 0.
    #[arg(long, env = "SNAPSHOT_DIR")]
    pub snapshot_dir: Option<PathBuf>,
    /// Write a context's snapshot once this many events were applied since its last one
    /// (0: not by count). One is also written after a replay from 0 and at shutdown.
    #[arg(long, env = "SNAPSHOT_EVERY_EVENTS", default_value_t = 100_000)]
    pub snapshot_every_events: u64,
    /// Write a context's snapshot this often when it applied any event since (0: not by time).
    #[arg(long = "snapshot-every-secs", env = "SNAPSHOT_EVERY_SECS", default_value = "600", value_parser = seconds)]
    pub snapshot_every: Duration,
    /// Snapshots kept per context (the newest ones).
    #[arg(long, env = "SNAPSHOT_KEEP", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub snapshot_keep: u32,
    /// Check the newest snapshot against a replay of the log from offset 0 (a consumer and a
    /// low-priority thread of its own per context) once ready, then this often; exported as
    /// `shop_snapshot_verified`. 0: never.
    #[arg(long = "snapshot-verify-every-secs", env = "SNAPSHOT_VERIFY_EVERY_SECS", default_value = "0", value_parser = seconds)]
    pub snapshot_verify_every: Duration,
}

/// The admin token `make run` and the docs use: fine on a developer's loopback, never beyond it.
pub const DEV_ADMIN_TOKEN: &str = "dev-admin-token";

/// Shortest admin token accepted on an address other than loopback.
pub const MIN_EXPOSED_TOKEN_LEN: usize = 16;

/// The cart key of a development run on loopback (`CART_KEY` unset): public, so refused on any
/// address others can reach.
pub const DEV_CART_KEY: &str = "dev-cart-key: loopback only, never in production";

/// Shortest `CART_KEY` accepted on an address other than loopback.
pub const MIN_EXPOSED_CART_KEY_LEN: usize = 32;

/// A request body's bounds: its size and how long it may take to arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub timeout: Duration,
}

/// What the shop's endpoints are configured with (a shopper's and an operator's alike): the
/// shop's rules and limits, and nothing of Kafka, the admin token or the cart key.
#[derive(Debug, Clone)]
pub struct ShopSettings {
    pub low_stock_threshold: u64,
    pub max_line_quantity: u32,
    pub max_delivery_quantity: u32,
    pub cookie_secure: bool,
    pub search: SearchConfig,
    pub body: BodyLimits,
    pub idempotency_retention: Duration,
    pub cart_retention: Duration,
    pub cart_max_lines: u32,
}

/// What a websocket session (live updates, the event log) is configured with.
#[derive(Debug, Clone)]
pub struct SocketSettings {
    pub buffer: u32,
    pub ping_every: Duration,
    pub idle_limit: Duration,
    pub max_sockets: u32,
    pub max_sockets_per_client: u32,
    pub allowed_origins: Vec<String>,
}

impl Config {
    /// The endpoints' part of the settings.
    pub fn shop_settings(&self) -> ShopSettings {
        ShopSettings {
            low_stock_threshold: self.low_stock_threshold,
            max_line_quantity: self.max_line_quantity,
            max_delivery_quantity: self.max_delivery_quantity,
            cookie_secure: self.cookie_secure,
            search: self.search,
            body: BodyLimits {
                max_bytes: self.max_body_bytes,
                timeout: self.limits.body_timeout,
            },
            idempotency_retention: self.limits.idempotency_retention,
            cart_retention: self.limits.cart_retention,
            cart_max_lines: self.limits.cart_max_lines,
        }
    }

    /// The websockets' part of the settings.
    pub fn socket_settings(&self) -> SocketSettings {
        SocketSettings {
            buffer: self.live_socket_buffer,
            ping_every: self.live_ping_every,
            idle_limit: self.live_idle_limit,
            max_sockets: self.limits.live_max_sockets,
            max_sockets_per_client: self.limits.live_max_sockets_per_client,
            allowed_origins: self.limits.allowed_origins.clone(),
        }
    }

    /// The key of cart cookies and names: `CART_KEY`, or the development key when unset (which
    /// [`Config::check_exposure`] allows on loopback only).
    pub fn cart_key(&self) -> &[u8] {
        match self.cart_key.as_deref() {
            Some(key) if !key.is_empty() => key.as_bytes(),
            _ => DEV_CART_KEY.as_bytes(),
        }
    }

    /// Refuses to serve on an address others can reach with a guessable admin token or cart key.
    pub fn check_exposure(&self) -> Result<(), String> {
        let ip = self.http_addr.ip();
        if ip.is_loopback() {
            return Ok(());
        }
        if let Some(token) = self.admin_token.as_deref() {
            if token == DEV_ADMIN_TOKEN {
                return Err(format!(
                    "ADMIN_TOKEN is the development default and HTTP_ADDR {ip} is not a loopback address: set a token of your own (at least {MIN_EXPOSED_TOKEN_LEN} characters, e.g. `openssl rand -hex 24`)"
                ));
            }
            if !token.is_empty() && token.chars().count() < MIN_EXPOSED_TOKEN_LEN {
                return Err(format!(
                    "ADMIN_TOKEN has {} characters and HTTP_ADDR {ip} is not a loopback address: use at least {MIN_EXPOSED_TOKEN_LEN}",
                    token.chars().count()
                ));
            }
        }
        let cart_key = self.cart_key.as_deref().unwrap_or("");
        if cart_key.is_empty() || cart_key == DEV_CART_KEY {
            return Err(format!(
                "CART_KEY is required when HTTP_ADDR {ip} is not a loopback address: cart cookies are signed with it and the log names carts by it; set a secret of your own, the same on every replica (at least {MIN_EXPOSED_CART_KEY_LEN} characters, e.g. `openssl rand -hex 32`)"
            ));
        }
        if cart_key.chars().count() < MIN_EXPOSED_CART_KEY_LEN {
            return Err(format!(
                "CART_KEY has {} characters and HTTP_ADDR {ip} is not a loopback address: use at least {MIN_EXPOSED_CART_KEY_LEN}",
                cart_key.chars().count()
            ));
        }
        Ok(())
    }

    /// The contexts' snapshot settings, or None when snapshots are off.
    pub fn snapshots(&self) -> Option<crate::engine::snapshot::SnapshotSettings> {
        let s = &self.snapshot;
        Some(crate::engine::snapshot::SnapshotSettings {
            dir: s.snapshot_dir.clone()?,
            every_events: s.snapshot_every_events,
            every: s.snapshot_every,
            keep: s.snapshot_keep as usize,
            verify_every: (!s.snapshot_verify_every.is_zero()).then_some(s.snapshot_verify_every),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        config: Config,
    }

    fn config(args: &[&str]) -> Config {
        Args::parse_from([&["shop"], args].concat()).config
    }

    #[test]
    fn a_cart_key_of_its_own_is_required_beyond_loopback() {
        let exposed = ["--http-addr", "0.0.0.0:8080"];
        let refused = |extra: &[&str]| config(&[&exposed[..], extra].concat()).check_exposure();
        assert!(refused(&[]).unwrap_err().contains("CART_KEY is required"));
        assert!(
            refused(&["--cart-key", DEV_CART_KEY])
                .unwrap_err()
                .contains("CART_KEY is required")
        );
        assert!(
            refused(&["--cart-key", "short"])
                .unwrap_err()
                .contains("CART_KEY has 5 characters")
        );
        let key = "k".repeat(MIN_EXPOSED_CART_KEY_LEN);
        assert_eq!(refused(&["--cart-key", &key]), Ok(()));
        // On loopback the development key is fine, as `make run` uses it.
        let local = config(&[]);
        assert_eq!(local.check_exposure(), Ok(()));
        assert_eq!(local.cart_key(), DEV_CART_KEY.as_bytes());
        assert_eq!(config(&["--cart-key", &key]).cart_key(), key.as_bytes());
    }

    #[test]
    fn resource_attributes_are_percent_decoded() {
        let pair = |k: &str, v: &str| Ok((k.to_owned(), v.to_owned()));
        assert_eq!(
            resource_attribute("service.instance.id=replica%201"),
            pair("service.instance.id", "replica 1")
        );
        assert_eq!(resource_attribute("k=100%"), pair("k", "100%"));
        assert_eq!(resource_attribute("k=%+1"), pair("k", "%+1"));
        assert!(resource_attribute("no value").is_err());
        assert_eq!(
            resource_attributes(" a=1, ,b=x%2Cy"),
            Ok(ResourceAttributes(vec![
                ("a".into(), "1".into()),
                ("b".into(), "x,y".into())
            ]))
        );
        assert_eq!(resource_attributes(""), Ok(ResourceAttributes::default()));
    }
}
