//! Reusable widgets, one file per visible thing: they render what their props say and report
//! the shopper's clicks through callbacks. Components may use hooks, never pages.

mod cart_line;
mod category_facets;
mod error_panel;
mod header;
mod highlighted;
mod notice_box;
mod order_lines;
mod page_size_select;
mod pager;
mod price_filter;
mod product_card;
mod search_box;
mod search_notes;
mod sort_select;
mod spinner;
mod stock_label;
mod suggestions;

pub use cart_line::CartLine;
pub use category_facets::CategoryFacets;
pub use error_panel::ErrorPanel;
pub use header::Header;
pub use highlighted::highlighted;
pub use notice_box::NoticeBox;
pub use order_lines::OrderLines;
pub use page_size_select::PageSizeSelect;
pub use pager::Pager;
pub use price_filter::PriceFilter;
pub use product_card::{ProductCard, ProductImage};
pub use search_box::SearchBox;
pub use search_notes::SearchNotes;
pub use sort_select::SortSelect;
pub use spinner::Spinner;
pub use stock_label::StockLabel;
pub use suggestions::Suggestions;
