//! The cart cookie: `HttpOnly`, `SameSite=Lax`, `Path=/`, and only ever issued by the server.
//!
//! Its value is 16 random bytes (the shopper's secret) and a 16-byte HMAC-SHA256 tag of them,
//! as 64 hex digits: a replica checks a cookie by its key alone, whatever its model holds, so
//! every replica agrees and one that has not applied a cart yet still accepts its cookie. A
//! made-up, altered or malformed value is no cookie at all. The cart is named in the log and
//! the model by another keyed hash of the secret ([`CartKeys::open`]), which cannot be turned
//! back into the cookie: reading the log opens no cart.
//!
//! Cookies issued before this scheme are 32 hex digits (the cart id in clear, which old events
//! also carry); [`read`] reports them as [`CartCookie::Legacy`] and the checkout decides what
//! they still open. The three keys are derived from one secret, `CART_KEY`.

use hmac::{Hmac, Mac};
use http::HeaderMap;
use http::header::{self, HeaderValue};
use sha2::Sha256;
use shared::ids::CartId;

pub use crate::config::DEV_CART_KEY;

pub const NAME: &str = "cart";

type HmacSha256 = Hmac<Sha256>;

/// The cookie, name and re-keying keys, each an HMAC-SHA256 of the one `CART_KEY` under its own
/// label, kept keyed so each use costs one hash.
#[derive(Clone)]
pub struct CartKeys {
    name: HmacSha256,
    tag: HmacSha256,
    rekey: HmacSha256,
}

impl std::fmt::Debug for CartKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CartKeys(..)")
    }
}

/// A cookie value the server issues and the name of its cart.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    pub value: String,
    pub name: CartId,
}

impl std::fmt::Debug for Issued {
    // The value is the shopper's credential: never in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Issued(..)")
    }
}

fn keyed(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length")
}

fn mac(key: &HmacSha256, data: &[u8]) -> [u8; 32] {
    key.clone()
        .chain_update(data)
        .finalize()
        .into_bytes()
        .into()
}

fn first_16(bytes: &[u8; 32]) -> [u8; 16] {
    bytes[..16].try_into().expect("32 bytes")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 lower-case hex digits as 32 bytes.
fn unhex(s: &[u8]) -> Option<[u8; 32]> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

impl CartKeys {
    pub fn new(cart_key: &[u8]) -> Self {
        let master = keyed(cart_key);
        let derive = |label: &[u8]| keyed(&mac(&master, label));
        CartKeys {
            name: derive(b"shop/cart/name/v1"),
            tag: derive(b"shop/cart/cookie-tag/v1"),
            rekey: derive(b"shop/cart/rekey/v1"),
        }
    }

    /// The keys of [`DEV_CART_KEY`]: what a shop on loopback without `CART_KEY` uses.
    pub fn development() -> Self {
        Self::new(DEV_CART_KEY.as_bytes())
    }

    fn issued(&self, secret: [u8; 16]) -> Issued {
        let tag = first_16(&mac(&self.tag, &secret));
        Issued {
            value: hex(&[secret, tag].concat()),
            name: CartId::from_bytes(first_16(&mac(&self.name, &secret))),
        }
    }

    /// A new cart's cookie, its secret from the operating system's random source.
    pub fn issue(&self) -> Issued {
        let mut secret = [0u8; 16];
        getrandom::fill(&mut secret).expect("the OS random source is available");
        self.issued(secret)
    }

    /// The cookie a cart of the old cookie `old_id` moves to: the same on every replica and
    /// every time (two requests moving the same cart at once agree), and unknown to anyone
    /// without the key, however well they know the old id.
    pub fn reissue(&self, old_id: CartId) -> Issued {
        self.issued(first_16(&mac(&self.rekey, &old_id.0.to_le_bytes())))
    }

    /// The name of the cart an issued cookie value opens; None for any value the server did not
    /// issue with this key (the tag is compared in constant time).
    pub fn open(&self, value: &[u8]) -> Option<CartId> {
        let bytes = unhex(value)?;
        let (secret, tag) = bytes.split_at(16);
        self.tag
            .clone()
            .chain_update(secret)
            .verify_truncated_left(tag)
            .ok()?;
        Some(CartId::from_bytes(first_16(&mac(&self.name, secret))))
    }
}

/// What a request's `cart` cookie holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartCookie {
    /// A cookie this server issued: the name of its cart.
    Issued(CartId),
    /// A cookie of the old form (32 hex digits, the cart id itself): the checkout decides
    /// whether it still opens a cart.
    Legacy(CartId),
}

/// The request's cart cookie: the first issued `cart` pair, else the first of the old form;
/// anything else (made up, altered, malformed) is no cookie. Read as bytes, because another
/// cookie on the same host may hold non-ASCII text, which must not hide the cart; and a
/// malformed `cart` pair (another path's stale cookie) must not hide a good one.
pub fn read(headers: &HeaderMap, keys: &CartKeys) -> Option<CartCookie> {
    let values = || {
        headers
            .get_all(header::COOKIE)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
            .filter_map(|pair| {
                pair.trim_ascii()
                    .strip_prefix(NAME.as_bytes())?
                    .strip_prefix(b"=")
            })
    };
    values()
        .find_map(|value| keys.open(value).map(CartCookie::Issued))
        .or_else(|| {
            values().find_map(|value| {
                let id = std::str::from_utf8(value).ok()?.parse().ok()?;
                Some(CartCookie::Legacy(id))
            })
        })
}

/// The `Set-Cookie` value for an issued cookie (kept for a year).
pub fn set_cookie(issued: &Issued, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{NAME}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000{secure}",
        issued.value
    ))
    .expect("hex makes a valid header")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_bytes(cookie.as_bytes()).unwrap(),
        );
        h
    }

    #[test]
    fn reads_an_issued_cookie_among_others_as_its_name() {
        let keys = CartKeys::development();
        let c = keys.issue();
        let h = headers(&format!("theme=dark; cart={}; x=1", c.value));
        assert_eq!(read(&h, &keys), Some(CartCookie::Issued(c.name)));
        assert_ne!(
            c.name.to_string(),
            c.value[..32],
            "the name is not the secret"
        );
        assert_eq!(read(&headers("cart=not-a-cart"), &keys), None);
    }

    #[test]
    fn only_cookies_issued_with_the_key_open_a_cart() {
        let keys = CartKeys::development();
        let c = keys.issue();
        // Another key, any changed digit, another length: no cookie.
        assert_eq!(CartKeys::new(b"another key").open(c.value.as_bytes()), None);
        for i in [0, 31, 32, 63] {
            let mut v = c.value.clone().into_bytes();
            v[i] = if v[i] == b'0' { b'1' } else { b'0' };
            assert_eq!(keys.open(&v), None, "digit {i} changed");
        }
        assert_eq!(keys.open(&c.value.as_bytes()[..62]), None);
        assert_eq!(keys.open(c.value.to_uppercase().as_bytes()), None);
        // The cart's name in the log, sent back as a cookie, is an old-form cookie at most.
        let logged = headers(&format!("cart={}", c.name));
        assert_eq!(read(&logged, &keys), Some(CartCookie::Legacy(c.name)));
    }

    /// The `cart_cookie` fuzz target's invariant: a non-ASCII cookie of another app on the same
    /// host hid the cart, and so did a stale malformed `cart` cookie before the good one; either
    /// way the shopper got a new, empty cart on every request.
    #[test]
    fn other_cookies_never_hide_the_cart() {
        let keys = CartKeys::development();
        let c = keys.issue();
        let h = headers(&format!("name=Jos\u{e9}; cart={}", c.value));
        assert_eq!(read(&h, &keys), Some(CartCookie::Issued(c.name)));
        let h = headers(&format!(
            "cart=old-format; cart=0123456789abcdef0123456789abcdef; cart={}",
            c.value
        ));
        assert_eq!(read(&h, &keys), Some(CartCookie::Issued(c.name)));
        let h = headers("cart=x; cart=0123456789abcdef0123456789abcdef");
        assert_eq!(
            read(&h, &keys),
            Some(CartCookie::Legacy(
                "0123456789abcdef0123456789abcdef".parse().unwrap()
            ))
        );
        let h = headers("xcart=0123456789abcdef0123456789abcdef");
        assert_eq!(read(&h, &keys), None);
    }

    #[test]
    fn cookie_attributes() {
        let c = CartKeys::development().issue();
        let v = set_cookie(&c, false);
        let v = v.to_str().unwrap();
        assert!(
            v.starts_with(&format!("cart={}; Path=/; HttpOnly; SameSite=Lax", c.value)),
            "{v}"
        );
        assert!(!v.contains("Secure"));
        assert!(set_cookie(&c, true).to_str().unwrap().ends_with("; Secure"));
        assert_eq!(format!("{c:?}"), "Issued(..)");
    }

    #[test]
    fn cookies_are_random_and_reissues_fixed() {
        let keys = CartKeys::development();
        assert_ne!(keys.issue(), keys.issue());
        let old = CartId(7);
        assert_eq!(keys.reissue(old), keys.reissue(old));
        assert_ne!(keys.reissue(old), keys.reissue(CartId(8)));
        assert_ne!(
            keys.reissue(old).value,
            CartKeys::new(b"another key").reissue(old).value
        );
        let again = keys.reissue(old);
        assert_eq!(keys.open(again.value.as_bytes()), Some(again.name));
    }
}
