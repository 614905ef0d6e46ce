//! Traces: the real `shop` binary, on librdkafka's mock cluster held by this test, exports to an
//! OTLP receiver in this test (a small hyper server decoding `ExportTraceServiceRequest`), and
//! one command's trace is checked span by span: request → produce → apply (in the context
//! writer, through the Kafka headers) and the wait for it. With traces off, no trace header
//! reaches Kafka.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use support::{Backend, Shopper, eventually, mock_cluster, shop_in_memory};

const CATALOG: &str = "shop.catalog.v1";
const CHECKOUT: &str = "shop.checkout.v1";

/// A span as received, with the attributes of the resource that sent it.
#[derive(Debug, Clone)]
struct Received {
    resource: Vec<KeyValue>,
    span: Span,
}

/// An OTLP/HTTP receiver of traces (protobuf) on a free loopback port; keeps every span.
struct Receiver {
    url: String,
    spans: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let spans = Arc::new(Mutex::new(Vec::new()));
        let store = spans.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = store.clone();
                let service = service_fn(move |req| {
                    let store = store.clone();
                    async move { Ok::<_, Infallible>(receive(req, &store).await) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Receiver { url, spans }
    }

    fn spans(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }
}

/// Answers one export: 200 with an empty `ExportTraceServiceResponse`, as a collector does.
async fn receive(req: Request<Incoming>, store: &Mutex<Vec<Received>>) -> Response<Full<Bytes>> {
    let answer = |status: StatusCode, body: Vec<u8>| {
        Response::builder()
            .status(status)
            .header("content-type", "application/x-protobuf")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    let protobuf = req
        .headers()
        .get("content-type")
        .is_some_and(|v| v == "application/x-protobuf");
    if req.method() != Method::POST || req.uri().path() != "/v1/traces" || !protobuf {
        return answer(StatusCode::NOT_FOUND, vec![]);
    }
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let Ok(export) = ExportTraceServiceRequest::decode(body) else {
        return answer(StatusCode::BAD_REQUEST, vec![]);
    };
    let mut spans = store.lock().unwrap();
    for resource_spans in export.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| r.attributes)
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                spans.push(Received {
                    resource: resource.clone(),
                    span,
                });
            }
        }
    }
    answer(
        StatusCode::OK,
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()
}

fn text<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attribute(attributes, key)? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

fn int(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attribute(attributes, key)? {
        Value::IntValue(i) => Some(*i),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The one span with this name in the trace; panics listing the trace otherwise.
fn only<'a>(trace: &[&'a Span], name: &str) -> &'a Span {
    let found: Vec<_> = trace.iter().filter(|s| s.name == name).collect();
    assert_eq!(
        found.len(),
        1,
        "one span {name:?} expected in {:#?}",
        trace.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    found[0]
}

/// Every event in a topic of the mock cluster, read from offset 0 with a plain consumer.
async fn events(brokers: String, topic: &'static str) -> Vec<OwnedMessage> {
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", "tracing-test")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let (_, high) = consumer
            .fetch_watermarks(topic, 0, Duration::from_secs(10))
            .unwrap();
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, 0, Offset::Beginning)
            .unwrap();
        consumer.assign(&assignment).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut out = Vec::new();
        while (out.len() as i64) < high {
            assert!(
                Instant::now() < deadline,
                "read {} of {high} events of {topic}",
                out.len()
            );
            if let Some(msg) = consumer.poll(Duration::from_millis(100)) {
                out.push(msg.unwrap().detach());
            }
        }
        out
    })
    .await
    .unwrap()
}

/// The value of an event's Kafka header.
fn header(msg: &OwnedMessage, key: &str) -> Option<String> {
    let headers = msg.headers()?;
    let header = headers.iter().find(|h| h.key == key)?;
    Some(String::from_utf8(header.value?.to_vec()).unwrap())
}

/// The trace the test's own client continues, as a W3C `traceparent` (sampled).
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// The commands both tests follow: an admin adds the desk lamp (no `traceparent`), then Alice
/// puts two in her cart with a request that continues the caller's trace.
async fn lamp_in_cart_under_callers_trace(shop: SocketAddr) {
    let mut admin = Shopper::new(shop);
    admin.add_product(1, "Desk lamp", "Home", 2500, 5).await;
    let mut alice = Shopper::new(shop);
    let caller = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    alice
        .send(
            Method::PUT,
            "/api/cart/lines/1",
            &[
                ("content-type", "application/json"),
                ("idempotency-key", "line-1"),
                ("traceparent", &caller),
            ],
            r#"{"quantity": 2}"#,
        )
        .await
        .expect(StatusCode::OK);
}

/// The binary exporting its traces to `receiver` as one instance of "shop-under-test"
/// (`instance` percent-encoded, as OTEL_RESOURCE_ATTRIBUTES wants it).
async fn traced_backend(brokers: &str, receiver: &str, instance: &str) -> Backend {
    let attributes = format!("service.instance.id={instance}");
    Backend::start(
        brokers,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver),
            ("OTEL_SERVICE_NAME", "shop-under-test"),
            ("OTEL_RESOURCE_ATTRIBUTES", &attributes),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_is_one_trace_from_request_through_kafka_to_apply() {
    let cluster = mock_cluster();
    let receiver = Receiver::start().await;
    let backend = traced_backend(&cluster.bootstrap_servers(), &receiver.url, "replica%201").await;
    lamp_in_cart_under_callers_trace(backend.addr).await;
    let mut probe = Shopper::new(backend.addr);
    for path in ["/healthz", "/readyz", "/metrics"] {
        probe.get(path).await.expect(StatusCode::OK);
    }
    let checkout = events(cluster.bootstrap_servers(), CHECKOUT).await;
    // A second replica replays the log the first wrote, trace headers and all.
    let replica = traced_backend(&cluster.bootstrap_servers(), &receiver.url, "replica%202").await;
    // It does trace: its own request's span must arrive.
    Shopper::new(replica.addr)
        .get("/api/products")
        .await
        .expect(StatusCode::OK);
    // A graceful stop exports what is still queued: everything below arrives by exit.
    tokio::task::spawn_blocking(move || {
        replica.terminate();
        backend.terminate()
    })
    .await
    .unwrap();

    eventually(Duration::from_secs(60), "the command's spans", || {
        let received = receiver.spans();
        async move {
            let names: Vec<_> = received
                .iter()
                .filter(|r| hex(&r.span.trace_id) == CALLER_TRACE)
                .map(|r| r.span.name.clone())
                .collect();
            [
                "PUT /api/cart/lines/{product_id}",
                "send shop.checkout.v1",
                "apply checkout",
                "wait for apply",
            ]
            .iter()
            .all(|n| names.iter().any(|m| m == n))
        }
    })
    .await;
    let received = receiver.spans();
    let trace: Vec<&Span> = received
        .iter()
        .map(|r| &r.span)
        .filter(|s| hex(&s.trace_id) == CALLER_TRACE)
        .collect();

    // The request continues the caller's trace.
    let request = only(&trace, "PUT /api/cart/lines/{product_id}");
    assert_eq!(request.kind, SpanKind::Server as i32);
    assert_eq!(hex(&request.parent_span_id), CALLER_SPAN);
    assert_eq!(
        text(&request.attributes, "http.request.method"),
        Some("PUT")
    );
    assert_eq!(
        text(&request.attributes, "http.route"),
        Some("/api/cart/lines/{product_id}")
    );
    assert_eq!(
        int(&request.attributes, "http.response.status_code"),
        Some(200)
    );

    // Its produce, and the wait for the apply, are its children.
    let produce = only(&trace, "send shop.checkout.v1");
    assert_eq!(produce.kind, SpanKind::Producer as i32);
    assert_eq!(produce.parent_span_id, request.span_id);
    assert_eq!(
        text(&produce.attributes, "messaging.destination.name"),
        Some(CHECKOUT)
    );
    let offset = int(&produce.attributes, "messaging.kafka.offset").expect("the event's offset");
    let wait = only(&trace, "wait for apply");
    assert_eq!(wait.parent_span_id, request.span_id);

    // The event carries the produce span's context in its Kafka headers...
    let event = checkout
        .iter()
        .find(|m| m.offset() == offset)
        .expect("the produced event");
    assert_eq!(
        header(event, "traceparent"),
        Some(format!("00-{CALLER_TRACE}-{}-01", hex(&produce.span_id)))
    );
    // ... and the writer applied it inside a span whose parent is the produce span.
    let apply = only(&trace, "apply checkout");
    assert_eq!(apply.kind, SpanKind::Consumer as i32);
    assert_eq!(apply.parent_span_id, produce.span_id);
    assert_eq!(
        int(&apply.attributes, "messaging.kafka.offset"),
        Some(offset)
    );

    // A request without a traceparent starts its own trace, with the same structure.
    let upsert = received
        .iter()
        .map(|r| &r.span)
        .find(|s| s.name == "PUT /api/admin/products/{id}")
        .expect("the admin upsert's span");
    assert!(upsert.parent_span_id.is_empty(), "a root span");
    assert_ne!(hex(&upsert.trace_id), CALLER_TRACE);
    let upsert_trace: Vec<&Span> = received
        .iter()
        .map(|r| &r.span)
        .filter(|s| s.trace_id == upsert.trace_id)
        .collect();
    let produce = only(&upsert_trace, "send shop.catalog.v1");
    assert_eq!(produce.parent_span_id, upsert.span_id);
    assert_eq!(
        only(&upsert_trace, "apply catalog").parent_span_id,
        produce.span_id
    );

    // Probes and metrics scrapes are not traced, nor is a replay: the second replica applied
    // every event of the log at start-up and exported no apply span for any of them.
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert!(
            received.iter().all(|r| {
                text(&r.span.attributes, "url.path") != Some(path)
                    && !r.span.name.ends_with(&format!(" {path}"))
            }),
            "a span for {path}"
        );
    }
    let second: Vec<&str> = received
        .iter()
        .filter(|r| text(&r.resource, "service.instance.id") == Some("replica 2"))
        .map(|r| r.span.name.as_str())
        .collect();
    assert!(
        second.contains(&"GET /api/products"),
        "the second replica's request span: {second:?}"
    );
    let replayed: Vec<&&str> = second.iter().filter(|n| n.starts_with("apply ")).collect();
    assert!(
        replayed.is_empty(),
        "spans for replayed events: {replayed:?}"
    );
    let resource = &received
        .iter()
        .find(|r| hex(&r.span.trace_id) == CALLER_TRACE)
        .expect("the caller's spans")
        .resource;
    assert_eq!(text(resource, "service.name"), Some("shop-under-test"));
    assert_eq!(text(resource, "service.instance.id"), Some("replica 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_traces_off_no_trace_header_reaches_kafka() {
    let (cluster, shop) = shop_in_memory().await;
    // Even a caller's trace is not carried on when traces are off.
    lamp_in_cart_under_callers_trace(shop.addr).await;
    let brokers = cluster.bootstrap_servers();
    let catalog = events(brokers.clone(), CATALOG).await;
    let checkout = events(brokers, CHECKOUT).await;
    assert!(
        !catalog.is_empty() && checkout.len() >= 2,
        "the commands' events"
    );
    for event in catalog.iter().chain(&checkout) {
        for key in ["traceparent", "tracestate"] {
            assert_eq!(
                header(event, key),
                None,
                "{key} in {} at offset {}",
                event.topic(),
                event.offset()
            );
        }
    }
    shop.stop().await;
}
