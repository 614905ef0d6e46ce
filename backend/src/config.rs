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

fn seconds(s: &str) -> Result<Duration, String> {
    s.parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|e| format!("seconds: {e}"))
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

/// The server's settings.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    #[command(flatten)]
    pub kafka: KafkaConfig,
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
}
