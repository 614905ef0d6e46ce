//! The operator's pages under `/admin`: a shell (sign-in, navigation, the event-log
//! connection's state, sign-out) around the products table, the product form, CSV imports, the
//! orders across carts and the event log. Each page reads the admin API and reads again what
//! an applied event touched, so what it shows follows other operators and shoppers live.

mod events;
mod imports;
mod orders;
mod product;
mod products;
mod shell;

pub use events::AdminEvents;
pub use imports::AdminImports;
pub use orders::AdminOrders;
pub use product::AdminProduct;
pub use products::AdminProducts;
pub use shell::AdminShell;
