//! TLS between nodes (feature `tls`), as Erlang's `-proto_dist inet_tls`: the cookie
//! handshake then runs inside an encrypted, authenticated stream.
//!
//! ```
//! # use actors_net::prelude::*;
//! # use actors_net::tls::Tls;
//! # fn certificate() -> (rustls::pki_types::CertificateDer<'static>,
//! #     Vec<rustls::pki_types::CertificateDer<'static>>, rustls::pki_types::PrivateKeyDer<'static>) {
//! #     let ca_key = rcgen::KeyPair::generate().unwrap();
//! #     let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
//! #     ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
//! #     let ca_cert = ca.self_signed(&ca_key).unwrap();
//! #     let issuer = rcgen::Issuer::new(ca, ca_key);
//! #     let key = rcgen::KeyPair::generate().unwrap();
//! #     let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
//! #     let cert = leaf.signed_by(&key, &issuer).unwrap();
//! #     (ca_cert.der().clone(), vec![cert.der().clone()],
//! #      rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()))
//! # }
//! # actors::rt::block_on(async {
//! // The cluster's CA, and this node's certificate chain and key (PEM files, a secret store...).
//! let (ca, chain, key) = certificate();
//! let tls = Tls::mutual(ca, chain, key)?;
//! let node = Node::builder("a@127.0.0.1:0").cookie("secret").transport(tls).start().await?;
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

use std::io;
use std::sync::Arc;

use actors::dist::rt::net::{TcpListener, TcpStream};
use futures::AsyncReadExt;
use futures::future::BoxFuture;
use futures_rustls::{TlsAcceptor, TlsConnector};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::transport::{Incoming, Listener, Stream, Transport, peer_of};

/// The rustls this transport is built with, for making its configurations and keys.
pub use rustls;

/// Why a TLS transport could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key was refused, or the configuration is inconsistent.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The client verifier could not be built from the CA.
    #[error("TLS client verification: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// TCP with TLS: incoming connections are served with one rustls configuration, outgoing
/// ones dialled with another. A peer's certificate is checked against the host in its node
/// name (`name@host:port`).
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
}

impl Tls {
    /// From rustls configurations, for full control (certificate reloading, other verifiers).
    pub fn new(server: Arc<ServerConfig>, client: Arc<ClientConfig>) -> Self {
        Tls {
            acceptor: TlsAcceptor::from(server),
            connector: TlsConnector::from(client),
        }
    }

    /// Mutual TLS, as a cluster usually wants: every node presents `chain` (its certificate
    /// first) and `key`, and accepts only peers whose certificate `ca` signed, both when it
    /// dials and when it is dialled.
    pub fn mutual(
        ca: CertificateDer<'static>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        // The provider is named here rather than installed process-wide, so this works
        // whatever else in the program uses rustls.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(ca)?;
        let roots = Arc::new(roots);
        let verifier =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone()).build()?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?;
        Ok(Tls::new(Arc::new(server), Arc::new(client)))
    }
}

/// A TLS stream split into its two directions; closing shuts the socket under it.
fn split<S>(tls: S, tcp: TcpStream, peer: String) -> Stream
where
    S: futures::AsyncRead + futures::AsyncWrite + Send + Unpin + 'static,
{
    let (reader, writer) = tls.split();
    Stream {
        reader: Box::new(reader),
        writer: Box::new(writer),
        close: Box::new(move || {
            let _ = tcp.shutdown(std::net::Shutdown::Both);
        }),
        peer,
    }
}

struct TlsListen {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl Listener for TlsListen {
    fn local_addr(&self) -> io::Result<String> {
        Ok(self.tcp.local_addr()?.to_string())
    }

    fn accept(&self) -> BoxFuture<'_, io::Result<Incoming>> {
        Box::pin(async move {
            let (tcp, _) = self.tcp.accept().await?;
            tcp.set_nodelay(true)?;
            let peer = peer_of(&tcp);
            let acceptor = self.acceptor.clone();
            let stream = {
                let peer = peer.clone();
                Box::pin(async move {
                    let tls = acceptor.accept(tcp.clone()).await?;
                    Ok(split(tls, tcp, peer))
                }) as BoxFuture<'static, io::Result<Stream>>
            };
            Ok(Incoming { peer, stream })
        })
    }
}

impl Transport for Tls {
    fn listen<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let l: Box<dyn Listener> = Box::new(TlsListen {
                tcp: TcpListener::bind(addr).await?,
                acceptor: self.acceptor.clone(),
            });
            Ok(l)
        })
    }

    fn dial<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Stream>> {
        Box::pin(async move {
            let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
            let name = ServerName::try_from(host.to_string())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let peer = peer_of(&tcp);
            let tls = self.connector.connect(name, tcp.clone()).await?;
            Ok(split(tls, tcp, peer))
        })
    }
}
