//! The metrics as a scraper sees them: names, labels and values of every group.

use super::commands::CommandResult;
use super::contexts::*;
use super::requests::method_label;
use super::*;
use crate::catalog::CatalogFold;
use crate::checkout::CheckoutFold;
use crate::engine::Context;
use crate::engine::metrics::WriterRecorder as _;
use http::{Method, StatusCode};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn text(m: &Metrics) -> String {
    String::from_utf8(m.encode()).unwrap()
}

/// The value of the sample with exactly this name and label set, if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

#[test]
fn methods_and_results_have_fixed_labels() {
    assert_eq!(method_label(&Method::GET), "GET");
    assert_eq!(method_label(&Method::DELETE), "DELETE");
    assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    let all = [
        CommandResult::Applied,
        CommandResult::Replayed,
        CommandResult::NoOp,
        CommandResult::Rejected,
        CommandResult::Unavailable,
        CommandResult::Error,
    ]
    .map(CommandResult::label);
    assert_eq!(
        all,
        [
            "applied",
            "replayed",
            "no_op",
            "rejected",
            "unavailable",
            "error"
        ]
    );
}

#[test]
fn requests_and_commands_are_exposed_with_sorted_labels() {
    let m = Metrics::new().unwrap();
    m.http.request(
        "/api/products",
        &Method::GET,
        StatusCode::OK,
        Duration::from_millis(3),
    );
    m.http.request(
        "/api/products",
        &Method::GET,
        StatusCode::OK,
        Duration::from_millis(1),
    );
    m.commands.ended("cart_line", CommandResult::Applied);
    m.commands.produced("cart_line", Duration::from_millis(2));
    m.http.reads_catalog.inc();
    let t = text(&m);
    assert_eq!(
        sample(
            &t,
            r#"shop_http_requests_total{method="GET",route="/api/products",status="200"}"#
        ),
        Some(2.0),
        "{t}"
    );
    assert_eq!(
        sample(
            &t,
            r#"shop_http_request_duration_seconds_count{route="/api/products"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &t,
            r#"shop_commands_total{kind="cart_line",result="applied"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &t,
            r#"shop_command_produce_duration_seconds_bucket{kind="cart_line",le="0.0025"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&t, r#"shop_reads_total{context="catalog"}"#),
        Some(1.0)
    );
    assert!(t.contains("# TYPE shop_http_request_duration_seconds histogram"));
    #[cfg(target_os = "linux")]
    assert!(t.contains("process_resident_memory_bytes"), "{t}");
}

#[test]
fn the_collector_reads_engine_counters_and_model_sizes_at_scrape_time() {
    let m = Metrics::new().unwrap();
    let catalog = Context::<CatalogFold>::with_metrics("c", m.engine("catalog"));
    let checkout = Context::<CheckoutFold>::with_metrics("k", m.engine("checkout"));
    m.observe_contexts(vec![Box::new(catalog.clone()), Box::new(checkout.clone())])
        .unwrap();
    let t = text(&m);
    assert_eq!(
        sample(&t, r#"shop_context_ready{context="catalog"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(&t, r#"shop_model_entries{context="checkout",kind="carts"}"#),
        Some(0.0),
        "{t}"
    );
    assert_eq!(
        sample(
            &t,
            r#"shop_model_entries{context="catalog",kind="products"}"#
        ),
        Some(0.0)
    );

    let s = checkout.stats();
    s.poison.store(2, Ordering::Relaxed);
    s.publishes.store(7, Ordering::Relaxed);
    s.high_watermark.store(12, Ordering::Relaxed);
    s.replay_millis.store(1500, Ordering::Relaxed);
    m.engine("checkout").applied("cart_line_set", 3);
    m.engine("checkout").ignored("duplicate command", 1);
    m.engine("checkout")
        .observe_batch(4, Duration::from_millis(2));
    let t = text(&m);
    for (series, value) in [
        (r#"shop_events_poison_total{context="checkout"}"#, 2.0),
        (r#"shop_context_publishes_total{context="checkout"}"#, 7.0),
        (
            r#"shop_context_high_watermark_offset{context="checkout"}"#,
            12.0,
        ),
        (r#"shop_context_applied_offset{context="checkout"}"#, 0.0),
        (r#"shop_context_lag_events{context="checkout"}"#, 12.0),
        (
            r#"shop_context_replay_duration_seconds{context="checkout"}"#,
            1.5,
        ),
        (
            r#"shop_events_applied_total{context="checkout",kind="cart_line_set"}"#,
            3.0,
        ),
        (
            r#"shop_events_ignored_total{context="checkout",reason="duplicate command"}"#,
            1.0,
        ),
        (
            r#"shop_context_publish_batch_events_sum{context="checkout"}"#,
            4.0,
        ),
    ] {
        assert_eq!(sample(&t, series), Some(value), "{series} in\n{t}");
    }
    // A second scrape sets the same cumulative values, it does not add them again.
    assert_eq!(
        sample(
            &text(&m),
            r#"shop_context_publishes_total{context="checkout"}"#
        ),
        Some(7.0)
    );
}

#[test]
fn lag_is_never_negative() {
    let s = ContextSnapshot {
        applied: 10,
        high_watermark: 4,
        ..Default::default()
    };
    assert_eq!(s.lag(), 0);
    let s = ContextSnapshot {
        applied: 10,
        high_watermark: 15,
        ..Default::default()
    };
    assert_eq!(s.lag(), 5);
}
