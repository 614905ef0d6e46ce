//! What the live-update websockets do: open sockets, frames by kind, slow clients dropped, resyncs.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Registry};

use super::family::*;

/// What the live-update websockets do.
#[derive(Clone)]
pub struct LiveMetrics {
    /// Websockets open now.
    pub sockets: IntGauge,
    frames: IntCounterVec,
    /// Sockets closed because their client did not read fast enough.
    pub slow_clients_dropped: IntCounter,
    /// Resync frames sent because a socket fell behind the announcements.
    pub resyncs: IntCounter,
}

impl LiveMetrics {
    pub(super) fn new() -> Self {
        let frames = counter_vec(
            "shop_live_frames_sent_total",
            "Live-update frames written to websockets, by kind (product, cart, order_placed, order_rejected, resync).",
            &["kind"],
        );
        // Every kind exists from the start at 0, so rate() has a series before the first frame.
        for kind in [
            "product",
            "cart",
            "order_placed",
            "order_rejected",
            "resync",
        ] {
            frames.with_label_values(&[kind]);
        }
        LiveMetrics {
            sockets: IntGauge::new("shop_live_sockets", "Live-update websockets open now.")
                .expect("valid metric"),
            frames,
            slow_clients_dropped: IntCounter::new(
                "shop_live_slow_clients_dropped_total",
                "Live-update websockets closed because their client fell a whole buffer behind.",
            )
            .expect("valid metric"),
            resyncs: IntCounter::new(
                "shop_live_resyncs_total",
                "Resync frames queued because a websocket missed announcements of changes.",
            )
            .expect("valid metric"),
        }
    }

    pub(super) fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.sockets.clone()))?;
        registry.register(Box::new(self.frames.clone()))?;
        registry.register(Box::new(self.slow_clients_dropped.clone()))?;
        registry.register(Box::new(self.resyncs.clone()))
    }

    /// One frame of `kind` written to a socket.
    pub fn frame_sent(&self, kind: &'static str) {
        self.frames.with_label_values(&[kind]).inc();
    }
}
