//! The OTLP/HTTP exporter: the OpenTelemetry layer, its own filter, and the hyper client that
//! posts batches on the runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::*;
use crate::config::TraceConfig;

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
