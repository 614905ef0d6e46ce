//! The cart cookie: the shopper's cart id, 128 random bits, `HttpOnly`, `SameSite=Lax`, `Path=/`.
//! The id is the only thing that names a cart, so no endpoint takes a cart id from elsewhere.

use http::HeaderMap;
use http::header::{self, HeaderValue};
use shared::ids::CartId;

pub const NAME: &str = "cart";

/// The cart id from the request's cookies: the first well-formed `cart` pair. Read as bytes,
/// because another cookie on the same host may hold non-ASCII text, which must not hide the
/// cart; and a malformed `cart` pair (another path's stale cookie) must not hide a good one.
pub fn read(headers: &HeaderMap) -> Option<CartId> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
        .filter_map(|pair| {
            pair.trim_ascii()
                .strip_prefix(NAME.as_bytes())?
                .strip_prefix(b"=")
        })
        .find_map(|value| std::str::from_utf8(value).ok()?.parse().ok())
}

/// A new cart id from the operating system's random source.
pub fn new_cart_id() -> CartId {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    CartId::from_bytes(bytes)
}

/// The `Set-Cookie` value for a cart id (kept for a year).
pub fn set_cookie(id: CartId, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{NAME}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000{secure}"
    ))
    .expect("hex id makes a valid header")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cart_cookie_among_others() {
        let id = new_cart_id();
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("theme=dark; cart={id}; x=1")).unwrap(),
        );
        assert_eq!(read(&h), Some(id));
        h.insert(header::COOKIE, HeaderValue::from_static("cart=not-a-cart"));
        assert_eq!(read(&h), None);
    }

    /// The `cart_cookie` fuzz target's invariant: a non-ASCII cookie of another app on the same
    /// host hid the cart, and so did a stale malformed `cart` cookie before the good one; either
    /// way the shopper got a new, empty cart on every request.
    #[test]
    fn other_cookies_never_hide_the_cart() {
        let id = new_cart_id();
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_bytes(format!("name=Jos\u{e9}; cart={id}").as_bytes()).unwrap(),
        );
        assert_eq!(read(&h), Some(id));
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("cart=old-format; cart={id}")).unwrap(),
        );
        assert_eq!(read(&h), Some(id));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("xcart=0123456789abcdef0123456789abcdef"),
        );
        assert_eq!(read(&h), None);
    }

    #[test]
    fn cookie_attributes() {
        let v = set_cookie(CartId(1), false);
        let v = v.to_str().unwrap();
        assert!(
            v.starts_with("cart=00000000000000000000000000000001; Path=/; HttpOnly; SameSite=Lax"),
            "{v}"
        );
        assert!(!v.contains("Secure"));
        assert!(
            set_cookie(CartId(1), true)
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
    }

    #[test]
    fn ids_are_random() {
        assert_ne!(new_cart_id(), new_cart_id());
    }
}
