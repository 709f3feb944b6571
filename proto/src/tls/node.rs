//! [`NodeTls`]: a tracker node's TLS configurations, built once from its certificate, key and CA
//! files: the client API server (client certificates optional; one valid for
//! [`ADMIN_NAME`](super::ADMIN_NAME) makes an admin connection), the Raft server (a client
//! certificate of this CA is required) and the Raft client (presents the node's certificate and
//! checks the target's Raft name).

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::{pem, provider, raft_name, TlsError, TRACKER_NAME, VERSIONS};

/// The TLS configurations of one tracker node. Cheap to clone.
#[derive(Clone)]
pub struct NodeTls {
    /// Client API port: the node's certificate; client certificates optional.
    api_server: Arc<rustls::ServerConfig>,
    /// Raft port: the node's certificate; a client certificate of the CA required.
    raft_server: Arc<rustls::ServerConfig>,
    /// Outgoing Raft connections: the node's certificate as client certificate.
    raft_client: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for NodeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeTls").finish_non_exhaustive()
    }
}

impl NodeTls {
    /// Loads node `id`'s certificate chain and key and the CA, and checks that the certificate
    /// chains to the CA and is valid for both [`TRACKER_NAME`] and [`raft_name`]`(id)`.
    ///
    /// # Errors
    /// [`TlsError`] naming the file and the rule it breaks.
    pub fn load(id: u64, cert: &Path, key: &Path, ca: &Path) -> Result<Self, TlsError> {
        let roots = pem::roots(ca)?;
        let (chain, private_key) = pem::identity(cert, key, "node certificate or key")?;
        for name in [TRACKER_NAME.to_string(), raft_name(id)] {
            check_issued_for(&roots, &chain, &name).map_err(|reason| TlsError::Invalid {
                what: "certificate for this node",
                path: cert.to_path_buf(),
                reason: format!(
                    "{reason} (checked against the CA in {}); issue node {id}'s certificate from \
                     this CA with `cluster certs`",
                    ca.display()
                ),
            })?;
        }
        Self::new(roots, chain, private_key).map_err(|e| TlsError::Invalid {
            what: "key for the node certificate",
            path: key.to_path_buf(),
            reason: format!("{e} (is it the key of {}?)", cert.display()),
        })
    }

    /// The configurations for a node presenting `chain`/`key` and trusting `roots`.
    ///
    /// # Errors
    /// [`TlsError::Config`] if rustls refuses the material.
    pub fn new(
        roots: Arc<RootCertStore>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        let err = |what: &'static str| move |e: String| TlsError::Config { what, reason: e };
        let server = |verifier, what: &'static str| {
            rustls::ServerConfig::builder_with_provider(provider())
                .with_protocol_versions(VERSIONS)
                .map_err(|e| err(what)(e.to_string()))?
                .with_client_cert_verifier(verifier)
                .with_single_cert(chain.clone(), key.clone_key())
                .map_err(|e| err(what)(e.to_string()))
        };
        let optional = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
            .allow_unauthenticated()
            .build()
            .map_err(|e| err("the client API port")(e.to_string()))?;
        let required = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
            .build()
            .map_err(|e| err("the Raft port")(e.to_string()))?;
        let api_server = server(optional, "the client API port")?;
        let raft_server = server(required, "the Raft port")?;
        let raft_client = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| err("outgoing Raft connections")(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| err("outgoing Raft connections")(e.to_string()))?;
        Ok(NodeTls {
            api_server: Arc::new(api_server),
            raft_server: Arc::new(raft_server),
            raft_client: Arc::new(raft_client),
        })
    }

    /// Accepts TLS on the client API port.
    pub fn api_acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.api_server.clone())
    }

    /// Accepts TLS on the Raft port.
    pub fn raft_acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.raft_server.clone())
    }

    /// Opens TLS to node `target`'s Raft port over `tcp`, checking its certificate is valid for
    /// [`raft_name`]`(target)` (no timeout here; the caller bounds it).
    ///
    /// # Errors
    /// The handshake's failure (e.g. the address is another node's or another cluster's).
    pub async fn raft_connect(
        &self,
        target: u64,
        tcp: TcpStream,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let name = ServerName::try_from(raft_name(target))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        TlsConnector::from(self.raft_client.clone())
            .connect(name, tcp)
            .await
    }
}

/// Whether `chain` verifies against `roots` as a server certificate for `name` (now), as a client
/// dialling it would check.
fn check_issued_for(
    roots: &Arc<RootCertStore>,
    chain: &[CertificateDer<'static>],
    name: &str,
) -> Result<(), String> {
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots.clone(), provider())
            .build()
            .map_err(|e| e.to_string())?;
    let (leaf, intermediates) = chain.split_first().ok_or("the file holds no certificate")?;
    let name = ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
    verifier
        .verify_server_cert(leaf, intermediates, &name, &[], UnixTime::now())
        .map(|_| ())
        .map_err(|e| format!("not valid for {name:?}: {e}"))
}
