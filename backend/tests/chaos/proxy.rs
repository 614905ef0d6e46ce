//! The fault-injecting TCP proxy between the shop and the broker: noxious (a Rust port of
//! Toxiproxy) used as a library, on loopback only.
//!
//! Toxics are installed only on a proxy with no open connection: noxious re-links the open
//! connections of a running proxy when its toxics change, and drops the bytes that are inside a
//! toxic at that moment (a latency toxic's delayed chunk, for one). That leaves a hole in the
//! middle of a TCP stream, which no network does and which corrupts the Kafka protocol for both
//! ends. So every change of fault cuts all connections first (itself a fault the shop must
//! survive), and each connection lives its whole life under one set of toxics.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use noxious::proxy::{ProxyConfig, ProxyRunner, Runner, Toxics};
use noxious::signal::{Close, Stop, Stopper};
use noxious::socket::TcpListener;
use noxious::toxic::{StreamDirection, Toxic, ToxicEvent, ToxicEventResult, ToxicKind};
use tokio::task::JoinHandle;

const NAME: &str = "broker";

pub struct FaultProxy {
    pub listen: SocketAddr,
    upstream: SocketAddr,
    running: Option<Running>,
}

struct Running {
    _toxic_updates: bmrng::RequestSender<ToxicEvent, ToxicEventResult>,
    stopper: Stopper,
    task: JoinHandle<io::Result<()>>,
}

impl FaultProxy {
    /// A proxy listening on `listen` that forwards every connection to `upstream`.
    pub async fn start(listen: SocketAddr, upstream: SocketAddr) -> FaultProxy {
        assert!(
            listen.ip().is_loopback() && upstream.ip().is_loopback(),
            "faults are injected on loopback only"
        );
        let mut proxy = FaultProxy {
            listen,
            upstream,
            running: None,
        };
        proxy.enable().await;
        proxy
    }

    /// Accepts connections again (after [`FaultProxy::disable`]), with no toxics.
    pub async fn enable(&mut self) {
        self.enable_with(vec![]).await;
    }

    /// Accepts connections again, each passing through `toxics`.
    pub async fn enable_with(&mut self, toxics: Vec<Toxic>) {
        if self.running.is_some() {
            return;
        }
        let config = ProxyConfig {
            name: NAME.into(),
            listen: self.listen.to_string(),
            upstream: self.upstream.to_string(),
            enabled: true,
            rand_seed: None,
        };
        let (upstream, downstream) = toxics
            .into_iter()
            .partition(|t| t.direction == StreamDirection::Upstream);
        let toxics = Toxics {
            upstream,
            downstream,
        };
        // The address was this proxy's a moment ago; the kernel may need a moment to free it.
        let mut tries = 0;
        let (listener, info) = loop {
            match ProxyRunner::initialize_proxy::<TcpListener>(config.clone(), toxics.clone()).await
            {
                Ok(bound) => break bound,
                Err(_) if tries < 200 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("the proxy cannot listen on {}: {e}", self.listen),
            }
        };
        // Toxics are never changed on a running proxy (see above); the channel is what
        // noxious's runner takes for such changes.
        let (toxic_updates, receiver) = bmrng::channel(1);
        let (stop, stopper) = Stop::new();
        let (_close, closer) = Close::new();
        let task = tokio::spawn(ProxyRunner::run_proxy::<TcpListener>(
            listener, info, receiver, stop, closer,
        ));
        self.running = Some(Running {
            _toxic_updates: toxic_updates,
            stopper,
            task,
        });
    }

    /// Closes every open connection and stops listening: the link is cut.
    pub async fn disable(&mut self) {
        if let Some(r) = self.running.take() {
            r.stopper.stop();
            let _ = r.task.await;
        }
    }

    /// Cuts every connection and lets new ones pass through `toxics` (none: healthy).
    pub async fn set(&mut self, toxics: Vec<Toxic>) {
        self.disable().await;
        self.enable_with(toxics).await;
    }
}

/// A toxic on the given direction.
pub fn toxic(name: &str, kind: ToxicKind, direction: StreamDirection) -> Toxic {
    Toxic {
        kind,
        name: name.into(),
        toxicity: 1.0,
        direction,
    }
}

/// The same toxic on both directions.
pub fn both_ways(name: &str, kind: ToxicKind) -> Vec<Toxic> {
    vec![
        toxic(&format!("{name}_up"), kind, StreamDirection::Upstream),
        toxic(&format!("{name}_down"), kind, StreamDirection::Downstream),
    ]
}
