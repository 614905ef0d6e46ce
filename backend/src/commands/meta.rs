//! A command's identity: its `Idempotency-Key` and the fingerprint of its content, and the
//! [`CommandMeta`] an event carries them in. Pure: the import and the demo data use the same
//! rules without a running shop.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use shared::proto::CommandMeta;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 128;

/// What is wrong with a request's `Idempotency-Key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    Missing,
    /// Empty, too long, or not visible ASCII.
    Malformed,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Missing => f.write_str(
                "the Idempotency-Key header is required on every command (any unique string, e.g. a UUID)",
            ),
            KeyError::Malformed => write!(
                f,
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// The request's `Idempotency-Key`: required on every command.
pub fn idempotency_key(headers: &HeaderMap) -> Result<String, KeyError> {
    let Some(v) = headers.get(IDEMPOTENCY_KEY) else {
        return Err(KeyError::Missing);
    };
    match v.to_str() {
        Ok(k)
            if !k.is_empty()
                && k.len() <= MAX_KEY_LEN
                && k.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(k.to_owned())
        }
        _ => Err(KeyError::Malformed),
    }
}

/// FNV-1a over the command's parts: stable across processes and versions, unlike std's hasher.
pub fn fingerprint(parts: &[&[u8]]) -> u64 {
    let mut f = Fingerprint::default();
    for part in parts {
        f.update(part);
        f.end_part();
    }
    f.value()
}

/// [`fingerprint`] of one part that arrives in pieces (an uploaded file read as it comes, so a
/// retried upload is recognised without holding it).
#[derive(Debug, Clone, Copy)]
pub struct Fingerprint {
    h: u64,
    len: u64,
}

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint {
            h: 0xcbf2_9ce4_8422_2325,
            len: 0,
        }
    }
}

impl Fingerprint {
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.step(b);
        }
        self.len += bytes.len() as u64;
    }

    /// Ends the part fed so far (its length is hashed after it, so parts stay separate).
    pub fn end_part(&mut self) {
        for b in self.len.to_le_bytes() {
            self.step(b);
        }
        self.len = 0;
    }

    pub fn value(&self) -> u64 {
        self.h
    }

    fn step(&mut self, b: u8) {
        self.h ^= u64::from(b);
        self.h = self.h.wrapping_mul(0x0000_0100_0000_01b3);
    }
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
                .to_string()
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
        // FNV-1a's published value for "a", then the part's length (1) as 8 bytes.
        let mut f = Fingerprint::default();
        f.update(b"a");
        assert_eq!(f.value(), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn a_part_fed_in_pieces_has_the_fingerprint_of_the_whole() {
        let whole = b"product_id,quantity\n1,5\n";
        let mut f = Fingerprint::default();
        for piece in whole.chunks(7) {
            f.update(piece);
        }
        f.end_part();
        assert_eq!(f.value(), fingerprint(&[whole]));
    }
}
