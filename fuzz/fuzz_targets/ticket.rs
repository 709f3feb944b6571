//! Fuzz target `ticket`: arbitrary bytes through `proto::fuzz_entry::ticket` (see that function
//! for what it decodes and checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = proto::fuzz_entry::ticket(data);
});
