//! A frame's length prefix alone must not make the reader allocate what it announces: the body
//! buffer grows with the bytes that arrive (found by the `peer_frame` fuzz target, whose inputs
//! with a 64 MiB prefix each allocated 64 MiB). Measured with a counting allocator, so this file
//! holds one test (tests of one binary share the allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, keeping the largest single allocation since the last reset.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::SeqCst);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::SeqCst);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::SeqCst);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// Runs a future over an in-memory reader (never pending) to its end.
fn run_ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("an in-memory read was pending"),
    }
}

#[test]
fn a_length_prefix_alone_allocates_little_on_every_port() {
    let announced = 60usize << 20;
    let mut input = u32::try_from(announced).unwrap().to_be_bytes().to_vec();
    // A peer frame of type Refused (0x82), then nothing more.
    input.extend_from_slice(&[0x82, b'x', b'y']);
    let bound = 1 << 20;

    LARGEST.store(0, Ordering::SeqCst);
    let peer = run_ready(proto::peer_msg::read_frame_start(&mut &input[..]));
    assert!(peer.is_err(), "a truncated frame is an error");
    let largest = LARGEST.load(Ordering::SeqCst);
    assert!(
        largest < bound,
        "read_frame_start allocated {largest} bytes"
    );

    LARGEST.store(0, Ordering::SeqCst);
    let plain = run_ready(proto::frame::read_frame(&mut &input[..], 64 << 20));
    assert!(matches!(plain, Err(proto::frame::FrameError::Truncated)));
    let largest = LARGEST.load(Ordering::SeqCst);
    assert!(largest < bound, "read_frame allocated {largest} bytes");
}
