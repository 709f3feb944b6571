//! Fuzz target `raft_frame`: arbitrary bytes through `tracker::fuzz_entry::raft_frame` (see that function
//! for what it decodes and checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = tracker::fuzz_entry::raft_frame(data);
});
