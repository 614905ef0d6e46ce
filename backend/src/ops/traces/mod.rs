//! Traces: one trace per command from the HTTP request through Kafka to the context writer that
//! applies its event, exported over OTLP/HTTP (protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! - **Spans.** A server span per request (named by its route template, continuing an incoming
//!   W3C `traceparent`); inside a command, a producer span around the produce and a span for the
//!   wait until the context has applied the event. The producer span's W3C context travels in the
//!   event's Kafka headers (`traceparent`, and `tracestate` if any), and a live writer that meets
//!   such a header applies the event inside a consumer span whose parent is that producer span,
//!   on every replica that applies it.
//! - **Off by default.** Without an endpoint nothing is made: a request or a command costs one
//!   relaxed load of a flag, no header is written to Kafka, and the writer looks at no headers.
//!   With one, an event without a `traceparent` header still costs the writer only a look at
//!   whether it has headers, and the start-up replay makes no spans at all (those traces ended
//!   long ago; a replay of millions of events must not slow down or flood the collector).
//! - **Export.** The spans are `tracing` spans; an OpenTelemetry layer on the same subscriber as
//!   the logs exports them in batches, through its own filter (this crate's spans and their
//!   events at INFO and above, so librdkafka's chatter never goes out). They stay out of the logs.

pub mod export;
pub mod spans;

use std::sync::atomic::{AtomicBool, Ordering};

pub use export::{Exporter, TraceError};
pub use spans::{apply_span, kafka_headers, produce_span, produced, wait_span};

/// The W3C trace context header, in HTTP requests and Kafka events alike.
pub const TRACEPARENT: &str = "traceparent";

/// The target of every span made here, so that the log filter can let them pass whatever
/// `RUST_LOG` says and the log output can leave them out (see `main`).
pub const TARGET: &str = module_path!();

/// Whether this process exports traces: set by [`Exporter::start`], read before any span is made.
pub(crate) static EXPORTING: AtomicBool = AtomicBool::new(false);

/// True while traces are exported.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}
