#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| backend::fuzzing::import_stock(data));
