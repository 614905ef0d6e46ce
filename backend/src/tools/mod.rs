//! The shop's tools beside the server: the demo data generator, the order audit of a flash
//! sale, and the bodies of the fuzz targets. (The CSV import's core is [`crate::admin::import`]:
//! the server's uploads use it too.)

pub mod audit;
pub mod fuzzing;
pub mod generate;
