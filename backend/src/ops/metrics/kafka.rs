//! librdkafka's statistics of each Kafka client, fed by the client context once a second (the
//! engine's [`StatsRecorder`], implemented here).

use prometheus::core::Collector;
use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Registry};
use rdkafka::statistics::Statistics;

use super::family::*;
use crate::engine::metrics::StatsRecorder;

/// librdkafka's statistics of each client (`client`: producer, catalog, checkout), updated by
/// the client context once per `statistics.interval.ms`.
pub struct KafkaMetrics {
    rtt_avg: GaugeVec,
    rtt_p99: GaugeVec,
    queued: IntGaugeVec,
    outbuf: IntGaugeVec,
    waitresp: IntGaugeVec,
    tx_errors: IntCounterVec,
    rx_errors: IntCounterVec,
    disconnects: IntCounterVec,
    up: IntGaugeVec,
}

impl KafkaMetrics {
    pub fn new() -> Self {
        let c = &["client"];
        KafkaMetrics {
            rtt_avg: float_gauge_vec(
                "shop_kafka_broker_rtt_avg_seconds",
                "Average broker round-trip time in the last statistics window (slowest broker).",
                c,
            ),
            rtt_p99: float_gauge_vec(
                "shop_kafka_broker_rtt_p99_seconds",
                "99th percentile broker round-trip time in the last statistics window (slowest broker).",
                c,
            ),
            queued: gauge_vec(
                "shop_kafka_client_queued_messages",
                "Messages in the client's queues (librdkafka msg_cnt).",
                c,
            ),
            outbuf: gauge_vec(
                "shop_kafka_broker_outbuf_messages",
                "Messages waiting to be sent to the brokers (sum of outbuf_msg_cnt).",
                c,
            ),
            waitresp: gauge_vec(
                "shop_kafka_broker_waitresp_messages",
                "Messages sent and awaiting the brokers' response (sum of waitresp_msg_cnt).",
                c,
            ),
            tx_errors: counter_vec(
                "shop_kafka_broker_tx_errors_total",
                "Transmission errors towards the brokers.",
                c,
            ),
            rx_errors: counter_vec(
                "shop_kafka_broker_rx_errors_total",
                "Receive errors from the brokers.",
                c,
            ),
            disconnects: counter_vec(
                "shop_kafka_broker_disconnects_total",
                "Connections to the brokers that were lost (librdkafka's disconnects).",
                c,
            ),
            up: gauge_vec(
                "shop_kafka_broker_up",
                "1 if the client has a live connection to a broker.",
                c,
            ),
        }
    }

    pub(super) fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        for c in [
            Box::new(self.rtt_avg.clone()) as Box<dyn Collector>,
            Box::new(self.rtt_p99.clone()),
            Box::new(self.queued.clone()),
            Box::new(self.outbuf.clone()),
            Box::new(self.waitresp.clone()),
            Box::new(self.tx_errors.clone()),
            Box::new(self.rx_errors.clone()),
            Box::new(self.disconnects.clone()),
            Box::new(self.up.clone()),
        ] {
            registry.register(c)?;
        }
        Ok(())
    }
}

impl StatsRecorder for KafkaMetrics {
    /// Takes in one statistics report of `client`.
    fn record(&self, client: &str, stats: &Statistics) {
        let c = &[client];
        // Bootstrap entries have nodeid -1; learned brokers carry the connections that matter.
        let learned = || stats.brokers.values().filter(|b| b.nodeid >= 0);
        let up = learned().any(|b| b.state == "UP");
        self.up.with_label_values(c).set(i64::from(up));
        self.queued.with_label_values(c).set(stats.msg_cnt as i64);
        self.outbuf
            .with_label_values(c)
            .set(stats.brokers.values().map(|b| b.outbuf_msg_cnt).sum());
        self.waitresp
            .with_label_values(c)
            .set(stats.brokers.values().map(|b| b.waitresp_msg_cnt).sum());
        let tx: u64 = stats.brokers.values().map(|b| b.txerrs).sum();
        let rx: u64 = stats.brokers.values().map(|b| b.rxerrs).sum();
        // Cumulative in librdkafka; a broker entry that goes away may lower the sum: keep the max.
        let tx_counter = self.tx_errors.with_label_values(c);
        tx_counter.inc_by(tx.saturating_sub(tx_counter.get()));
        let rx_counter = self.rx_errors.with_label_values(c);
        rx_counter.inc_by(rx.saturating_sub(rx_counter.get()));
        let lost: u64 = stats
            .brokers
            .values()
            .filter_map(|b| b.disconnects)
            .map(|n| n.max(0) as u64)
            .sum();
        let lost_counter = self.disconnects.with_label_values(c);
        lost_counter.inc_by(lost.saturating_sub(lost_counter.get()));
        let windows = || {
            learned()
                .filter_map(|b| b.rtt.as_ref())
                .filter(|w| w.cnt > 0)
        };
        if let Some(avg) = windows().map(|w| w.avg).max() {
            self.rtt_avg.with_label_values(c).set(avg as f64 / 1e6);
        }
        if let Some(p99) = windows().map(|w| w.p99).max() {
            self.rtt_p99.with_label_values(c).set(p99 as f64 / 1e6);
        }
    }
}

impl Default for KafkaMetrics {
    fn default() -> Self {
        Self::new()
    }
}
