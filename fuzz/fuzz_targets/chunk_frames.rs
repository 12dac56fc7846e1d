#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nubo_fuzz::chunk_frames::check(data));
