//! A command's identity: its `Idempotency-Key` and the fingerprint of its content, and the
//! [`CommandMeta`] an event carries them in. Pure: the import and the demo data use the same
//! rules without a running shop.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use shared::proto::CommandMeta;

use crate::http::wire::ApiError;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 128;

/// The request's `Idempotency-Key`: required on every command.
pub fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(v) = headers.get(IDEMPOTENCY_KEY) else {
        return Err(ApiError::bad_request(
            "the Idempotency-Key header is required on every command (any unique string, e.g. a UUID)",
        ));
    };
    match v.to_str() {
        Ok(k)
            if !k.is_empty()
                && k.len() <= MAX_KEY_LEN
                && k.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(k.to_owned())
        }
        _ => Err(ApiError::bad_request(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
        ))),
    }
}

/// FNV-1a over the command's parts: stable across processes and versions, unlike std's hasher.
pub fn fingerprint(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain((part.len() as u64).to_le_bytes().iter()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The meta of an operator's tool command (import, demo data): its record is kept for ever, so
/// running the same import again never has a second effect.
pub fn meta(key: String, fingerprint: u64) -> CommandMeta {
    retained_meta(key, fingerprint, Duration::ZERO)
}

/// The meta of a request's command: its idempotency record is kept for `retention` of log time.
pub fn retained_meta(key: String, fingerprint: u64, retention: Duration) -> CommandMeta {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    CommandMeta {
        idempotency_key: key,
        fingerprint,
        requested_at_ms: now,
        record_retention_ms: i64::try_from(retention.as_millis()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn keys_are_required_and_bounded() {
        let mut h = HeaderMap::new();
        assert!(
            idempotency_key(&h)
                .unwrap_err()
                .message
                .contains("required")
        );
        h.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("a b"));
        assert!(idempotency_key(&h).is_err());
        h.insert(
            IDEMPOTENCY_KEY,
            HeaderValue::from_str(&"k".repeat(129)).unwrap(),
        );
        assert!(idempotency_key(&h).is_err());
        h.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("3f2a-17"));
        assert_eq!(idempotency_key(&h).unwrap(), "3f2a-17");
    }

    #[test]
    fn fingerprints_separate_parts() {
        assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
        assert_eq!(fingerprint(&[b"x"]), fingerprint(&[b"x"]));
    }
}
