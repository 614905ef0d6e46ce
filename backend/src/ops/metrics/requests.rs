//! HTTP requests by route template, method and status, their durations, and reads served by
//! each context.

use std::time::Duration;

use http::{Method, StatusCode};
use prometheus::core::Collector;
use prometheus::{HistogramVec, IntCounter, IntCounterVec, Registry};

use super::family::*;

/// A request method as a label: the standard ones by name, anything else as `other`, so a
/// client cannot create series at will.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// What the HTTP server records per request.
pub struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    reads: IntCounterVec,
    /// Reads served by the catalog (product list, product, categories).
    pub reads_catalog: IntCounter,
    /// Reads served by checkout (cart, orders, order).
    pub reads_checkout: IntCounter,
}

impl HttpMetrics {
    pub(super) fn new() -> Self {
        let reads = counter_vec(
            "shop_reads_total",
            "Queries served from a context's published model.",
            &["context"],
        );
        HttpMetrics {
            requests: counter_vec(
                "shop_http_requests_total",
                "HTTP requests answered, by route template, method and status code.",
                &["route", "method", "status"],
            ),
            duration: histogram_vec(
                "shop_http_request_duration_seconds",
                "Time from receiving an HTTP request to its response, by route template.",
                &["route"],
                LATENCY_BUCKETS,
            ),
            reads_catalog: reads.with_label_values(&["catalog"]),
            reads_checkout: reads.with_label_values(&["checkout"]),
            reads,
        }
    }

    pub(super) fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        for c in [
            Box::new(self.requests.clone()) as Box<dyn Collector>,
            Box::new(self.duration.clone()),
            Box::new(self.reads.clone()),
        ] {
            registry.register(c)?;
        }
        Ok(())
    }

    /// One answered HTTP request. `route` is a template or a fixed name, never a raw path.
    pub fn request(
        &self,
        route: &'static str,
        method: &Method,
        status: StatusCode,
        took: Duration,
    ) {
        self.requests
            .with_label_values(&[route, method_label(method), status.as_str()])
            .inc();
        self.duration
            .with_label_values(&[route])
            .observe(took.as_secs_f64());
    }
}
