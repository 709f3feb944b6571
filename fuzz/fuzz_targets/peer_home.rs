//! Fuzz target `peer_home`: arbitrary bytes through `peer::fuzz_entry::peer_home` (see that function
//! for what it decodes and checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = peer::fuzz_entry::peer_home(data);
});
