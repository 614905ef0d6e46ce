//! What handlers read from a request: the admin token, the query string, a command's key and
//! body, and ids in the path.

use http::{Request, StatusCode, header};
use hyper::body::Incoming;

use super::wire::{self, ApiError, Format};
use crate::commands::meta::idempotency_key;
use crate::config::BodyLimits;

/// Whether `given` is `token`, in time that depends on neither: both are hashed to 32 bytes
/// first, so neither a prefix nor the length of the token shows in how long a guess takes.
pub fn same_token(given: &str, token: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(token.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Checks the admin bearer token (compared in constant time).
pub fn require_admin(admin_token: Option<&str>, req: &Request<Incoming>) -> Result<(), ApiError> {
    let Some(token) = admin_token.filter(|t| !t.is_empty()) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "the admin API is switched off: start the server with ADMIN_TOKEN set",
        ));
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if same_token(given, token) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "admin commands need Authorization: Bearer <ADMIN_TOKEN>",
        ))
    }
}

/// Something that names a query parameter: its name, or its entry in the route table.
pub trait Named {
    fn name(&self) -> &str;
}

impl Named for &str {
    fn name(&self) -> &str {
        self
    }
}

/// A request's query parameters, refusing any name the endpoint does not know.
pub fn query_params<K: Named>(
    req: &Request<Incoming>,
    known: &[K],
) -> Result<Vec<(String, String)>, ApiError> {
    parse_query(req.uri().query().unwrap_or(""), known)
}

/// A query string's parameters, refusing any name not in `known`.
pub fn parse_query<K: Named>(query: &str, known: &[K]) -> Result<Vec<(String, String)>, ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some((k, _)) = pairs
        .iter()
        .find(|(k, _)| !known.iter().any(|n| n.name() == k))
    {
        let names: Vec<&str> = known.iter().map(Named::name).collect();
        return Err(ApiError::bad_request(if known.is_empty() {
            format!("unknown query parameter {k:?}: this endpoint takes none")
        } else {
            format!("unknown query parameter {k:?}; known: {}", names.join(", "))
        }));
    }
    Ok(pairs)
}

/// A command request read and checked: its idempotency key, decoded body and response format.
pub struct Command<M> {
    pub key: String,
    pub body: M,
    pub format: Format,
    pub headers: http::HeaderMap,
}

/// Reads a command: the Idempotency-Key first (cheap), then the body, bounded in size
/// (`MAX_BODY_BYTES`) and in time (`BODY_TIMEOUT_MS`), decoded.
pub async fn read_command<M>(
    limits: &BodyLimits,
    req: Request<Incoming>,
) -> Result<Command<M>, ApiError>
where
    M: prost::Message + Default + serde::de::DeserializeOwned,
{
    let (parts, body) = req.into_parts();
    let key = idempotency_key(&parts.headers)?;
    let input = Format::of_body(&parts.headers)?;
    let bytes = wire::read_body(body, &parts.headers, limits.max_bytes, limits.timeout).await?;
    let body = wire::decode(input, &bytes)?;
    Ok(Command {
        key,
        body,
        format: Format::accepted(&parts.headers),
        headers: parts.headers,
    })
}

/// The client address of a request's connection (a request extension the server sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// Parses a product id from a path segment.
pub fn product_id(segment: &str) -> Result<u64, ApiError> {
    segment
        .parse::<shared::ids::ProductId>()
        .map(|p| p.0)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}
