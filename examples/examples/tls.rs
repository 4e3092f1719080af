//! Nodes over mutual TLS: a certificate authority for the cluster, a certificate per node,
//! a remote call inside the encrypted stream, and nodes without the right certificate turned
//! away before the cookie handshake starts.
//!
//! Run it with `cargo run --example tls`. In a real cluster the CA and each node's certificate
//! and key come from files or a secret store; here they are made on the spot with `rcgen`.

use actors_net::prelude::*;
use actors_net::tls::Tls;
use actors_net::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A counter, to call across the encrypted link.
#[actor]
struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    /// Adds `by`; replies with the total.
    #[handle]
    fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }
}

/// A certificate authority: its certificate, and what signs node certificates.
struct Ca {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Result<Ca, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// A transport for a node on 127.0.0.1: its own certificate, signed by this CA, and
    /// trust in this CA for its peers.
    fn transport(&self) -> Result<Tls, Box<dyn std::error::Error>> {
        let key = KeyPair::generate()?;
        let params = CertificateParams::new(vec!["127.0.0.1".to_string()])?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let key = PrivateKeyDer::Pkcs8(key.serialize_der().into());
        Ok(Tls::mutual(
            self.cert.clone(),
            vec![cert.der().clone()],
            key,
        )?)
    }
}

async fn node(name: &str, transport: Tls) -> Result<Node, Box<dyn std::error::Error>> {
    Ok(Node::builder(&format!("{name}@127.0.0.1:0"))
        .cookie("tls")
        .transport(transport)
        .start()
        .await?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    actors_net::logs::init();
    actors::rt::block_on(async {
        println!("1. a CA for the cluster, and two nodes with certificates it signed");
        let ca = Ca::new()?;
        let a = node("a", ca.transport()?).await?;
        let b = node("b", ca.transport()?).await?;
        b.connect(a.name()).await?;
        println!("    b connected to a over TLS: a sees {:?}", a.nodes());

        println!("\n2. a remote call, encrypted on the way");
        let counter = a.spawn(Counter { n: 0 });
        a.register("counter", &counter)?;
        let remote: Pid<Counter> = b.whereis_on("counter", a.name()).await?;
        println!(
            "    b calls add(5) on a's counter -> {}",
            remote.add(5).await?
        );

        println!("\n3. a node whose certificate another CA signed is turned away");
        let stranger = node("stranger", Ca::new()?.transport()?).await?;
        match stranger.connect(a.name()).await {
            Ok(()) => return Err("the stranger got in".into()),
            Err(e) => println!("    stranger -> {e}"),
        }
        println!("    a still sees only {:?}", a.nodes());

        for n in [&a, &b, &stranger] {
            n.shutdown().await;
        }
        Ok(())
    })
}
