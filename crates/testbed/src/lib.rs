//! The local world that tests and `make demo` run against: moto server as the AWS API, seeded
//! through the SDK, and small HTTP servers standing in for the two regions' inference endpoints.
//!
//! moto makes ASG instances InService and Route 53 changes INSYNC instantly; the realism lives in
//! [`endpoint`]: the standby answers 503 until its group has `serving` InService instances and
//! then, after a warm-up delay, 200, as a real GPU fleet loading weights would.

pub mod browser;
pub mod checkers;
pub mod endpoint;
pub mod faults;
pub mod link;
pub mod moto;
pub mod reality;
pub mod resolver;
pub mod seed;
pub mod sim;

/// The repository's root, where `make venv` puts the venv.
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `standby <args> --config <config>` as the demo, the benches and the tests run it against the
/// emulator: static test credentials (moto checks none) and no instance metadata lookup, so
/// the SDK neither finds a real account nor waits on 169.254.169.254.
pub fn standby_command(
    bin: &std::path::Path,
    args: &[&str],
    config: &std::path::Path,
) -> std::process::Command {
    let mut c = std::process::Command::new(bin);
    c.args(args)
        .arg("--config")
        .arg(config)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

/// A free loopback port, found by binding port 0 and letting it go.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

use std::time::Duration;

use endpoint::{AsgGate, Behavior, Endpoint};
use moto::Moto;
use seed::World;

/// The whole local world: moto seeded with `world`, and the two regions' endpoints, each gated on
/// its group's serving capacity (the standby with `standby_warmup` on top).
pub struct Lab {
    pub moto: Moto,
    pub zone_id: String,
    pub world: World,
    pub primary: Endpoint,
    pub standby: Endpoint,
}

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(transparent)]
    Moto(#[from] moto::MotoError),
    #[error(transparent)]
    Seed(#[from] seed::SeedError),
    #[error("starting a regional endpoint: {0}")]
    Endpoint(#[from] std::io::Error),
    #[error("the primary endpoint never answered 200 within 20s")]
    PrimaryNotHealthy,
}

impl Lab {
    pub async fn start(standby_warmup: Duration) -> Result<Lab, LabError> {
        let moto = Moto::start().await?;
        let world = World::default();
        let zone_id = seed::seed(&moto.endpoint, &world).await?;
        let gate = |region: &str, asg: &str, warmup| AsgGate {
            aws_endpoint: moto.endpoint.clone(),
            region: region.into(),
            asg: asg.into(),
            serving: world.serving,
            warmup,
        };
        let primary = Endpoint::start(
            Behavior::Ok,
            Some(gate(
                &world.primary_region,
                &world.primary_asg,
                Duration::ZERO,
            )),
        )
        .await?;
        let standby = Endpoint::start(
            Behavior::Ok,
            Some(gate(
                &world.standby_region,
                &world.standby_asg,
                standby_warmup,
            )),
        )
        .await?;
        let lab = Lab {
            moto,
            zone_id,
            world,
            primary,
            standby,
        };
        lab.wait_primary_ok().await?;
        Ok(lab)
    }

    /// The primary's gate opens once its first ASG poll sees serving capacity; a daemon started
    /// before that would see a 503 and could fail over on a healthy world.
    pub async fn wait_primary_ok(&self) -> Result<(), LabError> {
        let client = reqwest::Client::new();
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if let Ok(r) = client.get(self.primary.url()).send().await
                && r.status().as_u16() == 200
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(LabError::PrimaryNotHealthy)
    }
}
