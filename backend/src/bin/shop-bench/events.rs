//! The events the benchmarks produce and fold: products as `shop generate` makes them, and
//! shoppers' cart lines and orders.

use super::*;

/// Product `id` of a seed as `shop generate` produces it.
pub(crate) fn catalog_upsert(seed: u64, id: u64) -> CatalogEvent {
    CatalogEvent {
        event: Some(catalog_event::Event::ProductUpsertedV1(generate::product(
            seed, id,
        ))),
        // As `shop generate` writes them: a bulk load carries no idempotency key.
        meta: None,
    }
}

pub(crate) fn meta(key: String) -> CommandMeta {
    CommandMeta {
        idempotency_key: key,
        fingerprint: 0,
        requested_at_ms: 1_700_000_000_000,
        // What the shop writes by default: records kept 24 h.
        record_retention_ms: 86_400_000,
    }
}

/// Events encoded back to back in one buffer.
pub(crate) struct Encoded {
    pub(crate) buf: Vec<u8>,
    pub(crate) ends: Vec<usize>,
}

impl Encoded {
    pub(crate) fn build<M: prost::Message>(events: impl Iterator<Item = M>) -> Encoded {
        let mut e = Encoded {
            buf: vec![],
            ends: vec![],
        };
        for m in events {
            m.encode(&mut e.buf).expect("a Vec grows");
            e.ends.push(e.buf.len());
        }
        e
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(a, b)| &self.buf[a..b])
    }
}

pub(crate) fn decode_only<M: prost::Message + Default>(events: &Encoded) {
    for bytes in events.iter() {
        std::hint::black_box(M::decode(bytes).expect("encoded here"));
    }
}

/// `lines` cart-line events, four per cart with distinct products, each cart followed by an
/// order of the version those lines produced.
pub(crate) fn shopper_events(products: u64, lines: u64) -> Encoded {
    let carts = lines.div_ceil(4);
    let mut events = Vec::with_capacity((carts * 5) as usize);
    for c in 0..carts {
        let cart = CartId(0xbe4c_0000_0000_0000 + u128::from(c)).to_string();
        let first = (c.wrapping_mul(2_654_435_761)) % products;
        for j in 0..4 {
            events.push(CheckoutEvent {
                event: Some(checkout_event::Event::CartLineSetV1(CartLineSetV1 {
                    cart_name: cart.clone(),
                    product_id: 1 + (first + j) % products,
                    quantity: 1 + ((c + j) % 3) as u32,
                    cart_retention_ms: 30 * 86_400_000,
                    max_lines: 100,
                    ..Default::default()
                })),
                meta: Some(meta(format!("line-{c}-{j}"))),
            });
        }
        events.push(CheckoutEvent {
            event: Some(checkout_event::Event::OrderRequestedV1(OrderRequestedV1 {
                cart_name: cart,
                cart_version: 4,
                ..Default::default()
            })),
            meta: Some(meta(format!("order-{c}"))),
        });
    }
    let e = Encoded::build(events.into_iter());
    debug_assert_eq!(e.len() as u64, carts * 5);
    e
}
