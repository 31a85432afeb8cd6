//! The local world that tests and `make demo` run against: moto server as the AWS API, seeded
//! through the SDK, and small HTTP servers standing in for the two regions' inference endpoints.
//!
//! moto makes ASG instances InService and Route 53 changes INSYNC instantly; the realism lives in
//! [`endpoint`]: the standby answers 503 until its group has `serving` InService instances and
//! then, after a warm-up delay, 200, as a real GPU fleet loading weights would.

pub mod endpoint;
pub mod moto;
pub mod seed;

/// A free loopback port, found by binding port 0 and letting it go.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
