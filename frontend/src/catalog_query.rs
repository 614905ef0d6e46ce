//! The catalog's state as it lives in the page URL (`/?q=lamp&category=home&sort=price&order=desc
//! &page=3&page_size=24`), and the `/api/products` query derived from it. The URL is the single
//! source of truth for what the catalog shows, so back/forward and shared links just work.

/// Page sizes offered to the shopper (the API allows up to 100).
pub const PAGE_SIZES: [u32; 4] = [12, 24, 48, 96];
pub const DEFAULT_PAGE_SIZE: u32 = 24;
/// The API refuses longer search texts; cutting here keeps a pasted essay from becoming a 400.
pub const MAX_SEARCH_CHARS: usize = 200;

use shared::sort::SortKey;

/// The options of the sort select: (value, label). Values are a contract with the browser tests.
/// "relevance" is offered (and the default) while there is a search.
pub const SORT_OPTIONS: [(&str, &str); 7] = [
    ("relevance", "Best match"),
    ("name-asc", "Name (A–Z)"),
    ("name-desc", "Name (Z–A)"),
    ("price-asc", "Price (low to high)"),
    ("price-desc", "Price (high to low)"),
    ("id-desc", "Newest first"),
    ("id-asc", "Oldest first"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogQuery {
    /// Free-text search; empty means none.
    pub q: String,
    /// Category slug; empty means all categories.
    pub category: String,
    pub sort: SortKey,
    pub descending: bool,
    /// Best matches first (a search's default) instead of `sort`.
    pub relevance: bool,
    /// Price range in minor units (cents), both ends included.
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    /// Only products in stock.
    pub in_stock: bool,
    /// 1-based.
    pub page: u32,
    pub page_size: u32,
}

impl Default for CatalogQuery {
    fn default() -> Self {
        CatalogQuery {
            q: String::new(),
            category: String::new(),
            sort: SortKey::Name,
            descending: false,
            relevance: false,
            min_price: None,
            max_price: None,
            in_stock: false,
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl CatalogQuery {
    /// Reads the page URL's query string (with or without the leading `?`). Anything unknown or
    /// malformed falls back to the default: a mangled link still shows a catalog.
    pub fn from_query_string(query: &str) -> CatalogQuery {
        let mut out = CatalogQuery::default();
        let mut sorted = false;
        let price = |v: &str| v.parse::<i64>().ok().filter(|p| *p >= 0);
        for (k, v) in parse_pairs(query.trim_start_matches('?')) {
            match k.as_str() {
                "q" => out.q = v.trim().chars().take(MAX_SEARCH_CHARS).collect(),
                "category" => out.category = v.trim().to_owned(),
                "sort" if v == "relevance" => out.relevance = true,
                "sort" => {
                    sorted = true;
                    out.sort = SortKey::parse(&v).unwrap_or(SortKey::Name);
                }
                "min_price" => out.min_price = price(&v),
                "max_price" => out.max_price = price(&v),
                "in_stock" => out.in_stock = v == "true",
                "order" => out.descending = v == "desc",
                "page" => out.page = v.parse().ok().filter(|&p| p >= 1).unwrap_or(1),
                "page_size" => {
                    out.page_size = v
                        .parse()
                        .ok()
                        .filter(|n| PAGE_SIZES.contains(n))
                        .unwrap_or(DEFAULT_PAGE_SIZE)
                }
                _ => {}
            }
        }
        // A search without a chosen order shows the best matches first.
        if !out.q.is_empty() && !sorted {
            out.relevance = true;
        }
        if out.q.is_empty() {
            out.relevance = false;
        }
        if let (Some(lo), Some(hi)) = (out.min_price, out.max_price)
            && lo > hi
        {
            out.max_price = None;
        }
        out
    }

    /// The page URL's query string without `?`, listing only what differs from the default so
    /// links stay short; empty for the plain catalog.
    pub fn to_query_string(&self) -> String {
        let d = CatalogQuery::default();
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !self.q.is_empty() {
            pairs.push(("q", self.q.clone()));
        }
        if !self.category.is_empty() {
            pairs.push(("category", self.category.clone()));
        }
        // With a search, relevance is the default and any other order is written out.
        let searching = !self.q.is_empty();
        if !self.relevance && (self.sort != d.sort || searching) {
            pairs.push(("sort", self.sort.as_str().to_owned()));
        }
        if self.descending && !self.relevance {
            pairs.push(("order", "desc".to_owned()));
        }
        self.push_filters(&mut pairs);
        if self.page != 1 {
            pairs.push(("page", self.page.to_string()));
        }
        if self.page_size != d.page_size {
            pairs.push(("page_size", self.page_size.to_string()));
        }
        join_pairs(&pairs)
    }

    /// The query of `GET /api/products` for this state. It names only parameters the API knows:
    /// the API refuses unknown ones.
    pub fn api_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = vec![
            ("page", self.page.to_string()),
            ("page_size", self.page_size.to_string()),
        ];
        if self.relevance && !self.q.is_empty() {
            pairs.push(("sort", "relevance".to_owned()));
        } else {
            pairs.push(("sort", self.sort.as_str().to_owned()));
            pairs.push((
                "order",
                if self.descending { "desc" } else { "asc" }.to_owned(),
            ));
        }
        if !self.q.is_empty() {
            pairs.push(("q", self.q.clone()));
        }
        if !self.category.is_empty() {
            pairs.push(("category", self.category.clone()));
        }
        self.push_filters(&mut pairs);
        join_pairs(&pairs)
    }

    fn push_filters(&self, pairs: &mut Vec<(&str, String)>) {
        if let Some(p) = self.min_price {
            pairs.push(("min_price", p.to_string()));
        }
        if let Some(p) = self.max_price {
            pairs.push(("max_price", p.to_string()));
        }
        if self.in_stock {
            pairs.push(("in_stock", "true".to_owned()));
        }
    }

    /// The query of the suggestions under the search box for what is being typed: a few best
    /// matches with their facets.
    pub fn suggestions_query(typed: &str) -> String {
        join_pairs(&[
            ("page_size", "6".to_owned()),
            ("sort", "relevance".to_owned()),
            ("q", typed.chars().take(MAX_SEARCH_CHARS).collect()),
        ])
    }

    /// The sort select's value, e.g. `price-desc`.
    pub fn sort_option(&self) -> String {
        if self.relevance && !self.q.is_empty() {
            return "relevance".to_owned();
        }
        format!(
            "{}-{}",
            self.sort.as_str(),
            if self.descending { "desc" } else { "asc" }
        )
    }

    // Every change other than paging starts again at page 1: page 7 of another result set means
    // nothing.

    pub fn with_sort_option(&self, value: &str) -> CatalogQuery {
        if value == "relevance" {
            return CatalogQuery {
                relevance: !self.q.is_empty(),
                page: 1,
                ..self.clone()
            };
        }
        let (key, order) = value.split_once('-').unwrap_or((value, "asc"));
        CatalogQuery {
            sort: SortKey::parse(key).unwrap_or(SortKey::Name),
            descending: order == "desc",
            relevance: false,
            page: 1,
            ..self.clone()
        }
    }

    /// A new search: best matches first, unless the shopper chose another order than the
    /// default before.
    pub fn with_search(&self, q: &str) -> CatalogQuery {
        let q: String = q.trim().chars().take(MAX_SEARCH_CHARS).collect();
        let default_order = self.sort == SortKey::Name && !self.descending;
        CatalogQuery {
            relevance: !q.is_empty() && (self.relevance || default_order),
            q,
            page: 1,
            ..self.clone()
        }
    }

    /// A price range in minor units (either end open).
    pub fn with_price_range(&self, min: Option<i64>, max: Option<i64>) -> CatalogQuery {
        let (min, max) = match (min, max) {
            (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
            other => other,
        };
        CatalogQuery {
            min_price: min,
            max_price: max,
            page: 1,
            ..self.clone()
        }
    }

    pub fn with_in_stock(&self, in_stock: bool) -> CatalogQuery {
        CatalogQuery {
            in_stock,
            page: 1,
            ..self.clone()
        }
    }

    pub fn with_category(&self, slug: &str) -> CatalogQuery {
        CatalogQuery {
            category: slug.to_owned(),
            page: 1,
            ..self.clone()
        }
    }

    pub fn with_page_size(&self, page_size: u32) -> CatalogQuery {
        CatalogQuery {
            page_size: if PAGE_SIZES.contains(&page_size) {
                page_size
            } else {
                DEFAULT_PAGE_SIZE
            },
            page: 1,
            ..self.clone()
        }
    }

    pub fn with_page(&self, page: u32) -> CatalogQuery {
        CatalogQuery {
            page: page.max(1),
            ..self.clone()
        }
    }
}

fn join_pairs(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `application/x-www-form-urlencoded` encoding, as the API's parser (and every browser)
/// decodes it: space becomes `+`, everything but unreserved ASCII becomes `%XX` of its UTF-8.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes one form-urlencoded component; malformed escapes are kept as they are, and invalid
/// UTF-8 is replaced rather than refused.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn parse_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k), decode(v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_catalog_has_an_empty_query() {
        assert_eq!(CatalogQuery::default().to_query_string(), "");
        assert_eq!(CatalogQuery::from_query_string(""), CatalogQuery::default());
        assert_eq!(
            CatalogQuery::from_query_string("?"),
            CatalogQuery::default()
        );
    }

    #[test]
    fn reads_the_documented_example() {
        let q = CatalogQuery::from_query_string(
            "?q=lamp&category=home&sort=price&order=desc&page=3&page_size=24",
        );
        assert_eq!(
            q,
            CatalogQuery {
                q: "lamp".into(),
                category: "home".into(),
                sort: SortKey::Price,
                descending: true,
                page: 3,
                page_size: 24,
                ..Default::default()
            }
        );
        assert_eq!(
            q.to_query_string(),
            "q=lamp&category=home&sort=price&order=desc&page=3"
        );
        assert_eq!(
            q.api_query(),
            "page=3&page_size=24&sort=price&order=desc&q=lamp&category=home"
        );
    }

    #[test]
    fn round_trips_through_the_url() {
        let q = CatalogQuery {
            q: "desk lamp & 100% wool/ü".into(),
            category: "home-garden".into(),
            sort: SortKey::Id,
            descending: true,
            min_price: Some(1000),
            max_price: Some(25_000),
            in_stock: true,
            page: 12,
            page_size: 96,
            ..Default::default()
        };
        let s = q.to_query_string();
        assert!(s.contains("q=desk+lamp+%26+100%25+wool%2F%C3%BC"), "{s}");
        assert_eq!(CatalogQuery::from_query_string(&s), q);
    }

    #[test]
    fn malformed_values_fall_back_to_defaults() {
        let q = CatalogQuery::from_query_string(
            "page=0&page_size=1000&sort=colour&order=sideways&bogus=1&q=%ZZ%",
        );
        assert_eq!(q.page, 1);
        assert_eq!(q.page_size, DEFAULT_PAGE_SIZE);
        assert_eq!(q.sort, SortKey::Name);
        assert!(!q.descending);
        assert_eq!(q.q, "%ZZ%");
        assert_eq!(CatalogQuery::from_query_string("page=-3").page, 1);
        assert_eq!(CatalogQuery::from_query_string("page=abc").page, 1);
    }

    #[test]
    fn a_search_orders_by_relevance_until_another_order_is_chosen() {
        let q = CatalogQuery::from_query_string("q=desk+lamp");
        assert!(q.relevance);
        assert_eq!(q.to_query_string(), "q=desk+lamp");
        assert_eq!(
            q.api_query(),
            "page=1&page_size=24&sort=relevance&q=desk+lamp"
        );
        let by_name = q.with_sort_option("name-asc");
        assert_eq!(by_name.to_query_string(), "q=desk+lamp&sort=name");
        assert_eq!(
            CatalogQuery::from_query_string(&by_name.to_query_string()),
            by_name
        );
        assert!(CatalogQuery::default().with_search("lamp").relevance);
        let cheap_first = CatalogQuery::default().with_sort_option("price-asc");
        assert!(!cheap_first.with_search("lamp").relevance);
        assert!(!CatalogQuery::from_query_string("sort=relevance").relevance);
    }

    #[test]
    fn price_and_stock_filters_live_in_the_url() {
        let q = CatalogQuery::default()
            .with_price_range(Some(5000), Some(1000))
            .with_in_stock(true);
        assert_eq!((q.min_price, q.max_price), (Some(1000), Some(5000)));
        assert_eq!(
            q.to_query_string(),
            "min_price=1000&max_price=5000&in_stock=true"
        );
        assert_eq!(CatalogQuery::from_query_string(&q.to_query_string()), q);
        let bad = CatalogQuery::from_query_string("min_price=-5&max_price=abc&in_stock=yes");
        assert_eq!(
            (bad.min_price, bad.max_price, bad.in_stock),
            (None, None, false)
        );
    }

    #[test]
    fn sort_options_map_both_ways() {
        let searching = CatalogQuery::default().with_search("lamp");
        for (value, _) in SORT_OPTIONS {
            let q = searching.with_sort_option(value);
            assert_eq!(q.sort_option(), value);
        }
        let newest = CatalogQuery::default().with_sort_option("id-desc");
        assert_eq!(newest.to_query_string(), "sort=id&order=desc");
        assert_eq!(CatalogQuery::default().sort_option(), "name-asc");
    }

    #[test]
    fn changes_other_than_paging_go_back_to_page_one() {
        let q = CatalogQuery::default().with_page(5);
        assert_eq!(q.page, 5);
        assert_eq!(q.with_search("chair").page, 1);
        assert_eq!(q.with_category("home").page, 1);
        assert_eq!(q.with_sort_option("price-asc").page, 1);
        assert_eq!(q.with_page_size(48).page, 1);
        assert_eq!(q.with_page_size(7).page_size, DEFAULT_PAGE_SIZE);
        assert_eq!(q.with_page(0).page, 1);
    }

    #[test]
    fn search_text_is_trimmed_and_bounded() {
        let q = CatalogQuery::default().with_search("  lamp  ");
        assert_eq!(q.q, "lamp");
        let long = "x".repeat(500);
        assert_eq!(
            CatalogQuery::default().with_search(&long).q.len(),
            MAX_SEARCH_CHARS
        );
    }

    #[test]
    fn decoding_is_lenient() {
        assert_eq!(decode("a+b%20c"), "a b c");
        assert_eq!(decode("%"), "%");
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("%41"), "A");
        assert_eq!(decode("%FF"), "\u{FFFD}");
    }
}
