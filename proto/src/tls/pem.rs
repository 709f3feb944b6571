//! Reading PEM files: certificates (a chain, leaf first), one private key, and the CA roots. Each
//! file is read whole up to [`MAX_PEM_BYTES`], and every error names the file and what it should
//! have held.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

use super::TlsError;

/// Largest PEM file read (a certificate chain or key is a few KiB).
pub const MAX_PEM_BYTES: u64 = 1 << 20;

/// The bytes of `path`, at most [`MAX_PEM_BYTES`].
fn read_bounded(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    let read_err = |cause| TlsError::Read {
        what,
        path: path.to_path_buf(),
        cause,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(TlsError::Invalid {
            what,
            path: path.to_path_buf(),
            reason: format!("larger than {MAX_PEM_BYTES} bytes"),
        });
    }
    Ok(bytes)
}

/// The certificates in `path` (PEM), in file order; at least one.
///
/// # Errors
/// [`TlsError::Read`] or [`TlsError::Invalid`] naming `path`.
pub fn certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_bounded(path, what)?;
    let invalid = |reason: String| TlsError::Invalid {
        what,
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("{e}")))?;
    if certs.is_empty() {
        return Err(invalid(
            "no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certs)
}

/// The private key in `path` (PEM: PKCS#8, SEC1 or PKCS#1).
///
/// # Errors
/// [`TlsError::Read`] or [`TlsError::Invalid`] naming `path`.
pub fn key(path: &Path, what: &'static str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read_bounded(path, what)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Invalid {
        what,
        path: path.to_path_buf(),
        reason: format!("{e} (expected -----BEGIN PRIVATE KEY-----)"),
    })
}

/// The trust anchors in `path`: every certificate in it is a trusted CA (two during a CA change).
///
/// # Errors
/// [`TlsError::Read`] or [`TlsError::Invalid`] naming `path`.
pub fn roots(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    const WHAT: &str = "CA certificate";
    let mut store = RootCertStore::empty();
    for cert in certs(path, WHAT)? {
        store.add(cert).map_err(|e| TlsError::Invalid {
            what: WHAT,
            path: path.to_path_buf(),
            reason: format!("{e}"),
        })?;
    }
    Ok(Arc::new(store))
}

/// A certificate chain and its key, read from two files.
///
/// # Errors
/// As [`certs`] and [`key`].
pub fn identity(
    cert: &Path,
    key_path: &Path,
    what: &'static str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    Ok((certs(cert, what)?, key(key_path, what)?))
}
