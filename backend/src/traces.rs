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

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::KeyValue;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HeaderExtractor, HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::SdkTracerProvider;
use rdkafka::message::{BorrowedHeaders, BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use tracing::field::Empty;
use tracing::level_filters::LevelFilter;
use tracing::span::EnteredSpan;
use tracing::subscriber::Interest;
use tracing::{Instrument, Level, Metadata, Span, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::app::App;
use crate::config::TraceConfig;
use crate::http::wire::Resp;
use crate::kafka::ProduceError;

/// The W3C trace context header, in HTTP requests and Kafka events alike.
pub const TRACEPARENT: &str = "traceparent";

/// The target of every span made here, so that the log filter can let them pass whatever
/// `RUST_LOG` says and the log output can leave them out (see `main`).
pub const TARGET: &str = module_path!();

/// Whether this process exports traces: set by [`Exporter::start`], read before any span is made.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// True while traces are exported.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Why traces cannot be exported.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("exporting traces needs a Tokio runtime to send them from")]
    NoRuntime,
    #[error("cannot set up the OTLP trace exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// The OTLP exporter of this process's spans. Started once (by `main`); its [`Exporter::layer`]
/// goes on the global subscriber.
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    /// Starts exporting to the configured endpoint; `None` when there is none (traces off).
    /// Call it inside the Tokio runtime: the exporter's HTTP requests run on it.
    pub fn start(config: &TraceConfig) -> Result<Option<Exporter>, TraceError> {
        let Some(endpoint) = config
            .otlp_endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        else {
            return Ok(None);
        };
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| TraceError::NoRuntime)?;
        let client = RuntimeClient {
            client: Client::builder(TokioExecutor::new()).build_http(),
            runtime,
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
            .build()?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource(config))
            .build();
        EXPORTING.store(true, Ordering::Relaxed);
        Ok(Some(Exporter { provider }))
    }

    /// The subscriber layer that hands this crate's spans to the exporter.
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("shop"))
            .with_filter(Exported)
    }

    /// Stops making spans and exports those still queued. Blocks until that is done (or the
    /// SDK's timeout passed): call it off the async workers.
    pub fn shutdown(self) {
        EXPORTING.store(false, Ordering::Relaxed);
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(%e, "traces not all exported at shutdown");
        }
    }
}

/// What the exporter takes: this crate's spans and their events at INFO and above, never
/// librdkafka's log lines or other crates' chatter.
///
/// Its verdict on a callsite is "sometimes", so the subscriber asks before every span and event
/// instead of caching a verdict. A cached verdict is not safe next to a per-layer filter that
/// says no to a `log` record (librdkafka's) that is then not recorded: that leaves the filter's
/// thread-local verdict behind, and the next span or event on that thread whose callsite is
/// cached would be dropped. Callsites the log filter disables stay disabled: no cost there.
struct Exported;

impl<S> Filter<S> for Exported {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        let target = meta.target();
        let crate_name = env!("CARGO_CRATE_NAME");
        *meta.level() <= Level::INFO
            && target
                .strip_prefix(crate_name)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    }

    fn callsite_enabled(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::INFO)
    }
}

/// `service.name` from OTEL_SERVICE_NAME, else from OTEL_RESOURCE_ATTRIBUTES, else `shop`; the
/// other resource attributes as given.
fn resource(config: &TraceConfig) -> Resource {
    let attributes = config
        .resource_attributes
        .0
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()));
    let builder = Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(attributes);
    let named = config
        .resource_attributes
        .0
        .iter()
        .any(|(k, _)| k == "service.name");
    match &config.service_name {
        Some(name) => builder.with_service_name(name.clone()),
        None if named => builder,
        None => builder.with_service_name("shop"),
    }
    .build()
}

/// Longest one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read from the collector (it answers with a short protobuf).
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The exporter's HTTP client: hyper's, the HTTP stack the shop already has, run on the Tokio
/// runtime the exporter was started from. The SDK's batch processor exports from a thread of its
/// own, outside any runtime, so each request is spawned onto the runtime and awaited from there.
#[derive(Debug)]
struct RuntimeClient {
    client: Client<HttpConnector, Full<Bytes>>,
    runtime: tokio::runtime::Handle,
}

impl HttpClient for RuntimeClient {
    fn send_bytes<'a, 'f>(
        &'a self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'f>>
    where
        'a: 'f,
        Self: 'f,
    {
        let client = self.client.clone();
        let task = self.runtime.spawn(async move {
            let post = async {
                let (parts, body) = client.request(request.map(Full::new)).await?.into_parts();
                let body = Limited::new(body, MAX_ANSWER_BYTES).collect().await?;
                Ok::<_, HttpError>(Response::from_parts(parts, body.to_bytes()))
            };
            tokio::time::timeout(EXPORT_TIMEOUT, post)
                .await
                .map_err(|_| HttpError::from("the OTLP endpoint did not answer in time"))?
        });
        Box::pin(async move { task.await? })
    }
}

/// [`crate::http::handle`] inside the request's server span when traces are exported; just
/// that otherwise.
pub async fn handle(app: &App, req: Request<Incoming>) -> Resp {
    let Some(span) = exporting().then(|| request_span(&req)).flatten() else {
        return crate::http::handle(app, req).await;
    };
    let resp = crate::http::handle(app, req).instrument(span.clone()).await;
    let status = resp.status();
    // As i64: the OpenTelemetry layer records unsigned integers as text.
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
    resp
}

/// The server span of a request, continuing the caller's trace if it sent a `traceparent`.
/// None for the probes and the metrics scrape: they come every few seconds and would bury the
/// traces that matter.
fn request_span(req: &Request<Incoming>) -> Option<Span> {
    let method = req.method();
    let path = req.uri().path();
    let route = match path.strip_prefix("/api/") {
        Some(api) => crate::http::route::route(method, api)
            .ok()
            .map(|r| r.name()),
        None => match path {
            "/healthz" | "/readyz" | "/metrics" => return None,
            "/debug/pprof/profile" => Some("/debug/pprof/profile"),
            "/debug/pprof/heap" => Some("/debug/pprof/heap"),
            _ => None,
        },
    };
    // Final before the span starts: OpenTelemetry cannot rename a started span.
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_string(),
    };
    let span = tracing::info_span!(
        target: TARGET,
        "request",
        otel.name = name.as_str(),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route,
        url.path = path,
        http.response.status_code = Empty,
        otel.status_code = Empty,
    );
    if req.headers().contains_key(TRACEPARENT) {
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(req.headers()));
        let _ = span.set_parent(parent);
    }
    Some(span)
}

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
    kind: impl FnOnce() -> &'static str,
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
