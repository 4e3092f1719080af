//! The DNS look-up of discovery: A and AAAA questions to one server over UDP, messages made
//! and read by `hickory-proto`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};

/// How long one question waits for its answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// The largest UDP answer read (EDNS's common size); a larger one arrives cut.
const MAX_ANSWER: usize = 4096;

/// Every address that `name` has (A and AAAA records), at most `max`, sorted.
pub(super) async fn lookup(
    server: SocketAddr,
    name: &str,
    max: usize,
) -> Result<Vec<IpAddr>, String> {
    let name = Name::from_ascii(name).map_err(|e| format!("{name:?} is not a DNS name: {e}"))?;
    let mut found = Vec::new();
    for kind in [RecordType::A, RecordType::AAAA] {
        found.extend(ask(server, &name, kind).await?);
    }
    found.sort();
    found.dedup();
    found.truncate(max);
    Ok(found)
}

/// One question and its answer's addresses; a name with no record of `kind` is no error.
async fn ask(server: SocketAddr, name: &Name, kind: RecordType) -> Result<Vec<IpAddr>, String> {
    let mut id = [0u8; 2];
    actors::dist::rt::fill_random(&mut id)?;
    let id = u16::from_be_bytes(id);
    let mut query = Message::new(id, MessageType::Query, OpCode::Query);
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(name.clone(), kind));
    let bytes = query
        .to_vec()
        .map_err(|e| format!("cannot encode the question: {e}"))?;

    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = actors::dist::rt::net::UdpSocket::bind(local)
        .await
        .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    socket
        .connect(server)
        .await
        .map_err(|e| format!("cannot reach the DNS server {server}: {e}"))?;
    socket
        .send(&bytes)
        .await
        .map_err(|e| format!("cannot ask the DNS server {server}: {e}"))?;
    let mut buf = vec![0u8; MAX_ANSWER];
    // Datagrams that are not the answer (another id, not a response) are passed over.
    let answer = actors::rt::timeout(ANSWER_WITHIN, async {
        loop {
            let len = socket
                .recv(&mut buf)
                .await
                .map_err(|e| format!("no answer from the DNS server {server}: {e}"))?;
            let Ok(answer) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            if answer.metadata.id == id && answer.metadata.message_type == MessageType::Response {
                return Ok::<_, String>(answer);
            }
        }
    })
    .await
    .map_err(|_| format!("no answer from the DNS server {server} within {ANSWER_WITHIN:?}"))??;
    Ok(answer
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect())
}

/// The first `nameserver` of `/etc/resolv.conf`, on port 53.
pub(super) fn system_server() -> Result<SocketAddr, String> {
    let conf = std::fs::read_to_string("/etc/resolv.conf")
        .map_err(|e| format!("no DNS server given and /etc/resolv.conf unreadable: {e}"))?;
    conf.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .next()
        .ok_or_else(|| "no DNS server given and none in /etc/resolv.conf".to_string())
}
