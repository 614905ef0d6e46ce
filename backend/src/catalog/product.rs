//! A product as the catalog keeps it: one buffer holding its view as it goes on the wire (the
//! protobuf `ProductView` without the availability, which checkout owns) followed by its name
//! key, plus the few numbers every index reads.
//!
//! Why one buffer: a product used to be eleven allocations (each text a `String`, a lower-case
//! copy of the title and of title + description), 1,026 bytes a product against 381 bytes of
//! fields. Now its texts are slices of the bytes a protobuf read sends anyway, so a product
//! view is a copy of those bytes plus the availability, a JSON view a walk over them (with no
//! escaping to do for texts that need none, which is known once, here), and a snapshot stores
//! and loads the buffer as it is.
//!
//! The buffer is built only by [`Product::new`] and checked by [`Product::from_parts`] (a
//! snapshot load), so every read of it may assume its layout.

use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};

use shared::ids::category_slug;

use super::search::{self, index::Searchable};

/// One product; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: u64,
    pub price_minor: i64,
    pub disabled: bool,
    /// The texts that JSON must escape, by bit: [`TITLE`] … (none, for almost every product).
    escapes: u16,
    /// `buf[..wire_end]` is the protobuf view; the rest the name key.
    wire_end: u32,
    buf: Box<[u8]>,
}

// ProductView's field numbers (`proto/api.proto`); Money's are 1 (minor) and 2 (currency).
const ID: u32 = 1;
const TITLE: u32 = 2;
const DESCRIPTION: u32 = 3;
const LONG_TEXT: u32 = 4;
const CATEGORY: u32 = 5;
const CATEGORY_SLUG: u32 = 6;
const PRICE: u32 = 7;
const IMAGE_URLS: u32 = 8;
/// The availability's field number, written per read after the stored part.
pub const AVAILABILITY: u32 = 9;
/// Escape bits beyond the view's field numbers: the currency and the image URLs.
pub const CURRENCY_BIT: u32 = 10;
pub const IMAGES_BIT: u32 = 11;

/// Why stored bytes are not a product (a snapshot that passed its checksum by chance, or a bug).
#[derive(Debug, thiserror::Error)]
#[error("product {id}: {why}")]
pub struct BadProduct {
    pub id: u64,
    pub why: String,
}

/// The texts of a product, as an event or a snapshot gives them.
#[derive(Debug, Clone, Copy)]
pub struct Texts<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub long_text: &'a str,
    pub category: &'a str,
    pub currency: &'a str,
    pub image_urls: &'a [String],
}

impl Product {
    pub fn new(id: u64, price_minor: i64, t: Texts<'_>) -> Product {
        let slug = category_slug(t.category);
        let name_key = t.title.to_lowercase();
        let mut buf = Vec::with_capacity(
            64 + t.title.len()
                + t.description.len()
                + t.long_text.len()
                + t.category.len()
                + slug.len()
                + t.currency.len()
                + t.image_urls.iter().map(|u| u.len() + 4).sum::<usize>()
                + name_key.len(),
        );
        let mut escapes = 0u16;
        // As prost writes a message: fields in number order, defaults (0, "") left out, except
        // the price (always set) and each image URL (repeated: even an empty one is written).
        if id != 0 {
            encode_key(ID, WireType::Varint, &mut buf);
            encode_varint(id, &mut buf);
        }
        for (field, text) in [
            (TITLE, t.title),
            (DESCRIPTION, t.description),
            (LONG_TEXT, t.long_text),
            (CATEGORY, t.category),
            (CATEGORY_SLUG, slug.as_str()),
        ] {
            if !text.is_empty() {
                string(field, text, &mut buf);
                escapes |= needs_escape(text) << field;
            }
        }
        let money_len = if price_minor != 0 {
            1 + encoded_len_varint(price_minor as u64)
        } else {
            0
        } + if t.currency.is_empty() {
            0
        } else {
            1 + encoded_len_varint(t.currency.len() as u64) + t.currency.len()
        };
        encode_key(PRICE, WireType::LengthDelimited, &mut buf);
        encode_varint(money_len as u64, &mut buf);
        if price_minor != 0 {
            encode_key(1, WireType::Varint, &mut buf);
            encode_varint(price_minor as u64, &mut buf);
        }
        if !t.currency.is_empty() {
            string(2, t.currency, &mut buf);
            escapes |= needs_escape(t.currency) << CURRENCY_BIT;
        }
        for url in t.image_urls {
            string(IMAGE_URLS, url, &mut buf);
            escapes |= needs_escape(url) << IMAGES_BIT;
        }
        let wire_end = buf.len() as u32;
        buf.extend_from_slice(name_key.as_bytes());
        Product {
            id,
            price_minor,
            disabled: false,
            escapes,
            wire_end,
            buf: buf.into_boxed_slice(),
        }
    }

    /// The same product at another price.
    pub fn with_price(&self, price_minor: i64) -> Product {
        let urls: Vec<String> = self.image_urls().map(str::to_owned).collect();
        Product {
            disabled: self.disabled,
            ..Product::new(self.id, price_minor, self.texts(&urls))
        }
    }

    /// The texts, with `urls` holding the image URLs (for building a changed copy).
    pub fn texts<'a>(&'a self, urls: &'a [String]) -> Texts<'a> {
        Texts {
            title: self.title(),
            description: self.description(),
            long_text: self.long_text(),
            category: self.category(),
            currency: self.currency(),
            image_urls: urls,
        }
    }

    pub fn title(&self) -> &str {
        self.text(TITLE)
    }
    pub fn description(&self) -> &str {
        self.text(DESCRIPTION)
    }
    pub fn long_text(&self) -> &str {
        self.text(LONG_TEXT)
    }
    pub fn category(&self) -> &str {
        self.text(CATEGORY)
    }
    pub fn category_slug(&self) -> &str {
        self.text(CATEGORY_SLUG)
    }
    pub fn currency(&self) -> &str {
        match self.money_fields().find(|(f, _)| *f == 2) {
            Some((_, Value::Bytes(b))) => as_str(b),
            _ => "",
        }
    }
    pub fn image_urls(&self) -> impl Iterator<Item = &str> {
        self.wire().filter_map(|(f, v)| match v {
            Value::Bytes(b) if f == IMAGE_URLS => Some(as_str(b)),
            _ => None,
        })
    }
    /// The lower-case title: what the name order sorts by and a title prefix matches.
    pub fn name_key(&self) -> &str {
        as_str(&self.buf[self.wire_end as usize..])
    }

    /// The protobuf `ProductView` of this product without its availability (which, field 9,
    /// comes last: appended, it makes the whole view).
    pub fn wire(&self) -> Fields<'_> {
        Fields {
            rest: &self.buf[..self.wire_end as usize],
        }
    }

    pub fn wire_bytes(&self) -> &[u8] {
        &self.buf[..self.wire_end as usize]
    }

    /// Whether JSON must escape the text of this field (a view field number, or the currency's
    /// and the image URLs' bits).
    pub(super) fn escapes(&self, bit: u32) -> bool {
        self.escapes & (1 << bit) != 0
    }

    fn text(&self, field: u32) -> &str {
        match self.wire().find(|(f, _)| *f == field) {
            Some((_, Value::Bytes(b))) => as_str(b),
            _ => "",
        }
    }

    fn money_fields(&self) -> Fields<'_> {
        match self.wire().find(|(f, _)| *f == PRICE) {
            Some((_, Value::Bytes(b))) => Fields { rest: b },
            _ => Fields { rest: &[] },
        }
    }

    /// Heap bytes of this product (its buffer), for the memory figures.
    pub fn heap_bytes(&self) -> usize {
        self.buf.len()
    }

    /// What a snapshot stores: the buffer and where its view ends.
    pub fn parts(&self) -> (&[u8], u32) {
        (&self.buf, self.wire_end)
    }

    /// A product from a snapshot's parts, checked: the view must parse as the layout
    /// [`Product::new`] writes, with the same id and price, and every text must be UTF-8.
    pub fn from_parts(
        id: u64,
        price_minor: i64,
        disabled: bool,
        buf: &[u8],
        wire_end: u32,
    ) -> Result<Product, BadProduct> {
        let bad = |why: String| Err(BadProduct { id, why });
        if wire_end as usize > buf.len() {
            return bad(format!("view end {wire_end} past {} bytes", buf.len()));
        }
        let (wire, key) = buf.split_at(wire_end as usize);
        if std::str::from_utf8(key).is_err() {
            return bad("name key is not UTF-8".into());
        }
        let mut last = 0;
        let mut fields = Fields { rest: wire };
        let mut seen_price = false;
        let mut escapes = 0u16;
        let mut text = |b: &[u8], bit: u32| match std::str::from_utf8(b) {
            Ok(s) => {
                escapes |= needs_escape(s) << bit;
                true
            }
            Err(_) => false,
        };
        while !fields.rest.is_empty() {
            let Some((field, value)) = fields.try_next() else {
                return bad("view does not parse".into());
            };
            if field < last || (field == last && field != IMAGE_URLS) {
                return bad(format!("field {field} after {last}"));
            }
            last = field;
            match (field, value) {
                (ID, Value::Varint(v)) if v == id => {}
                (TITLE..=CATEGORY_SLUG | IMAGE_URLS, Value::Bytes(b)) => {
                    let bit = if field == IMAGE_URLS {
                        IMAGES_BIT
                    } else {
                        field
                    };
                    if !text(b, bit) {
                        return bad(format!("field {field} is not UTF-8"));
                    }
                }
                (PRICE, Value::Bytes(b)) => {
                    seen_price = true;
                    let mut money = Fields { rest: b };
                    let mut minor = 0i64;
                    while !money.rest.is_empty() {
                        match money.try_next() {
                            Some((1, Value::Varint(v))) => minor = v as i64,
                            Some((2, Value::Bytes(c))) if text(c, CURRENCY_BIT) => {}
                            _ => return bad("price does not parse".into()),
                        }
                    }
                    if minor != price_minor {
                        return bad(format!("price {minor}, not {price_minor}"));
                    }
                }
                (f, _) => return bad(format!("unexpected field {f}")),
            }
        }
        if !seen_price || (id != 0 && last == 0) {
            return bad("view without its price or id".into());
        }
        Ok(Product {
            id,
            price_minor,
            disabled,
            escapes,
            wire_end,
            buf: buf.into(),
        })
    }
}

impl Searchable for Product {
    fn id(&self) -> u64 {
        self.id
    }

    /// One walk over the buffer for all four.
    fn fields(&self) -> [&str; search::index::FIELDS] {
        let mut out = [""; search::index::FIELDS];
        for (f, v) in self.wire() {
            let slot = match f {
                TITLE => search::index::TITLE,
                CATEGORY => search::index::CATEGORY,
                DESCRIPTION => search::index::DESCRIPTION,
                LONG_TEXT => search::index::LONG_TEXT,
                _ => continue,
            };
            if let Value::Bytes(b) = v {
                out[slot] = as_str(b);
            }
        }
        out
    }

    fn category_slug(&self) -> &str {
        Product::category_slug(self)
    }

    fn price_minor(&self) -> i64 {
        self.price_minor
    }
}

/// One field of a protobuf message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// The fields of a message the catalog wrote, in order.
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    /// The fields of a message inside a stored view (the price).
    pub fn of(bytes: &'a [u8]) -> Fields<'a> {
        Fields { rest: bytes }
    }

    fn try_next(&mut self) -> Option<(u32, Value<'a>)> {
        let key = varint(&mut self.rest)?;
        let field = u32::try_from(key >> 3).ok()?;
        match key & 7 {
            0 => Some((field, Value::Varint(varint(&mut self.rest)?))),
            2 => {
                let n = usize::try_from(varint(&mut self.rest)?).ok()?;
                if n > self.rest.len() {
                    return None;
                }
                let (b, rest) = self.rest.split_at(n);
                self.rest = rest;
                Some((field, Value::Bytes(b)))
            }
            _ => None,
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u32, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        // The stored view was checked when it was made: a parse failure cannot happen here.
        self.try_next()
    }
}

fn varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

fn string(field: u32, s: &str, buf: &mut Vec<u8>) {
    encode_key(field, WireType::LengthDelimited, buf);
    encode_varint(s.len() as u64, buf);
    buf.extend_from_slice(s.as_bytes());
}

/// 1 when JSON writes `s` other than as its bytes between quotes (serde_json escapes `"`, `\`
/// and control characters, nothing else). Eight bytes at a time: a snapshot load checks every
/// text of every product, and a byte loop made that most of a million-product load.
fn needs_escape(s: &str) -> u16 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `x` below `n` (n <= 128) sets that byte's high bit; exact for "any byte".
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    let zero = |x: u64| below(x, 1);
    let mut words = s.as_bytes().chunks_exact(8);
    for w in &mut words {
        let x = u64::from_le_bytes(w.try_into().expect("eight bytes"));
        if below(x, 0x20) | zero(x ^ (ONES * u64::from(b'"'))) | zero(x ^ (ONES * u64::from(b'\\')))
            != 0
        {
            return 1;
        }
    }
    u16::from(
        words
            .remainder()
            .iter()
            .any(|&b| b < 0x20 || b == b'"' || b == b'\\'),
    )
}

fn as_str(b: &[u8]) -> &str {
    // SAFETY: every text in a product's buffer was a `&str` when `Product::new` wrote it, or was
    // checked to be UTF-8 by `Product::from_parts`, the only other way a buffer is made; the
    // field walk yields exactly those texts' bytes.
    unsafe { std::str::from_utf8_unchecked(b) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use prost::Message;
    use shared::proto::ProductView;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[a-zA-Z ]{1,12}",
            any::<String>(),
            "[\"\\\\\n\t\u{1}éß€ a-z]{0,8}",
        ]
    }

    prop_compose! {
        pub fn product()(
            id in 0u64..u64::MAX,
            price in prop_oneof![Just(0i64), any::<i64>(), 1i64..1_000_000],
            title in text(), description in text(), long_text in text(), category in text(),
            currency in prop_oneof![Just(String::new()), Just("EUR".to_owned()), text()],
            urls in prop::collection::vec(text(), 0..3),
        ) -> (u64, i64, [String; 5], Vec<String>) {
            (id, price, [title, description, long_text, category, currency], urls)
        }
    }

    fn make((id, price, t, urls): &(u64, i64, [String; 5], Vec<String>)) -> Product {
        Product::new(
            *id,
            *price,
            Texts {
                title: &t[0],
                description: &t[1],
                long_text: &t[2],
                category: &t[3],
                currency: &t[4],
                image_urls: urls,
            },
        )
    }

    proptest! {
        #[test]
        fn escapes_are_found_eight_bytes_at_a_time(s in any::<String>(), t in "[ -~\u{80}-\u{7ff}]{0,40}") {
            for text in [s, t] {
                let slow = text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
                prop_assert_eq!(needs_escape(&text) == 1, slow, "{:?}", text);
            }
        }

        #[test]
        fn the_buffer_is_prosts_view_and_gives_back_every_text(input in product()) {
            let p = make(&input);
            let (id, price, t, urls) = &input;
            let view = ProductView {
                id: *id,
                title: t[0].clone(),
                description: t[1].clone(),
                long_text: t[2].clone(),
                category: t[3].clone(),
                category_slug: category_slug(&t[3]),
                price: Some(shared::proto::Money { minor: *price, currency: t[4].clone() }),
                image_urls: urls.clone(),
                availability: None,
            };
            prop_assert_eq!(p.wire_bytes().to_vec(), view.encode_to_vec());
            prop_assert_eq!(
                (p.title(), p.description(), p.long_text(), p.category(), p.currency()),
                (&*t[0], &*t[1], &*t[2], &*t[3], &*t[4])
            );
            prop_assert_eq!(p.category_slug(), category_slug(&t[3]));
            prop_assert_eq!(p.image_urls().collect::<Vec<_>>(), urls.iter().map(String::as_str).collect::<Vec<_>>());
            prop_assert_eq!(p.name_key(), t[0].to_lowercase());
            let (buf, end) = p.parts();
            let back = Product::from_parts(p.id, p.price_minor, true, buf, end).unwrap();
            prop_assert_eq!(&back, &Product { disabled: true, ..p.clone() });
            let repriced = ProductView {
                price: Some(shared::proto::Money { minor: 7, currency: t[4].clone() }),
                ..view
            };
            prop_assert_eq!(p.with_price(7).wire_bytes().to_vec(), repriced.encode_to_vec());
        }

        #[test]
        fn damaged_parts_are_refused_or_still_a_product(input in product(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let p = make(&input);
            let (buf, end) = p.parts();
            let mut buf = buf.to_vec();
            if !buf.is_empty() {
                let i = at.index(buf.len());
                buf[i] = byte;
            }
            if let Ok(q) = Product::from_parts(p.id, p.price_minor, false, &buf, end) {
                // Whatever is accepted reads back without a panic, texts included.
                let _ = (q.title().len(), q.currency().len(), q.image_urls().count(), q.name_key().len());
            }
        }
    }
}
