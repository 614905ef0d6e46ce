//! Product views on the wire, written straight from the stored products: a protobuf view is the
//! product's stored bytes followed by its availability, a JSON view one walk over those bytes.
//! No `ProductView` is built and no text is copied but into the response body.
//!
//! The bytes are exactly those prost and pbjson (through serde_json) write for the same
//! `ProductView` and `ProductPage` (the tests below check it over random products): a
//! repeated protobuf field is the concatenation of its elements, a JSON array the join of its
//! objects, and both encoders write fields in number order, so the parts can be written apart.
//!
//! Hot products' JSON is kept per thread ([`HOT_BYTES`] each), keyed by the stored product
//! itself: a product that changes is a new one, so a kept view can never be stale, and a page
//! of hot products is copied, not walked. Why not every product's JSON in the model: at about
//! 590 bytes a product it would take the catalog from 1.6 to 3.2 times its raw fields (goal:
//! 2), for views most of which are never asked for.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};
use shared::proto::{Availability, ProductPage, StockStatus};

use super::product::{AVAILABILITY, CURRENCY_BIT, Fields, IMAGES_BIT, Product, Value};
use crate::http::wire::Format;

/// One product's view (with its availability) as a response body.
pub fn product_body(format: Format, p: &Arc<Product>, availability: &Availability) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.wire_bytes().len() * 3 / 2 + 64);
    match format {
        Format::Protobuf => proto_item(&mut out, p, availability),
        Format::Json => json_item(&mut out, p, availability),
    }
    out
}

/// A page of product views as a response body: `items` with their availability, then the
/// rest of `page` (whose own `items` must be empty).
pub fn page_body(
    format: Format,
    items: &[(&Arc<Product>, Availability)],
    page: &ProductPage,
) -> Vec<u8> {
    debug_assert!(page.items.is_empty());
    let size: usize = items.iter().map(|(p, _)| p.wire_bytes().len()).sum();
    let mut out = Vec::with_capacity(size * 3 / 2 + 256);
    match format {
        Format::Protobuf => {
            for (p, a) in items {
                // The item's length is known before it is written: no copy through a buffer.
                let inner = availability_len(a);
                let len = p.wire_bytes().len() + 1 + encoded_len_varint(inner as u64) + inner;
                encode_key(1, WireType::LengthDelimited, &mut out);
                encode_varint(len as u64, &mut out);
                proto_item(&mut out, p, a);
            }
            page.encode(&mut out).expect("a Vec grows");
        }
        Format::Json => {
            let rest = serde_json::to_vec(page).expect("a page serializes");
            if items.is_empty() {
                return rest;
            }
            out.extend_from_slice(b"{\"items\":[");
            for (i, (p, a)) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_item(&mut out, p, a);
            }
            out.push(b']');
            // `rest` is `{…}`: its fields follow the items, or it closes the object.
            if rest.len() > 2 {
                out.push(b',');
            }
            out.extend_from_slice(&rest[1..]);
        }
    }
    out
}

fn proto_item(out: &mut Vec<u8>, p: &Product, a: &Availability) {
    out.extend_from_slice(p.wire_bytes());
    encode_key(AVAILABILITY, WireType::LengthDelimited, out);
    encode_varint(availability_len(a) as u64, out);
    // As prost writes it: each field left out at its default.
    if a.status != 0 {
        encode_key(1, WireType::Varint, out);
        encode_varint(a.status as u64, out);
    }
    if a.available != 0 {
        encode_key(2, WireType::Varint, out);
        encode_varint(a.available, out);
    }
}

/// The length of an availability's protobuf encoding.
fn availability_len(a: &Availability) -> usize {
    let status = if a.status != 0 {
        1 + encoded_len_varint(a.status as u64)
    } else {
        0
    };
    let available = if a.available != 0 {
        1 + encoded_len_varint(a.available)
    } else {
        0
    };
    status + available
}

/// pbjson's names of `ProductView`'s text fields, by field number.
fn json_name(field: u32) -> &'static [u8] {
    match field {
        2 => b"title",
        3 => b"description",
        4 => b"longText",
        5 => b"category",
        6 => b"categorySlug",
        _ => unreachable!("only text fields are named here"),
    }
}

/// Bytes of hot products' JSON each thread keeps.
pub const HOT_BYTES: usize = 4 << 20;

/// A thread's hot products: their JSON without the availability and the closing brace, by the
/// address of the stored product. The `Weak` keeps that address from being reused by another
/// product while the entry lives (it keeps the allocation, not the product's texts).
#[derive(Default)]
struct Hot {
    views: foldhash::HashMap<usize, (Weak<Product>, Box<[u8]>)>,
    /// Oldest first: the first to go when the thread's budget is spent.
    order: VecDeque<usize>,
    bytes: usize,
}

thread_local! {
    static HOT: RefCell<Hot> = RefCell::default();
}

fn json_item(out: &mut Vec<u8>, p: &Arc<Product>, availability: &Availability) {
    let key = Arc::as_ptr(p) as usize;
    let kept = HOT.with_borrow(|hot| match hot.views.get(&key) {
        Some((_, json)) => {
            out.extend_from_slice(json);
            true
        }
        None => false,
    });
    if !kept {
        let start = out.len();
        json_fields(out, p);
        let json: Box<[u8]> = out[start..].into();
        HOT.with_borrow_mut(|hot| {
            hot.bytes += json.len();
            hot.views.insert(key, (Arc::downgrade(p), json));
            hot.order.push_back(key);
            while hot.bytes > HOT_BYTES
                && let Some(old) = hot.order.pop_front()
            {
                if let Some((_, gone)) = hot.views.remove(&old) {
                    hot.bytes -= gone.len();
                }
            }
        });
    }
    out.extend_from_slice(b",\"availability\":");
    json_availability(out, availability);
    out.push(b'}');
}

/// The product's fields as pbjson writes them: `{` and every field but the availability.
fn json_fields(out: &mut Vec<u8>, p: &Product) {
    out.push(b'{');
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, name: &[u8]| {
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(name);
        out.extend_from_slice(b"\":");
    };
    let mut images = false;
    for (field, value) in p.wire() {
        match (field, value) {
            // pbjson writes 64-bit integers as strings.
            (1, Value::Varint(id)) => {
                key(out, b"id");
                number(out, id);
            }
            (2..=6, Value::Bytes(b)) => {
                key(out, json_name(field));
                string(out, b, p.escapes(field));
            }
            (7, Value::Bytes(money)) => {
                key(out, b"price");
                out.push(b'{');
                let mut money_first = true;
                for (f, v) in Fields::of(money) {
                    if !money_first {
                        out.push(b',');
                    }
                    money_first = false;
                    match (f, v) {
                        (1, Value::Varint(minor)) => {
                            out.extend_from_slice(b"\"minor\":");
                            number(out, minor as i64);
                        }
                        (_, Value::Bytes(c)) => {
                            out.extend_from_slice(b"\"currency\":");
                            string(out, c, p.escapes(CURRENCY_BIT));
                        }
                        _ => unreachable!("a stored price is minor, then currency"),
                    }
                }
                out.push(b'}');
            }
            (8, Value::Bytes(url)) => {
                if !images {
                    key(out, b"imageUrls");
                    out.push(b'[');
                    images = true;
                } else {
                    out.push(b',');
                }
                string(out, url, p.escapes(IMAGES_BIT));
            }
            _ => unreachable!("a stored view holds fields 1 to 8"),
        }
    }
    if images {
        out.push(b']');
    }
}

/// An availability as pbjson writes it: the status by its name, the units as a string, each
/// left out at its default.
fn json_availability(out: &mut Vec<u8>, a: &Availability) {
    let status = match a.status {
        0 => None,
        s => match StockStatus::try_from(s) {
            Ok(status) => Some(status.as_str_name()),
            // Not a status this build knows: what pbjson does with it, whatever that is.
            Err(_) => {
                serde_json::to_writer(&mut *out, a).expect("a Vec grows");
                return;
            }
        },
    };
    out.push(b'{');
    if let Some(name) = status {
        out.extend_from_slice(b"\"status\":\"");
        out.extend_from_slice(name.as_bytes());
        out.push(b'"');
    }
    if a.available != 0 {
        if status.is_some() {
            out.push(b',');
        }
        out.extend_from_slice(b"\"available\":");
        number(out, a.available);
    }
    out.push(b'}');
}

fn number(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.push(b'"');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.push(b'"');
}

fn string(out: &mut Vec<u8>, bytes: &[u8], escapes: bool) {
    if escapes {
        let s = std::str::from_utf8(bytes).expect("stored texts are UTF-8");
        serde_json::to_writer(&mut *out, s).expect("a Vec grows");
    } else {
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::product::Texts;
    use proptest::prelude::*;
    use shared::ids::category_slug;
    use shared::proto::{Money, ProductView, SearchFacts, StockStatus};

    fn view(p: &Product, a: &Availability) -> ProductView {
        ProductView {
            id: p.id,
            title: p.title().into(),
            description: p.description().into(),
            long_text: p.long_text().into(),
            category: p.category().into(),
            category_slug: category_slug(p.category()),
            price: Some(Money {
                minor: p.price_minor,
                currency: p.currency().into(),
            }),
            image_urls: p.image_urls().map(str::to_owned).collect(),
            availability: Some(*a),
        }
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[a-zA-Z ]{1,12}",
            any::<String>(),
            "[\"\\\\\n\t\u{1}\u{7f}éß€/<> a-z]{0,8}",
        ]
    }

    prop_compose! {
        fn product()(
            id in 1u64..u64::MAX,
            price in prop_oneof![Just(0i64), any::<i64>()],
            t in prop::array::uniform5(text()),
            urls in prop::collection::vec(text(), 0..3),
            status in 0i32..4,
            available in prop_oneof![Just(0u64), any::<u64>()],
        ) -> (Arc<Product>, Availability) {
            let p = Product::new(id, price, Texts {
                title: &t[0], description: &t[1], long_text: &t[2], category: &t[3],
                currency: &t[4], image_urls: &urls,
            });
            (Arc::new(p), Availability { status, available })
        }
    }

    proptest! {
        #[test]
        fn a_view_is_what_prost_and_pbjson_write((p, a) in product()) {
            let v = view(&p, &a);
            prop_assert_eq!(product_body(Format::Protobuf, &p, &a), v.encode_to_vec());
            let want = String::from_utf8(serde_json::to_vec(&v).unwrap()).unwrap();
            // Written, then copied from the thread's hot views.
            for _ in 0..2 {
                let json = product_body(Format::Json, &p, &a);
                prop_assert_eq!(String::from_utf8(json).unwrap(), want.clone());
            }
        }

        #[test]
        fn a_page_is_what_prost_and_pbjson_write(
            items in prop::collection::vec(product(), 0..4),
            page in 0u32..3,
            total in prop_oneof![Just(0u64), any::<u64>()],
            searched in any::<bool>(),
        ) {
            let rest = ProductPage {
                items: vec![],
                page,
                page_size: 20,
                total_items: total,
                total_pages: (total % 7) as u32,
                search: searched.then(|| SearchFacts { words_typed: 2, ..Default::default() }),
            };
            let whole = ProductPage {
                items: items.iter().map(|(p, a)| view(p, a)).collect(),
                ..rest.clone()
            };
            let refs: Vec<(&Arc<Product>, Availability)> = items.iter().map(|(p, a)| (p, *a)).collect();
            prop_assert_eq!(page_body(Format::Protobuf, &refs, &rest), whole.encode_to_vec());
            prop_assert_eq!(
                String::from_utf8(page_body(Format::Json, &refs, &rest)).unwrap(),
                String::from_utf8(serde_json::to_vec(&whole).unwrap()).unwrap()
            );
        }
    }

    #[test]
    fn a_changed_product_is_never_answered_from_its_old_view() {
        let a = Availability {
            status: StockStatus::InStock as i32,
            available: 3,
        };
        fn texts(title: &str) -> Texts<'_> {
            Texts {
                title,
                description: "d",
                long_text: "",
                category: "Home",
                currency: "EUR",
                image_urls: &[],
            }
        }
        let mut last = Arc::new(Product::new(7, 100, texts("Lamp 0")));
        for i in 1..200 {
            let _ = product_body(Format::Json, &last, &a);
            // The old product goes (its address free for reuse) before the new one is made.
            drop(last);
            let title = format!("Lamp {i}");
            last = Arc::new(Product::new(7, 100 + i, texts(&title)));
            let body = product_body(Format::Json, &last, &a);
            assert_eq!(body, serde_json::to_vec(&view(&last, &a)).unwrap());
        }
    }

    #[test]
    fn an_empty_page_and_a_default_availability() {
        let rest = ProductPage::default();
        assert_eq!(page_body(Format::Json, &[], &rest), b"{}");
        let p = Arc::new(Product::new(
            5,
            0,
            Texts {
                title: "",
                description: "",
                long_text: "",
                category: "",
                currency: "",
                image_urls: &[],
            },
        ));
        let a = Availability {
            status: StockStatus::OutOfStock as i32,
            available: 0,
        };
        assert_eq!(
            String::from_utf8(product_body(Format::Json, &p, &a)).unwrap(),
            r#"{"id":"5","price":{},"availability":{"status":"OUT_OF_STOCK"}}"#
        );
    }
}
