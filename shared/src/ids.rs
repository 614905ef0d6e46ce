//! Identifiers of the shop's things and how they look on the wire: product ids, cart ids,
//! order ids and category slugs.

use std::fmt;

/// Error for an identifier that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("product id must be a positive integer, got {0:?}")]
    ProductId(String),
    #[error("order id must be a positive integer, got {0:?}")]
    OrderId(String),
    #[error("cart id must be 32 lower-case hex digits")]
    CartId,
}

/// A product's id: a positive integer chosen by the catalog's owner. Larger ids are newer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProductId(pub u64);

impl std::str::FromStr for ProductId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        match s.parse::<u64>() {
            Ok(n) if n > 0 && !s.starts_with('+') => Ok(ProductId(n)),
            _ => Err(IdError::ProductId(s.chars().take(40).collect())),
        }
    }
}

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An order's id: assigned by the checkout fold in log order (1, 2, 3, ...), so every replica
/// assigns the same id to the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderId(pub u64);

impl std::str::FromStr for OrderId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        match s.parse::<u64>() {
            Ok(n) if n > 0 && !s.starts_with('+') => Ok(OrderId(n)),
            _ => Err(IdError::OrderId(s.chars().take(40).collect())),
        }
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A cart's id, written as 32 lower-case hex digits: the name the checkout log and model know a
/// cart by (128 bits of a keyed hash, which opens nothing), and the form of the cart cookies
/// issued before names existed (128 random bits, a credential). Never shown in logs or metrics.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CartId(pub u128);

impl CartId {
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        CartId(u128::from_le_bytes(bytes))
    }
}

impl std::str::FromStr for CartId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.len() != 32
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(IdError::CartId);
        }
        u128::from_str_radix(s, 16)
            .map(CartId)
            .map_err(|_| IdError::CartId)
    }
}

impl fmt::Display for CartId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for CartId {
    // Debug output ends up in logs; a cart id there would let a reader take over the cart.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CartId(..)")
    }
}

/// The URL-safe name of a category: lower-case ASCII letters and digits joined by single dashes
/// ("Home & Garden" → "home-garden").
pub fn category_slug(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if dash && !slug.is_empty() {
                slug.push('-');
            }
            dash = false;
            slug.push(c);
        } else {
            dash = true;
        }
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn product_ids_are_positive_integers() {
        assert_eq!("42".parse(), Ok(ProductId(42)));
        assert!("0".parse::<ProductId>().is_err());
        assert!("-1".parse::<ProductId>().is_err());
        assert!("+1".parse::<ProductId>().is_err());
        assert!("abc".parse::<ProductId>().is_err());
        assert!("".parse::<ProductId>().is_err());
    }

    #[test]
    fn cart_ids_are_32_lower_hex_digits() {
        let id: CartId = "0123456789abcdef0123456789abcdef".parse().unwrap();
        assert_eq!(id.to_string(), "0123456789abcdef0123456789abcdef");
        assert!(
            "0123456789ABCDEF0123456789abcdef"
                .parse::<CartId>()
                .is_err()
        );
        assert!("0123".parse::<CartId>().is_err());
        assert_eq!(format!("{id:?}"), "CartId(..)");
    }

    #[test]
    fn slugs() {
        assert_eq!(category_slug("Home & Garden"), "home-garden");
        assert_eq!(category_slug("  Books "), "books");
        assert_eq!(category_slug("Kids' Toys"), "kids-toys");
        assert_eq!(category_slug("Küche"), "küche");
    }

    proptest! {
        #[test]
        fn cart_id_round_trips(n: u128) {
            let id = CartId(n);
            prop_assert_eq!(id.to_string().parse::<CartId>(), Ok(id));
        }
    }
}
