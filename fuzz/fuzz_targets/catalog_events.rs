#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| backend::fuzzing::catalog_events(data));
