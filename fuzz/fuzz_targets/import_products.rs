#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| backend::tools::fuzzing::import_products(data));
