//! How stock is worded for a shopper: "In stock", "Only 3 left", "Sold out". One function, so a
//! card, the detail page and a cart line never disagree.

use shared::proto::{Availability, StockStatus};

/// What a shopper is told about a product's stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockLevel {
    InStock,
    /// Few left: the number is worth showing.
    Low(u64),
    SoldOut,
    /// Disabled by the shop: it cannot be bought at any stock level.
    Unavailable,
}

impl StockLevel {
    /// From the API's availability. `for_sale` is false once the product is disabled.
    pub fn of(availability: Option<&Availability>, for_sale: bool) -> StockLevel {
        if !for_sale {
            return StockLevel::Unavailable;
        }
        let Some(a) = availability else {
            // No availability means nothing is known to be in stock: never promise what the
            // server did not say.
            return StockLevel::SoldOut;
        };
        if a.available == 0 {
            return StockLevel::SoldOut;
        }
        match a.status() {
            StockStatus::OutOfStock => StockLevel::SoldOut,
            StockStatus::LowStock => StockLevel::Low(a.available),
            StockStatus::InStock | StockStatus::Unspecified => StockLevel::InStock,
        }
    }

    /// The text shown (a contract with the browser tests: "In stock" | "Only N left" | "Sold out").
    pub fn text(self) -> String {
        match self {
            StockLevel::InStock => "In stock".to_owned(),
            StockLevel::Low(n) => format!("Only {n} left"),
            StockLevel::SoldOut => "Sold out".to_owned(),
            StockLevel::Unavailable => "No longer available".to_owned(),
        }
    }

    /// A CSS modifier, so colour is never the only signal (the text always says it too).
    pub fn class(self) -> &'static str {
        match self {
            StockLevel::InStock => "stock stock--in",
            StockLevel::Low(_) => "stock stock--low",
            StockLevel::SoldOut | StockLevel::Unavailable => "stock stock--out",
        }
    }

    pub fn can_buy(self) -> bool {
        matches!(self, StockLevel::InStock | StockLevel::Low(_))
    }

    /// Most a shopper can usefully put in the cart; `None` when the server did not say.
    pub fn max_quantity(availability: Option<&Availability>) -> Option<u64> {
        availability.map(|a| a.available)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avail(status: StockStatus, available: u64) -> Availability {
        Availability {
            status: status as i32,
            available,
        }
    }

    #[test]
    fn wording() {
        let level = |s, n| StockLevel::of(Some(&avail(s, n)), true).text();
        assert_eq!(level(StockStatus::InStock, 50), "In stock");
        assert_eq!(level(StockStatus::LowStock, 3), "Only 3 left");
        assert_eq!(level(StockStatus::LowStock, 1), "Only 1 left");
        assert_eq!(level(StockStatus::OutOfStock, 0), "Sold out");
        // A status that contradicts the count trusts the count of zero.
        assert_eq!(level(StockStatus::InStock, 0), "Sold out");
        assert_eq!(level(StockStatus::Unspecified, 7), "In stock");
        assert_eq!(StockLevel::of(None, true).text(), "Sold out");
    }

    #[test]
    fn disabled_products_cannot_be_bought() {
        let l = StockLevel::of(Some(&avail(StockStatus::InStock, 50)), false);
        assert_eq!(l, StockLevel::Unavailable);
        assert!(!l.can_buy());
        assert!(StockLevel::Low(2).can_buy());
        assert!(!StockLevel::SoldOut.can_buy());
    }
}
