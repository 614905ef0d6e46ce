//! `If-Match` as RFC 9110 (section 13.1.1) reads it: `*`, or a comma-separated list of entity
//! tags (from one header line or several), compared strongly: a weak tag (`W/"…"`) never
//! matches, since a change must be made against exactly the version read.

use http::HeaderMap;
use http::header::IF_MATCH;

use super::wire::ApiError;

/// The most bytes of `If-Match` read (all its lines together).
pub const MAX_IF_MATCH_BYTES: usize = 200;

/// What a request's `If-Match` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current version, i.e. the resource exists.
    Any,
    /// The tags named, in order.
    Tags(Vec<EntityTag>),
}

/// One entity tag: its opaque value (without the quotes) and whether it was weak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    pub weak: bool,
    pub opaque: String,
}

impl IfMatch {
    /// The request's `If-Match`, None without one; 400 if it is not `*` or a list of tags.
    pub fn read(headers: &HeaderMap) -> Result<Option<IfMatch>, ApiError> {
        let mut lines = headers.get_all(IF_MATCH).iter().peekable();
        if lines.peek().is_none() {
            return Ok(None);
        }
        let mut value = String::new();
        for line in lines {
            let line = line
                .to_str()
                .map_err(|_| malformed("it is not visible ASCII"))?;
            if !value.is_empty() {
                value.push_str(", ");
            }
            value.push_str(line);
            if value.len() > MAX_IF_MATCH_BYTES {
                return Err(ApiError::bad_request(format!(
                    "If-Match must be a product's version as read (at most {MAX_IF_MATCH_BYTES} characters)"
                )));
            }
        }
        parse(&value).map(Some).map_err(malformed)
    }

    /// Whether the current version `current` (None: the resource does not exist) passes, by
    /// strong comparison.
    pub fn matches(&self, current: Option<&str>) -> bool {
        match (self, current) {
            (_, None) => false,
            (IfMatch::Any, Some(_)) => true,
            (IfMatch::Tags(tags), Some(v)) => tags.iter().any(|t| !t.weak && t.opaque == v),
        }
    }

    /// Whether a weak tag names `current`: a client that would match but for `W/`, told so.
    pub fn names_weakly(&self, current: &str) -> bool {
        matches!(self, IfMatch::Tags(tags) if tags.iter().any(|t| t.weak && t.opaque == current))
    }
}

fn malformed(why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "If-Match must be a product's version as read, quoted (\"0123456789abcdef\", as its ETag), a comma-separated list of such, or *: {why}"
    ))
}

/// `If-Match = "*" / #entity-tag`; `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE`, where etagc is
/// any visible character but `"` (RFC 9110's obs-text is refused with non-ASCII bytes above).
/// A list may hold empty elements (`a, , b`) but not only those.
pub fn parse(value: &str) -> Result<IfMatch, &'static str> {
    let value = value.trim_matches([' ', '\t']);
    if value == "*" {
        return Ok(IfMatch::Any);
    }
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let (weak, quoted) = match rest.strip_prefix("W/") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let Some(body) = quoted.strip_prefix('"') else {
            return Err(if rest.starts_with('*') {
                "* stands alone, not in a list"
            } else {
                "an entity tag is quoted, like \"0123456789abcdef\" or W/\"…\""
            });
        };
        let Some(end) = body.find('"') else {
            return Err("an entity tag is missing its closing quote");
        };
        let opaque = &body[..end];
        if !opaque.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("an entity tag holds visible characters only");
        }
        tags.push(EntityTag {
            weak,
            opaque: opaque.to_owned(),
        });
        rest = body[end + 1..].trim_start_matches([' ', '\t']);
        if !(rest.is_empty() || rest.starts_with(',')) {
            return Err("entity tags are separated by commas");
        }
    }
    if tags.is_empty() {
        return Err("it names no entity tag");
    }
    Ok(IfMatch::Tags(tags))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn tag(weak: bool, opaque: &str) -> EntityTag {
        EntityTag {
            weak,
            opaque: opaque.into(),
        }
    }

    #[test]
    fn star_and_lists_of_tags_parse() {
        assert_eq!(parse("*"), Ok(IfMatch::Any));
        assert_eq!(parse(" * "), Ok(IfMatch::Any));
        assert_eq!(parse("\"abc\""), Ok(IfMatch::Tags(vec![tag(false, "abc")])));
        assert_eq!(
            parse("\"abc\", \"1\""),
            Ok(IfMatch::Tags(vec![tag(false, "abc"), tag(false, "1")]))
        );
        assert_eq!(
            parse("W/\"abc\",\"d,e\" , ,\"\""),
            Ok(IfMatch::Tags(vec![
                tag(true, "abc"),
                tag(false, "d,e"),
                tag(false, "")
            ]))
        );
    }

    #[test]
    fn anything_else_is_malformed() {
        for bad in [
            "",
            " , ",
            "abc",
            "\"abc",
            "\"abc\" \"def\"",
            "\"abc\"x",
            "w/\"abc\"",
            "W/ \"abc\"",
            "*, \"abc\"",
            "\"abc\", *",
            "\"a b\"",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn only_a_strong_tag_of_the_current_version_matches() {
        let v = Some("00ff");
        assert!(parse("\"00ff\"").unwrap().matches(v));
        assert!(parse("\"1\", \"00ff\"").unwrap().matches(v));
        assert!(parse("*").unwrap().matches(v));
        assert!(
            !parse("W/\"00ff\"").unwrap().matches(v),
            "weak never matches"
        );
        assert!(!parse("\"00FF\"").unwrap().matches(v), "octet by octet");
        assert!(!parse("\"1\"").unwrap().matches(v));
        assert!(
            !parse("*").unwrap().matches(None),
            "* needs a current version"
        );
        assert!(!parse("\"00ff\"").unwrap().matches(None));
    }

    #[test]
    fn several_header_lines_are_one_list() {
        let mut h = HeaderMap::new();
        assert_eq!(IfMatch::read(&h).unwrap(), None);
        h.append(IF_MATCH, HeaderValue::from_static("\"1\""));
        h.append(IF_MATCH, HeaderValue::from_static("\"2\""));
        let m = IfMatch::read(&h).unwrap().unwrap();
        assert!(m.matches(Some("2")));
        h.append(IF_MATCH, HeaderValue::from_static("nope"));
        let e = IfMatch::read(&h).unwrap_err();
        assert!(e.message.starts_with("If-Match must be"), "{}", e.message);
        let mut long = HeaderMap::new();
        long.insert(
            IF_MATCH,
            HeaderValue::from_str(&format!("\"{}\"", "a".repeat(MAX_IF_MATCH_BYTES))).unwrap(),
        );
        let e = IfMatch::read(&long).unwrap_err();
        assert!(
            e.message.contains("at most 200 characters"),
            "{}",
            e.message
        );
    }
}
