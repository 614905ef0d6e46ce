//! The shopper's app. The Yew single-page app lands here; until then this crate only proves that
//! the shared types build for the browser.

fn main() {
    let _ = shared::paging::PageRequest::default();
}
