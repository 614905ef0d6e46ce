//! The rules a product must meet, shared by the API's upsert and the import: field lengths, a
//! category with letters or digits, a valid price and currency, at most ten image URLs.

use shared::proto::{ProductUpsertedV1, UpsertProduct};
use shared::{ids, money};

use crate::http::wire::ApiError;

fn check_len(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n < min || n > max {
        let what = if min > 0 {
            format!("between {min} and {max}")
        } else {
            format!("at most {max}")
        };
        return Err(ApiError::bad_request(format!(
            "{field} must be {what} characters, got {n}"
        )));
    }
    Ok(())
}

/// Checks a product's fields; the event carries them trimmed.
pub fn validate_product(id: u64, u: &UpsertProduct) -> Result<ProductUpsertedV1, ApiError> {
    let (title, category) = (u.title.trim(), u.category.trim());
    check_len("title", title, 1, 200)?;
    check_len("description", &u.description, 0, 2_000)?;
    check_len("long_text", &u.long_text, 0, 20_000)?;
    check_len("category", category, 1, 100)?;
    if ids::category_slug(category).is_empty() {
        return Err(ApiError::bad_request(
            "category must contain letters or digits",
        ));
    }
    let price = u
        .price
        .as_ref()
        .ok_or_else(|| ApiError::bad_request("price is required"))?;
    money::validate_price(price.minor).map_err(|e| ApiError::bad_request(e.to_string()))?;
    money::validate_currency(&price.currency).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if u.image_urls.len() > 10 {
        return Err(ApiError::bad_request("at most 10 image_urls"));
    }
    for url in &u.image_urls {
        let ok = url.len() <= 2048
            && (url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/'))
            && !url.contains(char::is_whitespace);
        if !ok {
            return Err(ApiError::bad_request(format!(
                "image URL {:?} must be an http(s) URL or an absolute path",
                url.chars().take(60).collect::<String>()
            )));
        }
    }
    Ok(ProductUpsertedV1 {
        product_id: id,
        title: title.to_owned(),
        description: u.description.clone(),
        long_text: u.long_text.clone(),
        category: category.to_owned(),
        price_minor: price.minor,
        currency: price.currency.clone(),
        image_urls: u.image_urls.clone(),
    })
}
