#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nubo_fuzz::chunking::check(data));
