//! The spans of a command's trace past the HTTP request: produce, wait for apply, and the
//! writer's apply of a live event, joined through W3C headers on the Kafka event.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use rdkafka::message::{BorrowedHeaders, BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use tracing::Span;
use tracing::field::Empty;
use tracing::span::EnteredSpan;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::*;
use crate::engine::kafka::ProduceError;

/// The producer span of a command's event, a child of the request's span; a disabled span
/// when traces are off.
pub fn produce_span(topic: &str) -> Span {
    if !exporting() {
        return Span::none();
    }
    let name = format!("send {topic}");
    tracing::info_span!(
        target: TARGET,
        "produce",
        otel.name = name.as_str(),
        otel.kind = "producer",
        messaging.system = "kafka",
        messaging.operation.type = "send",
        messaging.destination.name = topic,
        messaging.destination.partition.id = "0",
        messaging.kafka.offset = Empty,
        otel.status_description = Empty,
    )
}

/// The Kafka headers that carry `span`'s trace to whoever applies the event: W3C `traceparent`
/// (and `tracestate` if any). None for a disabled span, so nothing is added when traces are off.
pub fn kafka_headers(span: &Span) -> Option<OwnedHeaders> {
    if span.is_none() {
        return None;
    }
    let mut carrier = Carrier::default();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    if carrier.0.is_empty() {
        return None;
    }
    let headers = OwnedHeaders::new_with_capacity(carrier.0.len());
    Some(carrier.0.iter().fold(headers, |headers, (key, value)| {
        headers.insert(Header {
            key,
            value: Some(value.as_bytes()),
        })
    }))
}

/// Ends a producer span with the event's offset, or the reason the produce failed.
pub fn produced(span: Span, result: &Result<i64, ProduceError>) {
    if span.is_none() {
        return;
    }
    match result {
        Ok(offset) => span.record("messaging.kafka.offset", *offset),
        Err(e) => span.record("otel.status_description", e.to_string().as_str()),
    };
}

/// The span of a command's wait until `context` has applied its event at `offset`; a disabled
/// span when traces are off.
pub fn wait_span(context: &'static str, offset: i64) -> Span {
    if !exporting() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "wait",
        otel.name = "wait for apply",
        shop.context = context,
        messaging.kafka.offset = offset,
    )
}

/// The consumer span of applying one event of `context` (of the kind `kind` names), entered
/// while it is held. Only for a live event (`live`: the start-up replay is over) that carries a
/// `traceparent` header, while traces are exported; its parent is the producer span in that
/// header, so the apply joins the command's trace. Any other event costs a flag test (and, while
/// exporting, a look at whether it has headers) and makes nothing.
pub fn apply_span(
    context: &'static str,
    kind: &dyn Fn() -> &'static str,
    msg: &BorrowedMessage<'_>,
    live: bool,
) -> Option<EnteredSpan> {
    if !live || !exporting() {
        return None;
    }
    let headers = KafkaHeaders(msg.headers()?);
    headers.get(TRACEPARENT)?;
    let parent = TraceContextPropagator::new().extract(&headers);
    let name = format!("apply {context}");
    let span = tracing::info_span!(
        target: TARGET,
        "apply",
        otel.name = name.as_str(),
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.operation.type = "process",
        messaging.destination.name = msg.topic(),
        messaging.kafka.offset = msg.offset(),
        shop.context = context,
        shop.event = kind(),
    );
    let _ = span.set_parent(parent);
    Some(span.entered())
}

/// Collects what a propagator injects.
#[derive(Default)]
struct Carrier(Vec<(String, String)>);

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value));
    }
}

/// An event's Kafka headers, as a propagator reads them.
struct KafkaHeaders<'a>(&'a BorrowedHeaders);

impl Extractor for KafkaHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let header = self.0.iter().find(|h| h.key == key)?;
        header.value.and_then(|v| std::str::from_utf8(v).ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|h| h.key).collect()
    }
}
