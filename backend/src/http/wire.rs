//! Bodies on the wire: protobuf or proto3 JSON chosen by `Content-Type` and `Accept`, bounded
//! request bodies, and the one error type every handler answers with.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use shared::PROTOBUF;
use shared::proto::{Error as ErrorBody, ImportRowError, OrderRejection};

pub type Resp = Response<Full<Bytes>>;

/// The body format of a request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Protobuf,
    Json,
}

fn is_protobuf(value: &str) -> bool {
    // Compared without a lower-case copy: every read asks this of its Accept header.
    let v = value.trim().as_bytes();
    let starts = |prefix: &str| {
        v.len() >= prefix.len() && v[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    starts(PROTOBUF) || starts("application/protobuf") || starts("application/vnd.google.protobuf")
}

impl Format {
    /// The response format: protobuf when the client accepts it, JSON otherwise (curl's default).
    pub fn accepted(headers: &HeaderMap) -> Format {
        let protobuf = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(is_protobuf);
        if protobuf {
            Format::Protobuf
        } else {
            Format::Json
        }
    }

    /// The request body's format from `Content-Type`; JSON when absent.
    pub fn of_body(headers: &HeaderMap) -> Result<Format, ApiError> {
        match headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or(""))
        {
            None => Ok(Format::Json),
            Some(v) if is_protobuf(v) => Ok(Format::Protobuf),
            Some(v)
                if v.trim()
                    .to_ascii_lowercase()
                    .starts_with("application/json") =>
            {
                Ok(Format::Json)
            }
            Some(v) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!(
                    "Content-Type {v:?} is not supported; send application/json or {PROTOBUF}{}",
                    if v.starts_with("application/x-www-form-urlencoded") {
                        " (with curl: --json '{...}')"
                    } else {
                        ""
                    }
                ),
            )),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => PROTOBUF,
            Format::Json => "application/json",
        }
    }
}

/// An answer other than success: status, a stable code and a sentence for a person.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Boxed: most errors carry none, and a rejection names every changed line.
    pub rejection: Option<Box<OrderRejection>>,
    pub retry_after: Option<u32>,
    pub allow: Option<&'static str>,
    /// An uploaded file's bad rows (422 `invalid_rows`).
    pub bad_rows: Vec<ImportRowError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            rejection: None,
            retry_after: None,
            allow: None,
            bad_rows: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        ApiError {
            allow: Some(allow),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("allowed methods: {allow}"),
            )
        }
    }

    /// 503 with a retry hint: the shopper may retry with the same idempotency key.
    pub fn unavailable(message: impl Into<String>, retry_after: u32) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn into_response(self, format: Format) -> Resp {
        let body = ErrorBody {
            code: self.code.to_owned(),
            message: self.message,
            rejection: self.rejection.map(|r| *r),
            retry_after_seconds: self.retry_after.unwrap_or(0),
            bad_rows: self.bad_rows,
        };
        let mut resp = reply(format, self.status, &body);
        let h = resp.headers_mut();
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if let Some(allow) = self.allow {
            h.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"shop-admin\""),
            );
        }
        resp
    }
}

/// Encodes a message in the negotiated format.
/// A body already written in `format` (see `catalog::view`).
pub fn reply_body(format: Format, status: StatusCode, body: Vec<u8>) -> Resp {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, format.content_type())
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(body)))
        .expect("static headers are valid")
}

pub fn reply<M: prost::Message + serde::Serialize>(
    format: Format,
    status: StatusCode,
    msg: &M,
) -> Resp {
    let body = match format {
        Format::Protobuf => msg.encode_to_vec(),
        Format::Json => match serde_json::to_vec(msg) {
            Ok(v) => v,
            Err(e) => {
                return ApiError::internal(format!("encoding JSON: {e}"))
                    .into_response(Format::Protobuf);
            }
        },
    };
    reply_body(format, status, body)
}

/// Largest oversized body still read before answering 413.
const DRAIN_LIMIT: u64 = 1 << 20;

/// Reads a request body of at most `limit` bytes (413 above).
pub async fn read_body(
    body: Incoming,
    headers: &HeaderMap,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, ApiError> {
    // A client that sends its body slowly, or stops, holds a connection: it gets 408 once the
    // deadline passes (nginx's client_body_timeout), and the unread connection is closed.
    match tokio::time::timeout(timeout, read_bounded(body, headers, limit)).await {
        Ok(read) => read,
        Err(_) => Err(body_timed_out(timeout)),
    }
}

/// The 408 of a request body that did not arrive within `timeout`.
pub fn body_timed_out(timeout: std::time::Duration) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!(
            "the request body did not arrive within {} ms",
            timeout.as_millis()
        ),
    )
}

async fn read_bounded(
    body: Incoming,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body exceeds {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        // Read (and drop) a modestly oversized body first: closing a connection with unread
        // data resets it, and the client might never see this answer.
        if declared.is_some_and(|n| n <= DRAIN_LIMIT) {
            let _ = Limited::new(body, DRAIN_LIMIT as usize).collect().await;
        }
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(ApiError::bad_request(format!(
            "reading the request body: {e}"
        ))),
    }
}

/// Decodes a request body as protobuf or proto3 JSON, naming the problem when it does not parse.
pub fn decode<M>(format: Format, body: &[u8]) -> Result<M, ApiError>
where
    M: prost::Message + Default + serde::de::DeserializeOwned,
{
    match format {
        Format::Protobuf => M::decode(body)
            .map_err(|e| ApiError::bad_request(format!("malformed protobuf body: {e}"))),
        Format::Json => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Err(ApiError::bad_request("a JSON body is required"));
            }
            serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("malformed JSON body: {}", json_problem(body, &e)))
            })
        }
    }
}

/// serde_json's message, except where it says nothing a person can act on: proto3 JSON reads a
/// number as "a number or a string", and a value that is neither in range (`-1` for a count,
/// `"1e99"`) fails as "data did not match any variant of untagged enum". Then the field and the
/// value are named instead.
fn json_problem(body: &[u8], e: &serde_json::Error) -> String {
    let message = e.to_string();
    if !message.contains("untagged enum") {
        return message;
    }
    let named = || {
        // The error is reported just after the value: the text before it ends `"field": value`.
        let lines_before: usize = body
            .split(|&b| b == b'\n')
            .take(e.line().checked_sub(1)?)
            .map(|l| l.len() + 1)
            .sum();
        let end = (lines_before + e.column().saturating_sub(1)).min(body.len());
        let before = std::str::from_utf8(&body[..end]).ok()?;
        let (key, value) = before.rsplit_once(':')?;
        let key = key.trim_end().strip_suffix('"')?;
        let key = &key[key.rfind('"')? + 1..];
        let value: String = value.trim().chars().take(40).collect();
        Some(format!(
            "{key:?} must be a whole number in the field's range, got {value} (line {}, column {})",
            e.line(),
            e.column()
        ))
    };
    named().unwrap_or_else(|| {
        format!(
            "a number that is negative, too large or not a whole number (line {}, column {})",
            e.line(),
            e.column()
        )
    })
}

impl PartialEq for ApiError {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status && self.code == other.code && self.message == other.message
    }
}

/// A JSON answer that is never cached (probes, errors of plain endpoints).
pub fn json(status: StatusCode, body: &serde_json::Value) -> Resp {
    let mut bytes = body.to_string().into_bytes();
    bytes.push(b'\n');
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(bytes)))
        .expect("static headers")
}

/// A plain-text answer that is never cached.
pub fn text(status: StatusCode, body: impl Into<String>) -> Resp {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(body.into())))
        .expect("static headers")
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::proto::SetCartLine;

    #[test]
    fn negotiates_by_accept_and_content_type() {
        let mut h = HeaderMap::new();
        assert_eq!(Format::accepted(&h), Format::Json);
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html, application/x-protobuf;q=0.9"),
        );
        assert_eq!(Format::accepted(&h), Format::Protobuf);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert_eq!(Format::of_body(&h).unwrap(), Format::Json);
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(
            Format::of_body(&h).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }

    #[test]
    fn decode_names_the_problem() {
        let e = decode::<SetCartLine>(Format::Json, br#"{"quantity": -1}"#).unwrap_err();
        assert!(
            e.message.starts_with("malformed JSON body"),
            "{}",
            e.message
        );
        let e = decode::<SetCartLine>(Format::Json, br#"{"quantity": -1}"#).unwrap_err();
        assert_eq!(
            e.message,
            r#"malformed JSON body: "quantity" must be a whole number in the field's range, got -1 (line 1, column 16)"#
        );
        let e = decode::<SetCartLine>(Format::Json, b"{\n  \"quantity\":\n  -5 }").unwrap_err();
        assert!(
            e.message
                .contains(r#""quantity" must be a whole number in the field's range, got -5"#),
            "{}",
            e.message
        );
        let e = decode::<SetCartLine>(Format::Json, b"").unwrap_err();
        assert_eq!(e.message, "a JSON body is required");
        let e = decode::<SetCartLine>(Format::Protobuf, &[0x08]).unwrap_err();
        assert!(
            e.message.starts_with("malformed protobuf body"),
            "{}",
            e.message
        );
        assert_eq!(
            decode::<SetCartLine>(Format::Json, br#"{"quantity": 3}"#)
                .unwrap()
                .quantity,
            3
        );
    }
}
