//! The local broker's entry point: `tansu broker` with the flags `backend/scripts/broker.sh`
//! passes (tansu's own names and environment variables), built against the patched crates of
//! `broker/patches/`. `tansu --version` names the patch level, which `make broker-tool` checks.

use std::process::ExitCode;

use tansu_broker::broker::Broker;
use tansu_broker::coordinator::group::administrator::Controller;
use tansu_broker::{NODE_ID, TracingFormat, otel};
use tansu_sans_io::ErrorCode;
use tansu_storage::StorageContainer;
use url::Url;

/// `broker/build.sh` passes a digest of this crate and its patches: `make broker-tool` rebuilds
/// a broker whose version names another.
const VERSION: &str = concat!("tansu 0.6.0 (shop ", env!("SHOP_BROKER_DIGEST"), ")");

const USAGE: &str = "usage: tansu broker [--cluster-id ID] [--listener-url URL] \
    [--advertised-listener-url URL] [--storage-engine URL]\n       tansu --version";

struct Args {
    cluster_id: String,
    listener: Url,
    advertised: Url,
    storage: Url,
}

/// A flag's value, else tansu's environment variable for it, else the default.
fn setting(env: &str, given: Option<String>, default: &str) -> String {
    given
        .or_else(|| std::env::var(env).ok())
        .unwrap_or_else(|| default.to_owned())
}

fn url(flag: &str, value: &str) -> Result<Url, String> {
    Url::parse(value).map_err(|e| format!("{flag} {value:?}: {e}"))
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    match argv.next().as_deref() {
        Some("--version" | "-V") => return Ok(None),
        Some("broker") => {}
        _ => return Err(USAGE.into()),
    }
    let (mut cluster, mut listener, mut advertised, mut storage) = (None, None, None, None);
    while let Some(flag) = argv.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (flag.clone(), None),
        };
        let slot = match name.as_str() {
            "--cluster-id" | "--kafka-cluster-id" => &mut cluster,
            "--listener-url" | "--kafka-listener-url" => &mut listener,
            "--advertised-listener-url" | "--kafka-advertised-listener-url" => &mut advertised,
            "--storage-engine" => &mut storage,
            _ => return Err(format!("unknown flag {name}\n{USAGE}")),
        };
        let value = match inline {
            Some(v) => v,
            None => argv.next().ok_or_else(|| format!("{name} needs a value"))?,
        };
        *slot = Some(value);
    }
    let listener = setting("LISTENER_URL", listener, "tcp://127.0.0.1:9092");
    let advertised = setting("ADVERTISED_LISTENER_URL", advertised, &listener);
    let storage = setting("STORAGE_ENGINE", storage, "sqlite://tansu.db");
    Ok(Some(Args {
        cluster_id: setting("CLUSTER_ID", cluster, "tansu_cluster"),
        listener: url("--listener-url", &listener)?,
        advertised: url("--advertised-listener-url", &advertised)?,
        storage: url("--storage-engine", &storage)?,
    }))
}

async fn serve(args: Args) -> Result<ErrorCode, Box<dyn std::error::Error>> {
    let started = tokio::time::Instant::now();
    let broker = Broker::<Controller<StorageContainer>, StorageContainer>::builder()
        .node_id(NODE_ID)
        .cluster_id(args.cluster_id)
        .incarnation_id(uuid::Uuid::now_v7())
        .advertised_listener(args.advertised)
        .otlp_endpoint_url(None)
        .schema_registry(None)
        .storage(args.storage)
        .listener(args.listener)
        .authentication(false)
        .tls_server_config(None)
        .silent(true)
        .build()
        .await?;
    Ok(broker.main(started).await?)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{VERSION}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let _tracing = match otel::init(TracingFormat::Text) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("tansu: tracing: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let code = match runtime.block_on(serve(args)) {
        Ok(ErrorCode::None) => ExitCode::SUCCESS,
        Ok(code) => {
            eprintln!("tansu: {code}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("tansu: {e}");
            ExitCode::FAILURE
        }
    };
    // The broker has stopped serving and its storage is committed: a runtime whose blocking
    // threads linger (SQLite, idle connections) must not hold the process, its port and its
    // data directory for seconds after a SIGTERM.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    code
}
