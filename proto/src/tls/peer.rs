//! [`PeerTls`]: TLS 1.3 on the peer port, mutually authenticated by Ed25519 keys the tracker
//! recorded, without a CA. A daemon presents a self-signed certificate of its own key (made in
//! memory at start, see the peer's `identity` module) as server and as client:
//!
//! - the seeder ([`PeerTls::accept`]) requires a client certificate with an Ed25519 key
//!   ([`AnyEd25519Client`]) and, after the handshake, serves only a ticket whose
//!   `downloader_key` is that key ([`client_key`]);
//! - the downloader ([`PeerTls::connect`]) accepts the seeder only if its key is the one the
//!   tracker listed for the source ([`PinnedSeeder`]); a mismatch is told apart by
//!   [`key_mismatch`].
//!
//! TLS 1.3 only, Ed25519 only, suites in the order AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305
//! (AES-NI makes the first the cheapest here), no session tickets or resumption (one connection
//! per download and seeder, kept for the whole download). Records are at most 16 KiB, the TLS
//! maximum; each connection's outgoing buffer holds [`SEND_BUFFER_BYTES`] of records, so a chunk
//! leaves in a few large socket writes rather than one per record, and the downloader reads the
//! socket in [`RECEIVE_BUFFER_BYTES`] pieces rather than a record at a time. `sendfile` cannot
//! carry TLS records made in user space, and this machine's kernel offers no kernel TLS
//! (`/proc/sys/net/ipv4/tcp_available_ulp` lists only `mptcp`), so chunks go through one read
//! into the connection's buffer and rustls's encryption.

use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio_rustls::{client, server, TlsAcceptor, TlsConnector};

pub use super::peer_verify::{ed25519_key_of, AnyEd25519Client, PeerKeyMismatch, PinnedSeeder};
use super::{TlsError, VERSIONS};

/// The name a downloader puts in its handshake: nothing checks it (the key is the identity),
/// and SNI is off, so it never leaves the machine.
const PEER_SERVER_NAME: &str = "peer";

/// Bytes of encrypted records a connection buffers before a write waits for the socket (rustls's
/// default is 64 KiB): a 512 KiB chunk is encrypted and handed to the kernel in two rounds.
pub const SEND_BUFFER_BYTES: usize = 256 << 10;

/// The downloader's read buffer under TLS: rustls asks the socket for at most one record (16 KiB)
/// at a time, so without it every record costs a system call of its own.
pub const RECEIVE_BUFFER_BYTES: usize = 256 << 10;

/// A downloader's connection to a seeder: TLS over a socket read in large pieces.
pub type SeederStream = client::TlsStream<BufReader<TcpStream>>;

/// The `ring` provider with the peer port's suite order and the Ed25519 algorithm only.
fn peer_provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::cipher_suite as suite;
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = vec![
        suite::TLS13_AES_128_GCM_SHA256,
        suite::TLS13_AES_256_GCM_SHA384,
        suite::TLS13_CHACHA20_POLY1305_SHA256,
    ];
    provider.signature_verification_algorithms = super::peer_verify::ED25519_ONLY;
    Arc::new(provider)
}

/// A daemon's TLS side of the peer port. Cheap to clone.
#[derive(Clone)]
pub struct PeerTls {
    /// The seeder's configuration.
    server: Arc<rustls::ServerConfig>,
    /// The daemon's certificate and signing key, presented by every outgoing connection.
    identity: Arc<CertifiedKey>,
    /// The provider every outgoing connection's configuration is built with.
    provider: Arc<CryptoProvider>,
}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerTls").finish_non_exhaustive()
    }
}

/// Presents the daemon's one certificate to every seeder.
#[derive(Debug)]
struct OwnCert(Arc<CertifiedKey>);

impl ResolvesClientCert for OwnCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        sigschemes
            .contains(&SignatureScheme::ED25519)
            .then(|| self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl PeerTls {
    /// The configurations of a daemon presenting `cert`, the self-signed certificate of its
    /// Ed25519 key `key` (PKCS#8).
    ///
    /// # Errors
    /// [`TlsError::Config`] if rustls refuses the key (not Ed25519, or not the certificate's).
    pub fn new(
        cert: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        let err = |e: rustls::Error| TlsError::Config {
            what: "the peer port",
            reason: e.to_string(),
        };
        if ed25519_key_of(&cert).is_none() {
            return Err(TlsError::Config {
                what: "the peer port",
                reason: "the daemon's certificate is not of an Ed25519 key".into(),
            });
        }
        let provider = peer_provider();
        let signing_key = provider
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(err)?;
        let identity = Arc::new(CertifiedKey::new(vec![cert.clone()], signing_key));
        identity.keys_match().map_err(err)?;
        let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(VERSIONS)
            .map_err(err)?
            .with_client_cert_verifier(Arc::new(AnyEd25519Client))
            .with_single_cert(vec![cert], key)
            .map_err(err)?;
        server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        server.send_tls13_tickets = 0;
        Ok(PeerTls {
            server: Arc::new(server),
            identity,
            provider,
        })
    }

    /// Runs the seeder's side of the handshake on `tcp` (no timeout here; the caller bounds it).
    ///
    /// # Errors
    /// The handshake's failure: a client that does not speak TLS 1.3, presents no certificate
    /// or one whose key is not Ed25519, or closes.
    pub async fn accept(&self, tcp: TcpStream) -> std::io::Result<server::TlsStream<TcpStream>> {
        let mut tls = TlsAcceptor::from(self.server.clone()).accept(tcp).await?;
        tls.get_mut().1.set_buffer_limit(Some(SEND_BUFFER_BYTES));
        Ok(tls)
    }

    /// Opens TLS to a seeder over `tcp`, accepting it only if its key is `seeder_key` (the key
    /// the tracker listed for it); presents this daemon's certificate. No timeout here; the
    /// caller bounds it.
    ///
    /// # Errors
    /// The handshake's failure; [`key_mismatch`] tells a seeder with another key apart.
    pub async fn connect(
        &self,
        seeder_key: [u8; 32],
        tcp: TcpStream,
    ) -> std::io::Result<SeederStream> {
        let verifier: Arc<dyn ServerCertVerifier> = Arc::new(PinnedSeeder {
            expected: seeder_key,
        });
        let mut config = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(VERSIONS)
            .map_err(std::io::Error::other)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(Arc::new(OwnCert(self.identity.clone())));
        config.resumption = rustls::client::Resumption::disabled();
        config.enable_sni = false;
        let name = ServerName::try_from(PEER_SERVER_NAME).map_err(std::io::Error::other)?;
        let socket = BufReader::with_capacity(RECEIVE_BUFFER_BYTES, tcp);
        let mut tls = TlsConnector::from(Arc::new(config))
            .connect(name, socket)
            .await?;
        tls.get_mut().1.set_buffer_limit(Some(SEND_BUFFER_BYTES));
        Ok(tls)
    }
}

/// The Ed25519 key of the client certificate a seeder's connection was accepted with (`None`
/// cannot happen after [`PeerTls::accept`], which requires one).
pub fn client_key(tls: &server::TlsStream<TcpStream>) -> Option<[u8; 32]> {
    tls.get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(ed25519_key_of)
}

/// The pinning failure inside a failed [`PeerTls::connect`], if that is why it failed.
pub fn key_mismatch(e: &std::io::Error) -> Option<&PeerKeyMismatch> {
    match e.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            other.0.downcast_ref::<PeerKeyMismatch>()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A daemon's TLS side with a fresh key, and that key.
    fn daemon() -> (PeerTls, [u8; 32]) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["peer".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let public: [u8; 32] = key.public_key_raw().try_into().unwrap();
        let der = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        (PeerTls::new(cert.der().clone(), der).unwrap(), public)
    }

    /// One connection from `client` to `server`, pinned to `pinned`: what the client's handshake
    /// returned, and the client key the server saw (if its handshake succeeded).
    async fn connect_once(
        server: &PeerTls,
        client: &PeerTls,
        pinned: [u8; 32],
    ) -> (std::io::Result<()>, Option<[u8; 32]>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = server.clone();
        let seen = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = server.accept(tcp).await.ok()?;
            let key = client_key(&tls);
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).await.ok()?;
            tls.write_all(&byte).await.ok()?;
            tls.flush().await.ok()?;
            key
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let outcome = async {
            let mut tls = client.connect(pinned, tcp).await?;
            let session = tls.get_ref().1;
            assert_eq!(
                session.protocol_version(),
                Some(rustls::ProtocolVersion::TLSv1_3)
            );
            assert_eq!(
                session.negotiated_cipher_suite().map(|s| s.suite()),
                Some(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256)
            );
            tls.write_all(&[7]).await?;
            tls.flush().await?;
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).await?;
            assert_eq!(byte, [7]);
            Ok(())
        }
        .await;
        (outcome, seen.await.unwrap())
    }

    #[tokio::test]
    async fn the_pinned_seeder_is_reached_and_sees_the_downloaders_key() {
        let ((seeder, seeder_key), (downloader, downloader_key)) = (daemon(), daemon());
        let (outcome, seen) = connect_once(&seeder, &downloader, seeder_key).await;
        outcome.unwrap();
        assert_eq!(seen, Some(downloader_key));
    }

    #[tokio::test]
    async fn a_seeder_with_another_key_is_refused_as_a_mismatch() {
        let ((seeder, seeder_key), (downloader, _), (_, other_key)) =
            (daemon(), daemon(), daemon());
        let (outcome, seen) = connect_once(&seeder, &downloader, other_key).await;
        let e = outcome.unwrap_err();
        let mismatch = key_mismatch(&e).unwrap_or_else(|| panic!("{e:?}"));
        assert_eq!(
            (mismatch.expected, mismatch.presented),
            (other_key, seeder_key)
        );
        assert_eq!(seen, None, "the seeder's handshake failed too");
    }

    #[tokio::test]
    async fn a_client_without_a_certificate_fails_the_handshake() {
        let (seeder, seeder_key) = daemon();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            seeder.accept(tcp).await.map(|_| ())
        });
        let config = rustls::ClientConfig::builder_with_provider(peer_provider())
            .with_protocol_versions(VERSIONS)
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedSeeder {
                expected: seeder_key,
            }))
            .with_no_client_auth();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from(PEER_SERVER_NAME).unwrap();
        // TLS 1.3 clients finish first; the refusal shows on the first read at the latest.
        if let Ok(mut tls) = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
        {
            let mut byte = [0u8; 1];
            assert!(!matches!(tls.read(&mut byte).await, Ok(1)));
        }
        assert!(accepted.await.unwrap().is_err());
    }

    #[tokio::test]
    async fn plaintext_on_the_peer_port_fails_the_handshake() {
        let (seeder, _) = daemon();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut plain = TcpStream::connect(addr).await.unwrap();
        // A hello frame of the plaintext protocol: length prefix, type, magic.
        plain
            .write_all(&[0, 0, 0, 5, 1, 0x50, 0x32, 0x50, 0x50])
            .await
            .unwrap();
        let (tcp, _) = listener.accept().await.unwrap();
        assert!(seeder.accept(tcp).await.is_err());
    }
}
