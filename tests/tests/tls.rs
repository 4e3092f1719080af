//! The TLS transport: nodes with certificates from the cluster's CA talk as over TCP; a node
//! without TLS, with a certificate from another CA, or with the wrong cookie is refused while
//! the others keep working; a peer that never finishes its TLS handshake holds nobody up.

use std::time::Duration;

use actors::rt::block_on;
use actors_integration::*;
use actors_net::prelude::*;
use actors_net::tls::Tls;
use actors_net::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use actors_net::{ConnectError, DistNode};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A certificate authority for one test's cluster.
struct Ca {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Ca {
        let key = KeyPair::generate().expect("a key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("a CA certificate");
        Ca {
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A node's transport: a certificate for 127.0.0.1 signed by this CA, trusting this CA.
    fn transport(&self) -> Tls {
        let key = KeyPair::generate().expect("a key");
        let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("a node certificate");
        Tls::mutual(
            self.cert.clone(),
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("a valid configuration")
    }
}

async fn tls_node(name: &str, ca: &Ca, cookie: &str) -> Node {
    Node::builder(&format!("{name}@127.0.0.1:0"))
        .cookie(cookie)
        .transport(ca.transport())
        .heartbeat(Duration::from_millis(100), 5)
        .start()
        .await
        .expect("node starts")
}

#[test]
fn nodes_talk_over_mutual_tls() {
    block_on(async {
        let ca = Ca::new();
        let a = tls_node("a", &ca, COOKIE).await;
        let b = tls_node("b", &ca, COOKIE).await;
        let c = tls_node("c", &ca, COOKIE).await;
        b.connect(a.name()).await.expect("b connects over TLS");
        c.connect(a.name()).await.expect("c connects over TLS");
        until("a full mesh over TLS", Duration::from_secs(10), || async {
            b.nodes().len() == 2
        })
        .await;
        let counter = a.spawn(Counter { n: 0 });
        a.register("counter", &counter).unwrap();
        let remote: Pid<Counter> = b.whereis_on("counter", a.name()).await.unwrap();
        assert_eq!(remote.add(2).await, Ok(2));
        c.global().register("g", &counter).await.unwrap();
        let via_c: Pid<Counter> = c.global().whereis("g").unwrap();
        assert_eq!(via_c.add(3).await, Ok(5));
    });
}

#[test]
fn without_tls_another_ca_or_another_cookie_a_node_is_refused() {
    block_on(async {
        let ca = Ca::new();
        let a = tls_node("a", &ca, COOKIE).await;
        let friend = tls_node("friend", &ca, COOKIE).await;
        friend.connect(a.name()).await.expect("connects");

        let plain = start("plain").await;
        let stranger = tls_node("stranger", &Ca::new(), COOKIE).await;
        let wrong_cookie = tls_node("wrong", &ca, "another cookie").await;
        for outsider in [&plain, &stranger, &wrong_cookie] {
            assert!(
                matches!(
                    outsider.connect(a.name()).await,
                    Err(ConnectError::Failed { .. })
                ),
                "{} got in",
                outsider.name()
            );
        }
        // Nor does a dial from the TLS node to the plain one succeed.
        assert!(a.connect(plain.name()).await.is_err());
        assert_eq!(a.nodes(), vec![friend.name().to_string()]);
        let counter = friend.spawn(Counter { n: 0 });
        friend.register("counter", &counter).unwrap();
        let remote: Pid<Counter> = a.whereis_on("counter", friend.name()).await.unwrap();
        assert_eq!(remote.add(1).await, Ok(1), "the friend still works");
    });
}

#[test]
fn a_stalled_tls_handshake_holds_nobody_up() {
    block_on(async {
        let ca = Ca::new();
        let a = tls_node("a", &ca, COOKIE).await;
        let addr = a.name().rsplit_once('@').unwrap().1.to_string();
        // Connects, and never says a word.
        let _silent = std::net::TcpStream::connect(&addr).expect("tcp connects");
        let b = tls_node("b", &ca, COOKIE).await;
        actors::rt::timeout(Duration::from_secs(2), b.connect(a.name()))
            .await
            .expect("not held up by the silent peer")
            .expect("connects");
    });
}
