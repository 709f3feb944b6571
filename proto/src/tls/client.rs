//! [`ClientTls`]: what a client of the client API port trusts (the cluster CA) and, for admin
//! work, the client certificate it presents. Every connection checks that the server's
//! certificate chains to the CA and is valid for [`TRACKER_NAME`], whatever address it dialled, so
//! a proxy or a NAT in between changes nothing.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::RootCertStore;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{pem, provider, TlsError, TRACKER_NAME, VERSIONS};

/// The TLS side of a tracker client: the CA it trusts and an optional client identity. Cheap to
/// clone.
#[derive(Clone)]
pub struct ClientTls {
    /// The rustls configuration every connection of this client uses.
    config: Arc<rustls::ClientConfig>,
    /// Whether a client certificate is presented.
    has_identity: bool,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("has_identity", &self.has_identity)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Trusts `roots`; presents `identity` (certificate chain, key) if given.
    ///
    /// # Errors
    /// [`TlsError::Config`] if rustls refuses the identity (the key does not match the
    /// certificate).
    pub fn new(
        roots: Arc<RootCertStore>,
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    ) -> Result<Self, TlsError> {
        let config_err = |e: rustls::Error| TlsError::Config {
            what: "the client certificate",
            reason: e.to_string(),
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .map_err(config_err)?
            .with_root_certificates(roots);
        let has_identity = identity.is_some();
        let config = match identity {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(config_err)?,
            None => builder.with_no_client_auth(),
        };
        Ok(ClientTls {
            config: Arc::new(config),
            has_identity,
        })
    }

    /// Reads the CA file and, if given, the client certificate and key files.
    ///
    /// # Errors
    /// [`TlsError`] naming the file that cannot be used.
    pub fn from_files(ca: &Path, identity: Option<(&Path, &Path)>) -> Result<Self, TlsError> {
        let roots = pem::roots(ca)?;
        let identity = match identity {
            Some((cert, key)) => Some(pem::identity(cert, key, "admin certificate or key")?),
            None => None,
        };
        Self::new(roots, identity)
    }

    /// Whether this client presents a certificate.
    pub fn has_identity(&self) -> bool {
        self.has_identity
    }

    /// Runs the TLS handshake on `tcp`, checking the server is a tracker of this cluster (no
    /// timeout here; the caller bounds it).
    ///
    /// # Errors
    /// The handshake's failure: a certificate of another CA or not valid for [`TRACKER_NAME`], a
    /// server that does not speak TLS 1.3, or a closed connection.
    pub async fn connect(&self, tcp: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        let name =
            ServerName::try_from(TRACKER_NAME).map_err(|e| std::io::Error::other(e.to_string()))?;
        TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
    }
}
