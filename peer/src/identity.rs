//! The daemon's identity on the peer port: an Ed25519 key pair kept in `HOME/peer-key.pem`
//! (PKCS#8, mode 0600), made on the first start and reused after, and a self-signed certificate
//! for it made in memory at every start. The tracker records the public key when the daemon
//! registers; downloaders pin it, and tickets issued to this daemon name it.
//!
//! The key is made and parsed by rcgen (with `ring`); its public half is checked with
//! ed25519-dalek, as the tracker checks it. The file is created exclusively (written to a
//! temporary file, then linked into place, so a crash leaves no half-written key and two
//! daemons starting at once end up with the same key).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use proto::tls::PeerTls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::home::Home;

/// The name the self-signed certificate is made for (nobody checks it: the key is the identity).
const CERT_NAME: &str = "peer";

/// Largest key file read (a PKCS#8 PEM of an Ed25519 key is about 120 bytes).
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Why the daemon's key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The file cannot be read or written.
    #[error("cannot access the peer key {}: {source}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold an Ed25519 key.
    #[error(
        "{} does not hold this daemon's Ed25519 key ({reason}); delete it and start the daemon \
         again to make a new key (the tracker records the new key when the daemon registers)",
        path.display()
    )]
    Malformed {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Others may read the file.
    #[error(
        "{} may be read by other users (mode {mode:o}); run `chmod 600` on it, or delete it to \
         make a new key",
        path.display()
    )]
    NotPrivate {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The certificate could not be made, or rustls refused the key.
    #[error("cannot make the peer certificate: {0}")]
    Certificate(String),
}

/// The daemon's key and what is made of it at start.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The Ed25519 public key the tracker records.
    pub public_key: [u8; 32],
    /// TLS on the peer port with the certificate of that key.
    pub tls: PeerTls,
}

/// Path of the key file in `home`.
pub fn key_path(home: &Home) -> PathBuf {
    home.dir.join("peer-key.pem")
}

/// Loads the key of `home`, making it on the first start, and the certificate for it.
///
/// # Errors
/// [`IdentityError`]: the file cannot be read or written, is not an Ed25519 key, or may be read
/// by others.
pub fn load_or_create(home: &Home) -> Result<Identity, IdentityError> {
    let path = key_path(home);
    let key = match read_key_file(&path)? {
        Some(pem) => parse(&path, &pem)?,
        None => create(&path)?,
    };
    identity_of(&path, &key)
}

/// The key file's text, or `None` if there is none yet.
fn read_key_file(path: &Path) -> Result<Option<String>, IdentityError> {
    use std::io::Read;
    let io = |source| IdentityError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(IdentityError::NotPrivate {
            path: path.to_path_buf(),
            mode,
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(malformed(path, "the file is too large for a key"));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| malformed(path, "the file is not PEM text"))
}

fn malformed(path: &Path, reason: &str) -> IdentityError {
    IdentityError::Malformed {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Parses a PKCS#8 PEM and checks it is an Ed25519 key.
fn parse(path: &Path, pem: &str) -> Result<rcgen::KeyPair, IdentityError> {
    let key = rcgen::KeyPair::from_pem(pem)
        .map_err(|e| malformed(path, &format!("not a PKCS#8 PEM private key: {e}")))?;
    if key.algorithm() != &rcgen::PKCS_ED25519 {
        return Err(malformed(path, "the key is not an Ed25519 key"));
    }
    Ok(key)
}

/// Makes a key and stores it at `path`, unless another process stored one first (then that one
/// is used).
fn create(path: &Path) -> Result<rcgen::KeyPair, IdentityError> {
    let io = |source| IdentityError::Io {
        path: path.to_path_buf(),
        source,
    };
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
        .map_err(|e| IdentityError::Certificate(e.to_string()))?;
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(key.serialize_pem().as_bytes())?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let pem = read_key_file(path)?.ok_or_else(|| malformed(path, "vanished"))?;
            parse(path, &pem)
        }
        Err(e) => Err(io(e)),
    }
}

/// The public key (checked as the tracker checks it), a self-signed certificate and the TLS
/// configurations.
fn identity_of(path: &Path, key: &rcgen::KeyPair) -> Result<Identity, IdentityError> {
    let public_key: [u8; 32] = key
        .public_key_raw()
        .try_into()
        .map_err(|_| malformed(path, "the public key is not 32 bytes"))?;
    match ed25519_dalek::VerifyingKey::from_bytes(&public_key) {
        Ok(k) if !k.is_weak() => {}
        _ => {
            return Err(malformed(
                path,
                "the public key is not a valid Ed25519 point",
            ))
        }
    }
    let cert = rcgen::CertificateParams::new(vec![CERT_NAME.to_string()])
        .and_then(|params| params.self_signed(key))
        .map_err(|e| IdentityError::Certificate(e.to_string()))?;
    let der: CertificateDer<'static> = cert.der().clone();
    let secret = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let tls = PeerTls::new(der, secret).map_err(|e| IdentityError::Certificate(e.to_string()))?;
    Ok(Identity { public_key, tls })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::open(dir.path()).unwrap();
        let first = load_or_create(&home).unwrap();
        let mode = std::fs::metadata(key_path(&home))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(&home).unwrap();
        assert_eq!(first.public_key, again.public_key);
        // A wiped home makes a new key.
        std::fs::remove_file(key_path(&home)).unwrap();
        assert_ne!(load_or_create(&home).unwrap().public_key, first.public_key);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_malformed_or_readable_key_file_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::open(dir.path()).unwrap();
        let path = key_path(&home);
        let p256 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        for bad in [
            String::new(),
            "not a key".to_string(),
            p256.serialize_pem(),
            "x".repeat(5000),
        ] {
            std::fs::write(&path, &bad).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let e = load_or_create(&home).unwrap_err();
            assert!(matches!(e, IdentityError::Malformed { .. }), "{e:?}");
            assert!(e.to_string().contains("delete it"), "{e}");
        }
        let good = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        std::fs::write(&path, good.serialize_pem()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create(&home).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let loaded = load_or_create(&home).unwrap();
        assert_eq!(loaded.public_key.to_vec(), good.public_key_raw());
    }
}
