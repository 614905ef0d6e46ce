//! The app's addresses: its routes, and links into the catalog whose state is a query string.

use yew::prelude::*;
use yew_router::prelude::*;
use yew_router::query::Raw;

#[derive(Debug, Clone, PartialEq, Routable)]
pub enum Route {
    #[at("/")]
    Catalog,
    #[at("/product/:id")]
    Product { id: u64 },
    #[at("/cart")]
    Cart,
    #[at("/orders")]
    Orders,
    #[at("/orders/:id")]
    Order { id: u64 },
    #[at("/admin")]
    AdminProducts,
    #[at("/admin/products/new")]
    AdminNewProduct,
    #[at("/admin/products/:id")]
    AdminProduct { id: u64 },
    #[at("/admin/imports")]
    AdminImports,
    #[at("/admin/orders")]
    AdminOrders,
    #[at("/admin/events")]
    AdminEvents,
    #[not_found]
    #[at("/404")]
    NotFound,
}

impl Route {
    /// The operator's pages, under `/admin`.
    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Route::AdminProducts
                | Route::AdminNewProduct
                | Route::AdminProduct { .. }
                | Route::AdminImports
                | Route::AdminOrders
                | Route::AdminEvents
        )
    }
}

/// The URL of the catalog with a query string (for `href`s, so links can be opened in new tabs).
pub fn catalog_href(query: &str) -> String {
    if query.is_empty() {
        "/".to_owned()
    } else {
        format!("/?{query}")
    }
}

/// Shows the catalog for a query string, as a new history entry.
pub fn go_catalog(navigator: &Navigator, query: &str) {
    if query.is_empty() {
        navigator.push(&Route::Catalog);
    } else {
        let _ = navigator.push_with_query(&Route::Catalog, Raw(query.to_owned()));
    }
}

/// An `onclick` for a plain `<a href>` that navigates inside the app, leaving modified clicks
/// (new tab, new window) to the browser.
pub fn follow_catalog(navigator: Navigator, query: String) -> Callback<MouseEvent> {
    Callback::from(move |e: MouseEvent| {
        if e.ctrl_key() || e.meta_key() || e.shift_key() || e.alt_key() || e.button() != 0 {
            return;
        }
        e.prevent_default();
        go_catalog(&navigator, &query);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_routes() {
        assert_eq!(
            Route::recognize("/admin/products/new"),
            Some(Route::AdminNewProduct)
        );
        assert_eq!(
            Route::recognize("/admin/products/7"),
            Some(Route::AdminProduct { id: 7 })
        );
        assert!(Route::recognize("/admin/events").is_some_and(|r| r.is_admin()));
        assert!(!Route::Cart.is_admin());
    }

    #[test]
    fn catalog_links() {
        assert_eq!(catalog_href(""), "/");
        assert_eq!(catalog_href("q=a"), "/?q=a");
    }
}
