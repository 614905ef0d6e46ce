//! The orders a catalog listing can be sorted in, and their spelling in query strings (the
//! API's `sort=` parameter and the app's page URLs use the same words).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    Name,
    Price,
    /// Product ids grow with time, so "newest" is id descending.
    Id,
}

impl SortKey {
    /// Every key, in the order of their `as usize` indexes.
    pub const ALL: [SortKey; 3] = [SortKey::Name, SortKey::Price, SortKey::Id];

    /// The key's word in a query string.
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Price => "price",
            SortKey::Id => "id",
        }
    }

    /// The key a query-string word names; `None` for anything else.
    pub fn parse(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_reads_back_from_its_word_and_nothing_else_parses() {
        for (i, key) in SortKey::ALL.into_iter().enumerate() {
            assert_eq!(key as usize, i);
            assert_eq!(SortKey::parse(key.as_str()), Some(key));
        }
        for word in ["", "Name", "price ", "newest", "ID"] {
            assert_eq!(SortKey::parse(word), None, "{word:?}");
        }
    }
}
