//! The vocabulary of request parameters: what a path or query parameter is called, what values it
//! takes, and the paging pair every list shares. Handlers declare their query parameters with it;
//! the route table and the OpenAPI document read the same declarations.

use shared::paging::MAX_PAGE_SIZE;

use super::request::Named;

/// The values a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number in this range.
    Integer(i64, u64),
    /// Text of at most this many characters (`u32::MAX`: any length).
    Text(u32),
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// `true` or `false`.
    Bool,
}

/// A path or query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub about: &'static str,
    pub kind: Kind,
}

impl Named for Param {
    fn name(&self) -> &str {
        self.name
    }
}

pub const PAGE: Param = Param {
    name: "page",
    about: "Page number, from 1.",
    kind: Kind::Integer(1, u32::MAX as u64),
};
pub const PAGE_SIZE: Param = Param {
    name: "page_size",
    about: "Items per page (default 20).",
    kind: Kind::Integer(1, MAX_PAGE_SIZE as u64),
};

/// The orders list's query parameters.
pub const PAGE_QUERY: &[Param] = &[PAGE, PAGE_SIZE];

/// A product id in a path.
pub const PRODUCT_ID: Param = Param {
    name: "id",
    about: "A product id: a positive integer.",
    kind: Kind::Integer(1, u64::MAX),
};
