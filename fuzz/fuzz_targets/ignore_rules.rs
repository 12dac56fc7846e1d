#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nubo_fuzz::ignore_rules::check(data));
