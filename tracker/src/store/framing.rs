//! The `u32 BE` length-prefixed fields shared by the undo record ([`super::undo`]) and the
//! snapshot image ([`super::image`]).

/// Appends `field` with its `u32 BE` length in front. Keys and values are far below 4 GiB; a
/// larger one cannot come from our own writes and is written with a length of `u32::MAX`.
pub fn push_sized(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(field);
}

/// Splits a `u32 BE` length and that many bytes off the front.
pub fn take_sized(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len_bytes: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    let len = usize::try_from(u32::from_be_bytes(len_bytes)).ok()?;
    let rest = bytes.get(4..)?;
    let body = rest.get(..len)?;
    Some((body, rest.get(len..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_round_trips_and_every_truncation_is_refused() {
        let mut out = Vec::new();
        push_sized(&mut out, b"abc");
        out.push(9);
        assert_eq!(take_sized(&out), Some((&b"abc"[..], &[9u8][..])));
        for cut in 0..7 {
            assert_eq!(take_sized(&out[..cut]), None, "cut {cut}");
        }
    }
}
