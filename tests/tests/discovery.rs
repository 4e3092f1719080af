//! Nodes that find each other by themselves: by a list of names, looked at again until the
//! nodes are up, and by DNS, against a DNS server this test serves on loopback that answers
//! one A record per node, as a Kubernetes headless service does.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors::Node;
use actors_integration::{COOKIE, DistNode, until};
use actors_net::Discovery;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};

const LOOK_EVERY: Duration = Duration::from_millis(100);
const WITHIN: Duration = Duration::from_secs(20);

/// A DNS server on loopback that answers A questions for one name with the addresses it is
/// given now, and every other question with no records.
struct DnsServer {
    addr: SocketAddr,
    records: Arc<Mutex<Vec<Ipv4Addr>>>,
    stop: Arc<AtomicBool>,
}

impl DnsServer {
    fn start(name: &str) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let addr = socket.local_addr().expect("bound");
        let records = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let name = Name::from_ascii(name).expect("a DNS name");
        let (served, stopped) = (records.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((len, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(question) = Message::from_vec(&buf[..len]) else {
                    continue;
                };
                let answer = answer(&question, &name, &served.lock().unwrap());
                let _ = socket.send_to(&answer.to_vec().expect("encodes"), from);
            }
        });
        DnsServer {
            addr,
            records,
            stop,
        }
    }

    fn set(&self, addrs: &[Ipv4Addr]) {
        *self.records.lock().unwrap() = addrs.to_vec();
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(question: &Message, name: &Name, addrs: &[Ipv4Addr]) -> Message {
    let mut answer = Message::new(question.metadata.id, MessageType::Response, OpCode::Query);
    answer.metadata.recursion_available = true;
    for query in &question.queries {
        answer.add_query(query.clone());
        let asked = query.name().to_ascii().trim_end_matches('.').to_string();
        let ours = name.to_ascii().trim_end_matches('.').to_string();
        if asked != ours {
            answer.metadata.response_code = ResponseCode::NXDomain;
        } else if query.query_type() == RecordType::A {
            for ip in addrs {
                answer.add_answer(Record::from_rdata(
                    query.name().clone(),
                    5,
                    RData::A(A(*ip)),
                ));
            }
        }
    }
    answer
}

/// A port free on loopback now.
fn free_port(ip: Ipv4Addr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn start_with(name: &str, discovery: Discovery) -> Node {
    Node::builder(name)
        .cookie(COOKIE)
        .discovery(discovery)
        .start()
        .await
        .expect("node starts")
}

/// Whether every node lists every other one.
fn mesh(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| {
        let peers = n.nodes();
        nodes
            .iter()
            .filter(|m| m.name() != n.name())
            .all(|m| peers.iter().any(|p| p == m.name()))
    })
}

#[test]
fn nodes_found_through_dns_form_a_cluster_and_a_later_one_joins() {
    actors::rt::block_on(async {
        let dns = DnsServer::start("app.cluster.test");
        let port = free_port(Ipv4Addr::new(127, 0, 0, 2));
        let ips: Vec<Ipv4Addr> = (2..=5).map(|i| Ipv4Addr::new(127, 0, 0, i)).collect();
        dns.set(&ips[..3]);
        let discovery = || {
            Discovery::dns("app.cluster.test", "app", port)
                .server(dns.addr)
                .every(LOOK_EVERY)
        };
        let mut nodes = Vec::new();
        for ip in &ips[..3] {
            nodes.push(start_with(&format!("app@{ip}:{port}"), discovery()).await);
        }
        until(
            "the three nodes found by DNS to form a mesh",
            WITHIN,
            || {
                let done = mesh(&nodes);
                async move { done }
            },
        )
        .await;

        // A pod that becomes ready later appears in the answer, and joins with no one told.
        dns.set(&ips);
        nodes.push(start_with(&format!("app@{}:{port}", ips[3]), discovery()).await);
        until("the fourth node to join the mesh", WITHIN, || {
            let done = mesh(&nodes);
            async move { done }
        })
        .await;
    });
}

#[test]
fn a_listed_node_that_starts_later_is_joined_when_it_comes_up() {
    actors::rt::block_on(async {
        let port = free_port(Ipv4Addr::LOCALHOST);
        let later = format!("later@127.0.0.1:{port}");
        let first = start_with(
            "first@127.0.0.1:0",
            Discovery::nodes([later.clone()]).every(LOOK_EVERY),
        )
        .await;
        // Looks go on failing while the listed node is down; nothing is joined meanwhile.
        actors::rt::sleep(LOOK_EVERY * 3).await;
        assert!(first.nodes().is_empty());

        let second = Node::builder(&later)
            .cookie(COOKIE)
            .start()
            .await
            .expect("node starts");
        let nodes = [first, second];
        until("the listed node to be joined once up", WITHIN, || {
            let done = mesh(&nodes);
            async move { done }
        })
        .await;
    });
}

#[test]
fn a_dns_server_that_does_not_answer_leaves_the_node_running() {
    actors::rt::block_on(async {
        // A UDP socket that never answers: each look times out, and the node works on.
        let silent = UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
        let node = start_with(
            "alone@127.0.0.1:0",
            Discovery::dns("app.cluster.test", "app", 1)
                .server(silent.local_addr().expect("bound"))
                .every(LOOK_EVERY),
        )
        .await;
        let other = actors_integration::start("other").await;
        node.connect(other.name())
            .await
            .expect("a node whose discovery fails still connects");
        assert_eq!(node.nodes(), vec![other.name().to_string()]);
    });
}
