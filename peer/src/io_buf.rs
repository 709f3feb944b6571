//! Chunk buffers for the data path: aligned for direct I/O ([`IO_ALIGN`]), with room for a frame
//! header right before the data (so a chunk goes to the socket in one write), and pooled so the
//! same warm memory serves chunk after chunk instead of fresh allocations.

use std::sync::Mutex;

/// Alignment of buffer addresses, file offsets and lengths for direct I/O. 4096 covers the
/// logical block size of practically every disk; [`crate::chunk_store::ChunkFile`] falls back to
/// buffered I/O if the device wants more.
pub const IO_ALIGN: usize = 4096;

/// Bytes available right before the data for a frame header.
pub const HEADROOM: usize = 16;

/// A heap buffer whose data area starts at an [`IO_ALIGN`]-aligned address, with [`HEADROOM`]
/// bytes before it.
pub struct AlignedBuf {
    mem: Vec<u8>,
    start: usize,
    capacity: usize,
}

impl AlignedBuf {
    /// A zeroed buffer holding up to `capacity` bytes of data.
    pub fn new(capacity: usize) -> Self {
        let mem = vec![0u8; capacity + HEADROOM + IO_ALIGN];
        let base = mem.as_ptr().addr() + HEADROOM;
        let start = HEADROOM + (IO_ALIGN - base % IO_ALIGN) % IO_ALIGN;
        AlignedBuf {
            mem,
            start,
            capacity,
        }
    }

    /// Bytes of data the buffer can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The first `len` bytes of data (at most the capacity).
    pub fn data(&self, len: usize) -> &[u8] {
        let end = self.start + len.min(self.capacity);
        self.mem.get(self.start..end).unwrap_or(&[])
    }

    /// The first `len` bytes of data, writable (at most the capacity).
    pub fn data_mut(&mut self, len: usize) -> &mut [u8] {
        let end = self.start + len.min(self.capacity);
        self.mem.get_mut(self.start..end).unwrap_or(&mut [])
    }

    /// `header` followed by the first `len` bytes of data, as one contiguous slice; `header` is
    /// copied into the headroom. `None` if the header is longer than [`HEADROOM`].
    pub fn framed(&mut self, header: &[u8], len: usize) -> Option<&[u8]> {
        if header.len() > HEADROOM {
            return None;
        }
        let from = self.start.checked_sub(header.len())?;
        let end = self.start + len.min(self.capacity);
        self.mem.get_mut(from..self.start)?.copy_from_slice(header);
        self.mem.get(from..end)
    }
}

/// Free buffers of one size, kept for reuse (at most `keep` of them).
pub struct BufPool {
    buf_bytes: usize,
    keep: usize,
    free: Mutex<Vec<AlignedBuf>>,
}

impl BufPool {
    /// A pool of buffers of `buf_bytes` that keeps up to `keep` free ones.
    pub fn new(buf_bytes: usize, keep: usize) -> Self {
        BufPool {
            buf_bytes,
            keep,
            free: Mutex::new(Vec::new()),
        }
    }

    /// A free buffer, or a new one.
    pub fn take(&self) -> AlignedBuf {
        self.free
            .lock()
            .ok()
            .and_then(|mut f| f.pop())
            .unwrap_or_else(|| AlignedBuf::new(self.buf_bytes))
    }

    /// Returns a buffer for reuse (dropped if the pool is full or it is of another size).
    pub fn give(&self, buf: AlignedBuf) {
        if buf.capacity != self.buf_bytes {
            return;
        }
        if let Ok(mut f) = self.free.lock() {
            if f.len() < self.keep {
                f.push(buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_aligned_and_framed_is_contiguous() {
        for cap in [0, 1, 4096, 10_000] {
            let mut b = AlignedBuf::new(cap);
            assert_eq!(b.data(cap).as_ptr().addr() % IO_ALIGN, 0);
            assert_eq!(b.data(cap + 5).len(), cap, "clamped to the capacity");
            b.data_mut(cap).fill(7);
            let framed = b.framed(&[1, 2, 3], cap).unwrap();
            assert_eq!(framed.len(), cap + 3);
            assert_eq!(&framed[..3], &[1, 2, 3]);
            assert!(framed[3..].iter().all(|&x| x == 7));
            assert!(b.framed(&[0; HEADROOM + 1], cap).is_none());
        }
    }

    #[test]
    fn pool_reuses_up_to_keep_buffers_of_its_size() {
        let pool = BufPool::new(100, 1);
        let a = pool.take();
        let addr = a.data(1).as_ptr().addr();
        pool.give(a);
        pool.give(AlignedBuf::new(100));
        pool.give(AlignedBuf::new(50));
        assert_eq!(pool.free.lock().unwrap().len(), 1);
        assert_eq!(pool.take().data(1).as_ptr().addr(), addr);
    }
}
