//! A regional inference endpoint stand-in: answers ok, 429, 503, slowly, not at all, or refuses
//! connections, on command; optionally gated on its Auto Scaling group's InService count with a
//! warm-up delay, like a GPU fleet that must load weights before it can answer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;

#[derive(Debug, Clone, PartialEq)]
pub enum Behavior {
    Ok,
    Status(u16),
    /// 200, after this long.
    Slow(Duration),
    /// Accept and never answer: the prober's timeout fires.
    Hang,
    /// Close the listening socket: connection refused.
    Refuse,
    /// Each request fails with 503 with this probability, from a seeded generator.
    Flaky {
        fail_ratio: f64,
        seed: u64,
    },
}

/// Gate the answer on an Auto Scaling group: 503 until it has `serving` InService instances,
/// then 503 for `warmup` more, then the configured behaviour.
#[derive(Debug, Clone)]
pub struct AsgGate {
    pub aws_endpoint: String,
    pub region: String,
    pub asg: String,
    pub serving: u32,
    pub warmup: Duration,
}

struct Shared {
    behavior: Mutex<Behavior>,
    rng: Mutex<u64>,
    ready: Mutex<GateState>,
    requests: AtomicU64,
    changed: Notify,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum GateState {
    Open,
    Cold,
    WarmingUntil(tokio::time::Instant),
}

#[derive(Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Endpoint {
    pub async fn start(behavior: Behavior, gate: Option<AsgGate>) -> std::io::Result<Endpoint> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let seed = match behavior {
            Behavior::Flaky { seed, .. } => seed,
            _ => 0x9e37_79b9_7f4a_7c15,
        };
        let shared = Arc::new(Shared {
            behavior: Mutex::new(behavior),
            rng: Mutex::new(seed | 1),
            ready: Mutex::new(if gate.is_some() {
                GateState::Cold
            } else {
                GateState::Open
            }),
            requests: AtomicU64::new(0),
            changed: Notify::new(),
        });
        tokio::spawn(serve(listener, addr, shared.clone()));
        if let Some(g) = gate {
            tokio::spawn(watch_gate(g, shared.clone()));
        }
        Ok(Endpoint { addr, shared })
    }

    pub fn url(&self) -> String {
        format!("http://{}/health", self.addr)
    }

    pub fn set(&self, b: Behavior) {
        if let Behavior::Flaky { seed, .. } = b {
            *self.shared.rng.lock().unwrap() = seed | 1;
        }
        *self.shared.behavior.lock().unwrap() = b;
        self.shared.changed.notify_waiters();
    }

    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }
}

async fn serve(mut listener: TcpListener, addr: SocketAddr, shared: Arc<Shared>) {
    loop {
        let refusing = *shared.behavior.lock().unwrap() == Behavior::Refuse;
        if refusing {
            drop(listener);
            loop {
                let notified = shared.changed.notified();
                if *shared.behavior.lock().unwrap() != Behavior::Refuse {
                    break;
                }
                notified.await;
            }
            listener = match rebind(addr) {
                Ok(l) => l,
                Err(_) => return,
            };
            continue;
        }
        let notified = shared.changed.notified();
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(answer(stream, shared.clone()));
                }
            }
            _ = notified => {}
        }
    }
}

fn rebind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

async fn answer(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 4096];
    let mut read = 0;
    while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf[read..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => read += n,
        }
        if read == buf.len() {
            return;
        }
    }
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let gate = *shared.ready.lock().unwrap();
    let gated = match gate {
        GateState::Open => false,
        GateState::Cold => true,
        GateState::WarmingUntil(t) => tokio::time::Instant::now() < t,
    };
    let behavior = shared.behavior.lock().unwrap().clone();
    let status = if gated {
        503
    } else {
        match behavior {
            Behavior::Ok => 200,
            Behavior::Status(s) => s,
            Behavior::Slow(d) => {
                tokio::time::sleep(d).await;
                200
            }
            Behavior::Hang => {
                std::future::pending::<()>().await;
                return;
            }
            Behavior::Refuse => return,
            Behavior::Flaky { fail_ratio, .. } => {
                let mut x = shared.rng.lock().unwrap();
                // xorshift64*: deterministic per seed, good enough to spread failures.
                *x ^= *x >> 12;
                *x ^= *x << 25;
                *x ^= *x >> 27;
                let v = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
                let sample = (v >> 11) as f64 / (1u64 << 53) as f64;
                if sample < fail_ratio { 503 } else { 200 }
            }
        }
    };
    let reason = match status {
        200 => "OK",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        500 => "Internal Server Error",
        404 => "Not Found",
        _ => "Status",
    };
    let body = if gated {
        "{\"status\":\"warming\"}"
    } else {
        "{\"status\":\"ok\"}"
    };
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(resp.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn watch_gate(g: AsgGate, shared: Arc<Shared>) {
    let conf = super::seed::sdk(&g.aws_endpoint, &g.region).await;
    let client = aws_sdk_autoscaling::Client::new(&conf);
    loop {
        let in_service = crate::aws::asg::describe(&client, std::slice::from_ref(&g.asg))
            .await
            .ok()
            .and_then(|v| v.into_iter().next())
            .and_then(|(_, c)| c)
            .map(|c| c.in_service);
        {
            let mut ready = shared.ready.lock().unwrap();
            let enough = in_service.is_some_and(|n| n >= g.serving);
            *ready = match (*ready, enough) {
                (GateState::Cold, true) => {
                    GateState::WarmingUntil(tokio::time::Instant::now() + g.warmup)
                }
                (GateState::WarmingUntil(t), true) if tokio::time::Instant::now() >= t => {
                    GateState::Open
                }
                (s, true) => s,
                (_, false) => GateState::Cold,
            };
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
