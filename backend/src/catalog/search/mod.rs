//! Product search: the index the catalog fold keeps per event ([`index`]), the words and terms
//! it is made of ([`text`]), how a query is answered from it ([`query`]) and where large queries
//! run ([`pool`]).

pub mod index;
pub mod oracle;
pub mod pool;
pub mod query;
pub mod text;

pub use index::SearchIndex;
pub use pool::SearchPool;
pub use query::{Filters, Found, Order, Plan, Typos};

#[cfg(test)]
mod tests;
