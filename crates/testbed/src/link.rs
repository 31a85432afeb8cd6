//! One host's network path to an endpoint, as a TCP forwarder that can be cut: what a broken
//! route, NACL or security group looks like from that host alone while every other host still
//! reaches the endpoint. Cut, it accepts each connection and closes it at once (the prober
//! reads a reset or an empty answer); mended, it forwards bytes both ways again.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Link {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Link {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Link> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (cut, flag) = watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *flag.borrow() {
                    drop(inbound);
                    continue;
                }
                // Connections open when the link is cut die with it (a pooled keep-alive
                // connection must not outlive the break).
                let mut flag = flag.clone();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = flag.wait_for(|c| *c) => {}
                        }
                    }
                });
            }
        });
        Ok(Link { addr, cut, task })
    }

    /// The endpoint's URL through this link (`path` as on the endpoint).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    pub fn mend(&self) {
        self.cut.send_replace(false);
    }
}
