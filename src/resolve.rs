//! Asks DNS servers what the public name answers: how a flip is verified without Route 53's
//! control plane ("INSYNC" is a control-plane answer; a resolver's answer is what clients get).
//! One UDP query per server, no cache of our own and no recursion of our own: the servers are
//! either the zone's authoritative ones (they see a change first) or the system's resolver (it
//! sees what clients see, TTL included).

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType as Rr};

use standby_core::config::RecordType;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0:?} is not a DNS name")]
    Name(String),
    #[error("no DNS server to ask (dns.resolvers is empty and /etc/resolv.conf names none)")]
    NoServer,
    #[error("{server}: {what}")]
    Server { server: SocketAddr, what: String },
}

/// The servers to ask: `dns.resolvers`, or the system's (`nameserver` lines of
/// /etc/resolv.conf, port 53).
pub fn servers(configured: &[SocketAddr]) -> Vec<SocketAddr> {
    if !configured.is_empty() {
        return configured.to_vec();
    }
    std::fs::read_to_string("/etc/resolv.conf")
        .map(|t| system_servers(&t))
        .unwrap_or_default()
}

fn system_servers(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| standby_core::config::dns::parse_resolver(a.trim()))
        .collect()
}

/// What one server answered for the name: the values of the records of the asked type (a CNAME
/// target with its trailing dot, an address), empty for NXDOMAIN or no data.
pub async fn ask(
    server: SocketAddr,
    name: &str,
    t: RecordType,
    timeout: Duration,
) -> Result<Vec<String>, ResolveError> {
    let fqdn = Name::from_str(&format!("{}.", name.trim_end_matches('.')))
        .map_err(|_| ResolveError::Name(name.to_string()))?;
    let rr = match t {
        RecordType::Cname => Rr::CNAME,
        RecordType::A => Rr::A,
        RecordType::Aaaa => Rr::AAAA,
    };
    let err = |what: String| ResolveError::Server { server, what };
    let mut q = Message::query();
    // A fresh id per query: an answer to an earlier, timed-out query is not taken for this one.
    let id = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        & 0xffff) as u16;
    q.metadata.id = id;
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(fqdn, rr));
    let bytes = q.to_vec().map_err(|e| err(e.to_string()))?;
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let exchange = async {
        let sock = tokio::net::UdpSocket::bind(bind)
            .await
            .map_err(|e| err(e.to_string()))?;
        sock.connect(server).await.map_err(|e| err(e.to_string()))?;
        sock.send(&bytes).await.map_err(|e| err(e.to_string()))?;
        let mut buf = vec![0u8; 4096];
        loop {
            let n = sock.recv(&mut buf).await.map_err(|e| err(e.to_string()))?;
            match Message::from_vec(&buf[..n]) {
                Ok(m) if m.metadata.id == id => return Ok(m),
                // Not ours (late, or garbage): keep waiting within the deadline.
                _ => continue,
            }
        }
    };
    let reply = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| {
            err(format!(
                "no answer within {}",
                standby_core::duration::human(timeout)
            ))
        })??;
    match reply.metadata.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        other => return Err(err(format!("answered {other}"))),
    }
    Ok(reply
        .answers
        .iter()
        .filter(|r| r.record_type() == rr)
        .filter_map(|r| match &r.data {
            RData::CNAME(c) => Some(c.0.to_string()),
            RData::A(a) => Some(a.0.to_string()),
            RData::AAAA(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_servers_come_from_nameserver_lines() {
        let conf = "# generated\nsearch example.com\nnameserver 10.0.0.2\nnameserver fd00::53\noptions ndots:2\n";
        assert_eq!(
            system_servers(conf),
            vec![
                "10.0.0.2:53".parse::<SocketAddr>().unwrap(),
                "[fd00::53]:53".parse().unwrap()
            ]
        );
    }

    #[tokio::test]
    async fn a_silent_server_is_an_error_naming_it() {
        // A bound socket that never answers.
        let quiet = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = quiet.local_addr().unwrap();
        let e = ask(
            addr,
            "api.example.com",
            RecordType::Cname,
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().starts_with(&addr.to_string()), "{e}");
        assert!(e.to_string().contains("no answer within"), "{e}");
    }
}
