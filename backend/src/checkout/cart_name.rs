//! How the checkout log names a cart. A name opens nothing: a new cart's name is a keyed hash of
//! the secret in its shopper's cookie (made by [`crate::http::cookie`], the only place that
//! holds the key), and a cart written before names existed, whose events carry the old cookie
//! itself in `cart_id`, is kept under a plain hash of that id (its legacy name). The model,
//! its snapshots and every reader of the log know carts by these names only.

use sha2::{Digest, Sha256};
use shared::ids::CartId;
use shared::proto::{CheckoutEvent, checkout_event::Event};

/// The name a cart written before names existed is kept under: SHA-256 of its old id, cut to
/// 128 bits. Unkeyed (every replica and tool folds the old events alike) and harmless: a name
/// does not open a cart, and its old id is already in those events.
pub fn legacy_name(old_id: CartId) -> CartId {
    let digest = Sha256::new()
        .chain_update(b"shop/cart/legacy-name/v1\0")
        .chain_update(old_id.0.to_le_bytes())
        .finalize();
    CartId::from_bytes(digest[..16].try_into().expect("32 bytes"))
}

/// The cart an event's fields name: its `cart_name`, or for an event written before names, the
/// legacy name of its `cart_id`. None when neither is well-formed.
pub fn named(cart_name: &str, cart_id: &str) -> Option<CartId> {
    if cart_name.is_empty() {
        cart_id.parse().ok().map(legacy_name)
    } else {
        cart_name.parse().ok()
    }
}

/// The cart a checkout event acts on (for a re-keying: the cart's new name).
pub fn of_event(event: &CheckoutEvent) -> Option<CartId> {
    match event.event.as_ref()? {
        Event::CartLineSetV1(e) => named(&e.cart_name, &e.cart_id),
        Event::OrderRequestedV1(e) => named(&e.cart_name, &e.cart_id),
        Event::OrderRequestedV2(e) => named(&e.cart_name, &e.cart_id),
        Event::CartRekeyedV1(e) => e.cart_name.parse().ok(),
        Event::CatalogFactV1(_) | Event::StockDeliveredV1(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_wins_over_an_old_id_and_old_ids_are_hashed() {
        let old = CartId(7);
        assert_eq!(named("", &old.to_string()), Some(legacy_name(old)));
        assert_ne!(legacy_name(old), old);
        assert_eq!(
            named(&CartId(9).to_string(), &old.to_string()),
            Some(CartId(9))
        );
        assert_eq!(named("", ""), None);
        assert_eq!(named("not-hex", ""), None);
        // Fixed for ever: the fold of every log already written depends on it.
        assert_eq!(
            legacy_name("0000000000000000000000000000000a".parse().unwrap()).to_string(),
            "7948deb8508320c20779d46653d56391"
        );
    }
}
