//! Which browser origins may use the shop: its own (the `Host` the request came to) and those
//! named in `ALLOWED_ORIGINS`. The live socket refuses any other `Origin` (a websocket is not
//! bound by the same-origin policy, and it carries the cart cookie: another site could read a
//! shopper's cart and orders through it, as Gorilla's and Spring's origin checks prevent); the
//! API answers CORS, credentials included, for the listed origins only.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};

use super::wire::{ApiError, Resp};

/// Methods and headers a cross-origin caller of the API may use.
const ALLOW_METHODS: &str = "GET, PUT, POST, DELETE";
const ALLOW_HEADERS: &str = "Content-Type, Accept, Idempotency-Key, Authorization, traceparent";
const EXPOSE_HEADERS: &str = "Retry-After, Allow";

/// The request's `Origin`, if it sent one (browsers always do on a websocket and on a
/// cross-origin fetch; `null` from a sandboxed page counts as foreign).
fn origin(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("null"))
}

/// Whether `origin` is the shop's own: the same host and port as the request's `Host` (the
/// scheme is not compared: behind a TLS proxy the shop sees plain HTTP).
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

fn listed(origin: &str, allowed: &[String]) -> bool {
    allowed
        .iter()
        .any(|a| !a.is_empty() && a.eq_ignore_ascii_case(origin))
}

/// The live socket's check: no `Origin` (not a browser), the shop's own, or a listed one.
pub fn check_socket(headers: &HeaderMap, allowed: &[String]) -> Result<(), ApiError> {
    match origin(headers) {
        None => Ok(()),
        Some(o) if same_origin(o, headers) || listed(o, allowed) => Ok(()),
        Some(o) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_forbidden",
            format!("pages from {o} may not open the live socket (add it to ALLOWED_ORIGINS)"),
        )),
    }
}

/// A CORS preflight (`OPTIONS` with `Access-Control-Request-Method`) for the API, answered
/// here; None for any other request.
pub fn preflight<B>(req: &Request<B>, allowed: &[String]) -> Option<Resp> {
    let headers = req.headers();
    if req.method() != Method::OPTIONS
        || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return None;
    }
    let resp = match origin(headers) {
        Some(o) if listed(o, allowed) => {
            let mut r = Response::new(http_body_util::Full::new(bytes::Bytes::new()));
            *r.status_mut() = StatusCode::NO_CONTENT;
            allow(r.headers_mut(), o);
            let h = r.headers_mut();
            h.append(header::VARY, HeaderValue::from_static("Origin"));
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOW_METHODS));
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS));
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
            r
        }
        other => ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_forbidden",
            format!(
                "cross-origin requests from {} are not allowed (ALLOWED_ORIGINS lists those that are)",
                other.unwrap_or("a page without an Origin")
            ),
        )
        .into_response(super::wire::Format::Json),
    };
    Some(resp)
}

/// Adds the CORS headers to an API answer when the request's `Origin` is a listed one.
pub fn answer_cors(request_origin: Option<&HeaderValue>, resp: &mut Resp, allowed: &[String]) {
    if allowed.iter().all(String::is_empty) {
        return;
    }
    // The answer depends on the Origin once any is allowed: caches must keep them apart.
    resp.headers_mut()
        .append(header::VARY, HeaderValue::from_static("Origin"));
    let o = request_origin.and_then(|v| v.to_str().ok());
    if let Some(o) = o.filter(|o| listed(o, allowed)) {
        allow(resp.headers_mut(), o);
        resp.headers_mut().insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
}

fn allow(h: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_socket_takes_its_own_origin_listed_ones_and_non_browsers_only() {
        let allowed = vec!["https://shop.example".to_owned()];
        let ok = |h: &[(&'static str, &'static str)]| check_socket(&headers(h), &allowed).is_ok();
        assert!(
            ok(&[("host", "127.0.0.1:8080")]),
            "no Origin: not a browser"
        );
        assert!(ok(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ]));
        assert!(ok(&[
            ("host", "Shop.Example:443"),
            ("origin", "https://shop.example:443")
        ]));
        assert!(ok(&[
            ("host", "api.example"),
            ("origin", "https://SHOP.example")
        ]));
        assert!(!ok(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example")
        ]));
        assert!(
            !ok(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8081")
            ]),
            "another port"
        );
        assert!(!ok(&[("host", "127.0.0.1:8080"), ("origin", "null")]));
        assert!(
            !ok(&[("origin", "http://127.0.0.1:8080")]),
            "no Host to compare with"
        );
    }

    #[test]
    fn preflights_are_answered_for_listed_origins_only() {
        let allowed = vec!["https://shop.example".to_owned()];
        let req = |origin: &'static str| {
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/api/orders")
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "idempotency-key, content-type",
                )
                .body(())
                .unwrap()
        };
        let r = preflight(&req("https://shop.example"), &allowed).unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], "https://shop.example");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert!(
            h["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("Idempotency-Key")
        );
        assert!(
            h["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("Content-Type")
        );
        assert_eq!(
            preflight(&req("https://evil.example"), &allowed)
                .unwrap()
                .status(),
            StatusCode::FORBIDDEN
        );
        let get = Request::builder().uri("/api/cart").body(()).unwrap();
        assert!(preflight(&get, &allowed).is_none());
    }
}
