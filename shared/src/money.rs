//! Money in minor units: currency codes, checked arithmetic and display formatting.

use crate::proto::Money;

/// Error for a money value the shop does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency must be an ISO 4217 code of three upper-case letters, got {0:?}")]
    Currency(String),
    #[error("price must be between 0 and {max} minor units, got {got}")]
    Amount { got: i64, max: i64 },
    #[error("amount too large")]
    Overflow,
}

/// Largest price of one unit: ten billion major units of a two-decimal currency. Far above any
/// real price, far below where line totals could overflow.
pub const MAX_PRICE_MINOR: i64 = 1_000_000_000_000;

pub fn validate_currency(code: &str) -> Result<(), MoneyError> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(MoneyError::Currency(code.chars().take(10).collect()))
    }
}

pub fn validate_price(minor: i64) -> Result<(), MoneyError> {
    if (0..=MAX_PRICE_MINOR).contains(&minor) {
        Ok(())
    } else {
        Err(MoneyError::Amount {
            got: minor,
            max: MAX_PRICE_MINOR,
        })
    }
}

pub fn money(minor: i64, currency: &str) -> Money {
    Money {
        minor,
        currency: currency.to_owned(),
    }
}

/// `unit × quantity`, refusing to wrap.
pub fn line_total(unit_minor: i64, quantity: u32) -> Result<i64, MoneyError> {
    unit_minor
        .checked_mul(i64::from(quantity))
        .ok_or(MoneyError::Overflow)
}

/// Sums amounts per currency, keeping the order in which currencies first appear.
pub fn totals<'a>(
    amounts: impl IntoIterator<Item = (i64, &'a str)>,
) -> Result<Vec<Money>, MoneyError> {
    let mut out: Vec<Money> = Vec::new();
    for (minor, currency) in amounts {
        match out.iter_mut().find(|m| m.currency == currency) {
            Some(m) => m.minor = m.minor.checked_add(minor).ok_or(MoneyError::Overflow)?,
            None => out.push(money(minor, currency)),
        }
    }
    Ok(out)
}

/// Digits after the decimal point of a currency's major unit (ISO 4217).
pub fn minor_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

fn symbol(currency: &str) -> Option<&'static str> {
    Some(match currency {
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        "JPY" => "¥",
        "INR" => "₹",
        _ => return None,
    })
}

/// Formats for display: `€1,234.50`, `¥1,200`, `1,234.50 CHF`.
pub fn format(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    let scale = 10u64.pow(digits);
    let abs = minor.unsigned_abs();
    let (major, frac) = (abs / scale, abs % scale);
    let raw = major.to_string();
    let mut grouped = String::with_capacity(raw.len() + raw.len() / 3);
    for (i, c) in raw.chars().enumerate() {
        if i > 0 && (raw.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let number = if digits == 0 {
        grouped
    } else {
        format!("{grouped}.{frac:0width$}", width = digits as usize)
    };
    let sign = if minor < 0 { "-" } else { "" };
    match symbol(currency) {
        Some(s) => format!("{sign}{s}{number}"),
        None => format!("{sign}{number} {currency}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_common_currencies() {
        assert_eq!(format(123450, "EUR"), "€1,234.50");
        assert_eq!(format(5, "USD"), "$0.05");
        assert_eq!(format(1200, "JPY"), "¥1,200");
        assert_eq!(format(123456789, "CHF"), "1,234,567.89 CHF");
        assert_eq!(format(-250, "GBP"), "-£2.50");
        assert_eq!(format(1234, "KWD"), "1.234 KWD");
    }

    #[test]
    fn validates() {
        assert!(validate_currency("EUR").is_ok());
        assert!(validate_currency("eur").is_err());
        assert!(validate_currency("EURO").is_err());
        assert!(validate_price(-1).is_err());
        assert!(validate_price(MAX_PRICE_MINOR + 1).is_err());
        assert_eq!(line_total(i64::MAX, 2), Err(MoneyError::Overflow));
    }

    #[test]
    fn totals_per_currency() {
        let t = totals([(100, "EUR"), (5, "USD"), (50, "EUR")]).unwrap();
        assert_eq!(t, vec![money(150, "EUR"), money(5, "USD")]);
    }
}
