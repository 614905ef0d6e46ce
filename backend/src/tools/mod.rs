//! The shop's tools beside the server: the catalog import, the demo data generator, the order
//! audit of a flash sale, and the bodies of the fuzz targets.

pub mod audit;
pub mod fuzzing;
pub mod generate;
pub mod import;
