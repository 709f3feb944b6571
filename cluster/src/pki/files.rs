//! Writing the PKI's files: certificates world-readable, private keys created with mode 0600
//! (the mode is given to `open`, so the key is never readable by others, not even for an
//! instant). Both are written to a temporary name and renamed into place, so a crash leaves
//! either the old file or the new one.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rcgen::KeyPair;

use super::PkiError;

/// Largest key file read.
const MAX_KEY_BYTES: u64 = 64 << 10;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` through a fresh temporary file created with `mode`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PkiError> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Writes a certificate (PEM), mode 0644.
///
/// # Errors
/// [`PkiError::Io`].
pub fn write_cert(path: &Path, pem: &str) -> Result<(), PkiError> {
    write_new(path, pem.as_bytes(), 0o644)
}

/// Writes a private key (PKCS#8 PEM), mode 0600.
///
/// # Errors
/// [`PkiError::Io`].
pub fn write_key(path: &Path, key: &KeyPair) -> Result<(), PkiError> {
    write_new(path, key.serialize_pem().as_bytes(), 0o600)
}

/// Reads a private key written by [`write_key`].
///
/// # Errors
/// [`PkiError::Io`], or [`PkiError::Invalid`] if it is not a PEM key rcgen can sign with.
pub fn read_key(path: &Path) -> Result<KeyPair, PkiError> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut text = String::new();
    f.take(MAX_KEY_BYTES)
        .read_to_string(&mut text)
        .map_err(io_err(path))?;
    KeyPair::from_pem(&text).map_err(|e| {
        PkiError::Invalid(format!(
            "{} is not a usable private key ({e}); restore it, or use an empty directory for a \
             new CA",
            path.display()
        ))
    })
}
