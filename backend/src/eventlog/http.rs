//! `GET /api/admin/events`: the newest entries of both rings that match the filters, newest
//! first, and the contexts' figures.

use http::{Request, StatusCode};
use hyper::body::Incoming;
use shared::proto::{EventLog as EventLogView, LogEntry};

use super::Api;
use super::figures::figures;
use super::socket::now_ms;
use crate::http::params::{Kind, Param};
use crate::http::request::query_params;
use crate::http::wire::{ApiError, Format, Resp, reply};

/// The event log's query parameters.
pub const EVENTS_QUERY: &[Param] = &[
    Param {
        name: "context",
        about: "Only this context's events.",
        kind: Kind::OneOf(&["catalog", "checkout"]),
    },
    Param {
        name: "kind",
        about: "Only events of this kind (`stock_delivered`, `cart_line_set`, ..., `poison`).",
        kind: Kind::Text(64),
    },
    Param {
        name: "product_id",
        about: "Only events concerning this product.",
        kind: Kind::Integer(1, u64::MAX),
    },
    Param {
        name: "cart",
        about: "Only events of this cart, by the short hash the log shows (a prefix of it is enough).",
        kind: Kind::Text(64),
    },
    Param {
        name: "limit",
        about: "Entries at most (default 100; each context keeps EVENT_LOG_SIZE).",
        kind: Kind::Integer(1, 10_000),
    },
];

/// What entries a reader asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub context: Option<String>,
    pub kind: Option<String>,
    pub product_id: Option<u64>,
    /// A prefix of a cart's short hash.
    pub cart: Option<String>,
}

impl Filter {
    pub fn matches(&self, e: &LogEntry) -> bool {
        self.context.as_ref().is_none_or(|c| *c == e.context)
            && self.kind.as_ref().is_none_or(|k| *k == e.kind)
            && self.product_id.is_none_or(|p| e.product_ids.contains(&p))
            && self
                .cart
                .as_ref()
                .is_none_or(|c| !e.cart.is_empty() && e.cart.starts_with(c.as_str()))
    }
}

const DEFAULT_LIMIT: usize = 100;

/// The query, checked: the filter and how many entries at most.
pub fn parse(pairs: Vec<(String, String)>) -> Result<(Filter, usize), ApiError> {
    let mut f = Filter::default();
    let mut limit = DEFAULT_LIMIT;
    for (k, v) in pairs {
        match k.as_str() {
            "context" if v == "catalog" || v == "checkout" => f.context = Some(v),
            "context" => {
                return Err(ApiError::bad_request(format!(
                    "context must be catalog or checkout, got {v:?}"
                )));
            }
            "kind" if !v.is_empty() && v.len() <= 64 => f.kind = Some(v),
            "kind" => return Err(ApiError::bad_request("kind must be 1 to 64 characters")),
            "product_id" => f.product_id = Some(crate::http::request::product_id(&v)?),
            "cart"
                if !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                f.cart = Some(v.to_ascii_lowercase())
            }
            "cart" => {
                return Err(ApiError::bad_request(
                    "cart must be the short hash the log shows (hex digits), or its start",
                ));
            }
            "limit" => {
                limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "limit must be a whole number from 1 to 10000, got {v:?}"
                        ))
                    })?
            }
            _ => {}
        }
    }
    Ok((f, limit))
}

pub fn read(cx: &Api<'_>, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let (filter, limit) = parse(query_params(req, EVENTS_QUERY)?)?;
    let log = &cx.events;
    let entries = log
        .newest(|e| filter.matches(e), limit, log.size)
        .iter()
        .map(|r| r.entry())
        .collect();
    let view = EventLogView {
        entries,
        contexts: figures(cx.metrics.registry(), &cx.topics),
        at_ms: now_ms(),
        ring_size: log.size as u32,
    };
    Ok(reply(
        Format::accepted(req.headers()),
        StatusCode::OK,
        &view,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<(Filter, usize), ApiError> {
        parse(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn filters_read_and_match() {
        let (f, limit) = q(&[("context", "checkout"), ("cart", "AB12"), ("limit", "5")]).unwrap();
        assert_eq!(limit, 5);
        let mut e = LogEntry {
            context: "checkout".into(),
            cart: "ab12cd34ef".into(),
            kind: "cart_line_set".into(),
            product_ids: vec![7],
            ..Default::default()
        };
        assert!(f.matches(&e));
        e.cart = "ff12cd34ef".into();
        assert!(!f.matches(&e));
        let (f, _) = q(&[("product_id", "7"), ("kind", "cart_line_set")]).unwrap();
        e.context = "catalog".into();
        assert!(f.matches(&e));
        e.product_ids = vec![8];
        assert!(!f.matches(&e));
        assert!(q(&[("context", "orders")]).is_err());
        assert!(q(&[("cart", "not-hex")]).is_err());
        assert!(q(&[("limit", "0")]).is_err());
        assert!(q(&[("product_id", "-1")]).is_err());
    }
}
