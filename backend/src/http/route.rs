//! The API's routes: a path and method become a [`Route`], or a 404 / 405 that names what is
//! allowed. Matching is a `match` over path segments, with nothing to register or look up.

use http::Method;

use super::wire::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    ListProducts,
    GetProduct(&'a str),
    ListCategories,
    GetCart,
    SetCartLine(&'a str),
    ListOrders,
    PlaceOrder,
    GetOrder(&'a str),
    UpsertProduct(&'a str),
    DisableProduct(&'a str),
    SetPrice(&'a str),
    DeliverStock,
    /// The live-update websocket.
    LiveSocket,
}

/// The product list's query parameters.
pub const LIST_PRODUCTS_PARAMS: &[&str] = &[
    "page",
    "page_size",
    "sort",
    "order",
    "prefix",
    "q",
    "category",
    "min_price",
    "max_price",
    "in_stock",
];

impl Route<'_> {
    /// The query parameters the endpoint reads. Any other is refused with 400, so a misspelt one
    /// (`pgae=2`) or a body field sent as a parameter (`?quantity=2`) never passes unnoticed.
    pub fn query_params(&self) -> &'static [&'static str] {
        match self {
            Route::ListProducts => LIST_PRODUCTS_PARAMS,
            _ => &[],
        }
    }

    /// A low-cardinality name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Route::ListProducts => "/api/products",
            Route::GetProduct(_) => "/api/products/{id}",
            Route::ListCategories => "/api/categories",
            Route::GetCart => "/api/cart",
            Route::SetCartLine(_) => "/api/cart/lines/{product_id}",
            Route::ListOrders | Route::PlaceOrder => "/api/orders",
            Route::GetOrder(_) => "/api/orders/{id}",
            Route::UpsertProduct(_) | Route::DisableProduct(_) => "/api/admin/products/{id}",
            Route::SetPrice(_) => "/api/admin/products/{id}/price",
            Route::DeliverStock => "/api/admin/stock",
            Route::LiveSocket => "/api/ws",
        }
    }
}

/// Matches a path below `/api/` (without the prefix) and a method.
pub fn route<'a>(method: &Method, path: &'a str) -> Result<Route<'a>, ApiError> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let m = method;
    let only = |allowed: &'static str, r: Route<'a>| -> Result<Route<'a>, ApiError> {
        if allowed
            .split(", ")
            .any(|a| a == m.as_str() || (a == "GET" && m == Method::HEAD))
        {
            Ok(r)
        } else {
            Err(ApiError::method_not_allowed(allowed))
        }
    };
    match segments.as_slice() {
        ["products"] => only("GET", Route::ListProducts),
        ["products", id] => only("GET", Route::GetProduct(id)),
        ["categories"] => only("GET", Route::ListCategories),
        ["cart"] => only("GET", Route::GetCart),
        ["cart", "lines", id] => only("PUT", Route::SetCartLine(id)),
        ["orders"] if m == Method::POST => Ok(Route::PlaceOrder),
        ["orders"] => only("GET, POST", Route::ListOrders),
        ["orders", id] => only("GET", Route::GetOrder(id)),
        ["admin", "products", id] if m == Method::DELETE => Ok(Route::DisableProduct(id)),
        ["admin", "products", id] => only("PUT, DELETE", Route::UpsertProduct(id)),
        ["admin", "products", id, "price"] => only("PUT", Route::SetPrice(id)),
        ["admin", "stock"] => only("POST", Route::DeliverStock),
        ["ws"] => only("GET", Route::LiveSocket),
        _ => Err(ApiError::not_found(format!(
            "no such endpoint: /api/{path}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn routes_and_methods() {
        assert_eq!(route(&Method::GET, "products"), Ok(Route::ListProducts));
        assert_eq!(
            route(&Method::HEAD, "products/7"),
            Ok(Route::GetProduct("7"))
        );
        assert_eq!(
            route(&Method::PUT, "cart/lines/3"),
            Ok(Route::SetCartLine("3"))
        );
        assert_eq!(route(&Method::POST, "orders"), Ok(Route::PlaceOrder));
        assert_eq!(route(&Method::GET, "ws"), Ok(Route::LiveSocket));
        assert_eq!(route(&Method::GET, "orders/"), Ok(Route::ListOrders));
        assert_eq!(
            route(&Method::DELETE, "admin/products/9"),
            Ok(Route::DisableProduct("9"))
        );
        let e = route(&Method::POST, "products").unwrap_err();
        assert_eq!(
            (e.status, e.allow),
            (StatusCode::METHOD_NOT_ALLOWED, Some("GET"))
        );
        let e = route(&Method::DELETE, "orders").unwrap_err();
        assert_eq!(e.allow, Some("GET, POST"));
        assert_eq!(
            route(&Method::GET, "nope").unwrap_err().status,
            StatusCode::NOT_FOUND
        );
    }
}
