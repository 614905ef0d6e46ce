//! Each context's figures for the event log: read from the metrics registry, the very families
//! `/metrics` exports at that moment, so the page and Grafana cannot disagree.

use prometheus::proto::MetricFamily;
use shared::proto::ContextFigures;

use prometheus::Registry;

/// The figures of each `(context, topic)`.
pub fn figures(registry: &Registry, contexts: &[(&str, &str)]) -> Vec<ContextFigures> {
    from_families(&registry.gather(), contexts)
}

/// The figures in gathered families: gauges by their `context` label, counters summed over
/// their other labels (kinds, reasons). A metric is a counter or a gauge, the other at zero.
pub fn from_families(families: &[MetricFamily], contexts: &[(&str, &str)]) -> Vec<ContextFigures> {
    let value = |name: &str, context: &str| -> f64 {
        families
            .iter()
            .filter(|f| f.name() == name)
            .flat_map(|f| f.get_metric())
            .filter(|m| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == "context" && l.value() == context)
            })
            .map(|m| m.get_counter().get_value() + m.get_gauge().get_value())
            .sum()
    };
    contexts
        .iter()
        .map(|&(context, topic)| ContextFigures {
            context: context.to_owned(),
            topic: topic.to_owned(),
            applied_offset: value("shop_context_applied_offset", context) as i64,
            high_watermark: value("shop_context_high_watermark_offset", context) as i64,
            lag: value("shop_context_lag_events", context) as i64,
            ready: value("shop_context_ready", context) == 1.0,
            applied_events: value("shop_events_applied_total", context) as u64,
            ignored_events: value("shop_events_ignored_total", context) as u64,
            poison_events: value("shop_events_poison_total", context) as u64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::metrics::WriterRecorder as _;
    use crate::ops::metrics::Metrics;

    #[test]
    fn counters_are_summed_over_kinds_for_their_context_only() {
        let metrics = Metrics::new().unwrap();
        let catalog = metrics.engine("catalog");
        let checkout = metrics.engine("checkout");
        catalog.applied("product_upserted", 3);
        catalog.applied("price_changed", 2);
        catalog.ignored("same price", 1);
        checkout.applied("stock_delivered", 7);
        let f = figures(
            metrics.registry(),
            &[("catalog", "c.v1"), ("checkout", "k.v1")],
        );
        assert_eq!((f[0].applied_events, f[0].ignored_events), (5, 1));
        assert_eq!((f[1].applied_events, f[1].ignored_events), (7, 0));
        assert_eq!(f[1].topic, "k.v1");
    }
}
