//! The rules a product must meet, one implementation for the API's upsert and the import (the
//! CLI's and the admin upload's): field lengths, the characters each text field may hold, a
//! category with letters or digits, a valid price and currency, at most ten image URLs, each an
//! absolute `http(s)` URL with a host.
//!
//! Text is shown to shoppers, in the operator's pages, in CSV files and terminals. So no field
//! holds a control character (NUL, ESC sequences, BEL, a CR that rewrites a line) nor a
//! bidirectional embedding, override or isolate (U+202A–U+202E, U+2066–U+2069), which make text
//! read otherwise than it is stored, nor a line or paragraph separator (U+2028, U+2029). The
//! left-to-right and right-to-left marks (U+200E, U+200F, U+061C) stay allowed: they are
//! zero-width letters of a direction that set the order of their neutral neighbours only, and
//! text mixing scripts needs them. Titles and categories are one line: no control character at
//! all. Descriptions and long texts may hold paragraphs: line feeds and tabs are allowed, and a
//! CR LF line end (a spreadsheet's CSV) is stored as a line feed.

use std::borrow::Cow;

use shared::proto::{ProductUpsertedV1, UpsertProduct};
use shared::{ids, money};

use std::fmt;

/// A product rule an input breaks. Its text is what a client's 400 or an import's row error says
/// (the HTTP layer turns it into the API's error body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductError {
    /// A field's length in characters is out of its bounds.
    Length {
        field: &'static str,
        min: usize,
        max: usize,
        got: usize,
    },
    /// A field holds a character it may not (`what` it is), at this 1-based character.
    Character {
        field: &'static str,
        what: &'static str,
        code: u32,
        at: usize,
    },
    /// The category has no letter or digit to make a slug of.
    CategoryWithoutLetters,
    PriceMissing,
    /// The price or its currency is not a valid one (why, in `shared::money`'s words).
    Price(String),
    TooManyImages,
    /// An image URL that cannot be one: the URL as quoted in the message, and why.
    ImageUrl {
        quoted: String,
        why: &'static str,
    },
}

impl fmt::Display for ProductError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProductError::Length {
                field,
                min,
                max,
                got,
            } => {
                if *min > 0 {
                    write!(
                        f,
                        "{field} must be between {min} and {max} characters, got {got}"
                    )
                } else {
                    write!(f, "{field} must be at most {max} characters, got {got}")
                }
            }
            ProductError::Character {
                field,
                what,
                code,
                at,
            } => write!(
                f,
                "{field} must not contain {what}: U+{code:04X} at character {at}"
            ),
            ProductError::CategoryWithoutLetters => {
                f.write_str("category must contain letters or digits")
            }
            ProductError::PriceMissing => f.write_str("price is required"),
            ProductError::Price(why) => f.write_str(why),
            ProductError::TooManyImages => write!(f, "at most {MAX_IMAGE_URLS} image_urls"),
            ProductError::ImageUrl { quoted, why } => write!(
                f,
                "image URL {quoted} must be an http(s) URL with a host, like https://images.example/lamp.jpg: {why}"
            ),
        }
    }
}

impl std::error::Error for ProductError {}

/// The longest image URL, in bytes.
pub const MAX_IMAGE_URL_BYTES: usize = 2048;
/// The most image URLs a product has.
pub const MAX_IMAGE_URLS: usize = 10;

fn check_len(field: &'static str, value: &str, min: usize, max: usize) -> Result<(), ProductError> {
    let got = value.chars().count();
    if got < min || got > max {
        return Err(ProductError::Length {
            field,
            min,
            max,
            got,
        });
    }
    Ok(())
}

/// Whether a text field is one line (title, category) or may hold paragraphs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lines {
    One,
    Paragraphs,
}

/// What a character is, if a text field may not hold it.
fn refused(c: char, lines: Lines) -> Option<&'static str> {
    match c {
        '\n' | '\t' if lines == Lines::Paragraphs => None,
        c if c.is_control() => Some(match lines {
            Lines::One => "control characters (line breaks, tabs, escapes)",
            Lines::Paragraphs => "control characters other than line feeds and tabs",
        }),
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {
            Some("bidirectional embeddings, overrides or isolates")
        }
        '\u{2028}' | '\u{2029}' => Some("line or paragraph separators (U+2028, U+2029)"),
        _ => None,
    }
}

/// A text field as stored (CR LF as LF where paragraphs are allowed), or which character it may
/// not hold, and where (1-based, in characters).
fn check_text<'a>(
    field: &'static str,
    value: &'a str,
    lines: Lines,
) -> Result<Cow<'a, str>, ProductError> {
    let mut chars = value.chars().peekable();
    let mut at = 0usize;
    let mut crlf = false;
    while let Some(c) = chars.next() {
        at += 1;
        if c == '\r' && lines == Lines::Paragraphs && chars.peek() == Some(&'\n') {
            crlf = true;
            continue;
        }
        if let Some(what) = refused(c, lines) {
            return Err(ProductError::Character {
                field,
                what,
                code: u32::from(c),
                at,
            });
        }
    }
    Ok(if crlf {
        Cow::Owned(value.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(value)
    })
}

/// A value in a message: quoted, its first 60 characters, anything but printable ASCII escaped.
fn quoted(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars().take(60) {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c => out.extend(c.escape_default()),
        }
    }
    if value.chars().nth(60).is_some() {
        out.push('…');
    }
    out.push('"');
    out
}

/// Why an image URL cannot be one: it must be `http://` or `https://`, a host (a DNS name, an
/// IPv4 address or a bracketed IPv6 address) with an optional port and no user name, then only
/// the characters RFC 3986 allows in a path, query and fragment (`%` followed by two hex digits).
/// A scheme-relative `//host/x`, a relative or root path, `javascript:` and `data:` are refused.
pub fn image_url_problem(url: &str) -> Option<&'static str> {
    if url.len() > MAX_IMAGE_URL_BYTES {
        return Some("it is longer than 2048 bytes");
    }
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return Some("it must start with https:// or http://");
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Some("it must not name a user before the host");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((inner, after)) = v6.split_once(']') else {
            return Some("its host is malformed");
        };
        let port = match after {
            "" => None,
            after => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Some("its host is malformed"),
            },
        };
        (Host::V6(inner), port)
    } else {
        match authority.rsplit_once(':') {
            Some((name, port)) => (Host::Name(name), Some(port)),
            None => (Host::Name(authority), None),
        }
    };
    if let Some(port) = port {
        let digits =
            !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
        if !digits || port.parse::<u16>().is_err() {
            return Some("its port must be a number from 0 to 65535");
        }
    }
    match host {
        Host::Name("") => return Some("it has no host"),
        Host::Name(name) => {
            let label_ok = |l: &str| {
                (1..=63).contains(&l.len())
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            };
            if name.len() > 253 || !name.split('.').all(label_ok) {
                return Some(
                    "its host must be a DNS name (ASCII letters, digits, hyphens; punycode for others) or an IP address",
                );
            }
        }
        Host::V6(inner) => {
            let ok = inner.contains(':')
                && inner
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            if !ok {
                return Some("its host is malformed");
            }
        }
    }
    let bytes = tail.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Some("a % must be followed by two hex digits");
            }
            i += 3;
            continue;
        }
        let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?#".contains(&b);
        if !allowed {
            return Some(
                "after the host only ASCII letters, digits and -._~!$&'()*+,;=:@/?#% are allowed (percent-encode others)",
            );
        }
        i += 1;
    }
    None
}

enum Host<'a> {
    Name(&'a str),
    V6(&'a str),
}

/// Checks a product's fields; the event carries them as stored (title and category trimmed,
/// CR LF line ends as LF).
pub fn validate_product(id: u64, u: &UpsertProduct) -> Result<ProductUpsertedV1, ProductError> {
    let title = check_text("title", &u.title, Lines::One)?;
    let description = check_text("description", &u.description, Lines::Paragraphs)?;
    let long_text = check_text("long_text", &u.long_text, Lines::Paragraphs)?;
    let category = check_text("category", &u.category, Lines::One)?;
    let (title, category) = (title.trim(), category.trim());
    check_len("title", title, 1, 200)?;
    check_len("description", &description, 0, 2_000)?;
    check_len("long_text", &long_text, 0, 20_000)?;
    check_len("category", category, 1, 100)?;
    if ids::category_slug(category).is_empty() {
        return Err(ProductError::CategoryWithoutLetters);
    }
    let price = u.price.as_ref().ok_or(ProductError::PriceMissing)?;
    money::validate_price(price.minor).map_err(|e| ProductError::Price(e.to_string()))?;
    money::validate_currency(&price.currency).map_err(|e| ProductError::Price(e.to_string()))?;
    if u.image_urls.len() > MAX_IMAGE_URLS {
        return Err(ProductError::TooManyImages);
    }
    for url in &u.image_urls {
        if let Some(why) = image_url_problem(url) {
            return Err(ProductError::ImageUrl {
                quoted: quoted(url),
                why,
            });
        }
    }
    Ok(ProductUpsertedV1 {
        product_id: id,
        title: title.to_owned(),
        description: description.into_owned(),
        long_text: long_text.into_owned(),
        category: category.to_owned(),
        price_minor: price.minor,
        currency: price.currency.clone(),
        image_urls: u.image_urls.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::proto::Money;

    fn lamp() -> UpsertProduct {
        UpsertProduct {
            title: "Desk lamp".into(),
            description: String::new(),
            long_text: String::new(),
            category: "Home".into(),
            price: Some(Money {
                minor: 2500,
                currency: "EUR".into(),
            }),
            image_urls: vec![],
        }
    }

    fn refusal(u: &UpsertProduct) -> String {
        validate_product(1, u).expect_err("refused").to_string()
    }

    #[test]
    fn titles_and_categories_hold_no_control_or_bidirectional_character() {
        for (bad, code) in [
            ("Lamp\0", "U+0000"),
            ("Lamp \u{1b}[31mred\u{1b}[0m", "U+001B"),
            ("Lamp\u{7}", "U+0007"),
            ("Lamp\r\nX-Injected: 1", "U+000D"),
            ("Lamp\nsecond line", "U+000A"),
            ("Lamp\tTab", "U+0009"),
            ("Lamp\u{85}", "U+0085"),
        ] {
            let title = refusal(&UpsertProduct {
                title: bad.into(),
                ..lamp()
            });
            assert!(
                title.starts_with("title must not contain control characters"),
                "{title}"
            );
            assert!(title.contains(code), "{title}");
            let category = refusal(&UpsertProduct {
                category: bad.into(),
                ..lamp()
            });
            assert!(
                category.starts_with("category must not contain"),
                "{category}"
            );
        }
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}',
        ] {
            let title = refusal(&UpsertProduct {
                title: format!("Lamp {c}gpj.exe"),
                ..lamp()
            });
            assert_eq!(
                title,
                format!(
                    "title must not contain bidirectional embeddings, overrides or isolates: U+{:04X} at character 6",
                    u32::from(c)
                )
            );
        }
        let separator = refusal(&UpsertProduct {
            title: "Lamp\u{2028}".into(),
            ..lamp()
        });
        assert!(
            separator.contains("line or paragraph separators"),
            "{separator}"
        );
        // Marks, joiners and other scripts are text.
        let fine = UpsertProduct {
            title: "מנורה\u{200F} 60W \u{200E}Lampe à poser 👩\u{200D}💻".into(),
            ..lamp()
        };
        assert!(validate_product(1, &fine).is_ok());
    }

    #[test]
    fn descriptions_may_hold_paragraphs_and_nothing_else() {
        let u = UpsertProduct {
            description: "Warm light.\r\n\r\nSolid walnut.\tOiled.".into(),
            long_text: "One.\nTwo.".into(),
            ..lamp()
        };
        let e = validate_product(1, &u).unwrap();
        assert_eq!(e.description, "Warm light.\n\nSolid walnut.\tOiled.");
        assert_eq!(e.long_text, "One.\nTwo.");
        assert_eq!(
            validate_product(
                1,
                &UpsertProduct {
                    description: e.description.clone(),
                    ..u
                }
            )
            .unwrap(),
            e
        );
        for (bad, code) in [
            ("a lone\rreturn", "U+000D at character 7"),
            ("bell\u{7}", "U+0007"),
            ("nul\0", "U+0000"),
            ("esc\u{1b}[2J", "U+001B"),
        ] {
            let m = refusal(&UpsertProduct {
                description: bad.into(),
                ..lamp()
            });
            assert!(
                m.starts_with(
                    "description must not contain control characters other than line feeds and tabs"
                ) && m.contains(code),
                "{m}"
            );
            let m = refusal(&UpsertProduct {
                long_text: bad.into(),
                ..lamp()
            });
            assert!(m.starts_with("long_text must not contain"), "{m}");
        }
        let m = refusal(&UpsertProduct {
            long_text: "Read \u{202E}this".into(),
            ..lamp()
        });
        assert!(
            m.starts_with("long_text must not contain bidirectional"),
            "{m}"
        );
    }

    #[test]
    fn image_urls_are_absolute_http_urls_with_a_host() {
        for good in [
            "https://images.example/lamp.jpg",
            "http://images.example:8080/a/b%20c.jpg?w=400&h=300#top",
            "https://127.0.0.1/x.png",
            "https://[::1]:8443/x.png",
            "https://xn--caf-dma.example/x.png",
            "https://images.example",
        ] {
            assert_eq!(image_url_problem(good), None, "{good}");
        }
        for bad in [
            "//evil.example/pixel.png",
            "/img/lamp.jpg",
            "img/lamp.jpg",
            "javascript:alert(1)",
            "data:image/png;base64,iVBORw0KGgo=",
            "ftp://images.example/x",
            "HTTPS://images.example/x",
            "https://",
            "https:///x.png",
            "https://shop.example@evil.example/x.png",
            "https://images.example:99999/x",
            "https://images.example:/x",
            "https://-bad.example/x",
            "https://a..b/x",
            "https://café.example/x",
            "https://images.example/a b.jpg",
            "https://images.example/a\u{202E}gnp.jpg",
            "https://images.example/\"onerror=\"x",
            "https://images.example/<x>",
            "https://images.example/%zz",
            "https://images.example/a\\b",
            "https://[::1/x",
            "https://[::1]x/y",
            "https://[zz]/y",
        ] {
            assert!(image_url_problem(bad).is_some(), "{bad} accepted");
        }
        let long = format!("https://images.example/{}", "a".repeat(MAX_IMAGE_URL_BYTES));
        assert_eq!(
            image_url_problem(&long),
            Some("it is longer than 2048 bytes")
        );
        let m = refusal(&UpsertProduct {
            image_urls: vec!["//evil.example/pixel.png".into()],
            ..lamp()
        });
        assert_eq!(
            m,
            "image URL \"//evil.example/pixel.png\" must be an http(s) URL with a host, like https://images.example/lamp.jpg: it must start with https:// or http://"
        );
        // The value is shown escaped and shortened, never raw.
        let m = refusal(&UpsertProduct {
            image_urls: vec![format!("javascript:\u{1b}[2J\u{202E}{}", "x".repeat(100))],
            ..lamp()
        });
        assert!(
            m.starts_with("image URL \"javascript:\\u{1b}[2J\\u{202e}xxx"),
            "{m}"
        );
        assert!(
            !m.contains('\u{1b}') && !m.contains('\u{202E}') && m.contains("x…\""),
            "{m}"
        );
    }
}
