//! moto server (`moto[server]`, pinned in the Makefile) as a child process on a free loopback port.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error("moto's Python not found at {0} (run `make venv`, or set STANDBY_MOTO_PYTHON)")]
    Missing(PathBuf),
    #[error("starting moto_server: {0}")]
    Spawn(std::io::Error),
    #[error("moto_server did not answer on {0} within 60s")]
    NotReady(String),
}

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// The venv's Python that `make venv` installs moto into, unless `STANDBY_MOTO_PYTHON` says
    /// otherwise.
    pub fn python() -> PathBuf {
        std::env::var_os("STANDBY_MOTO_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::workspace_root().join(".venv/bin/python"))
    }

    /// The launcher that fixes moto's Route 53 record format (see the script's docstring).
    pub fn launcher() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("support/moto_server.py")
    }

    pub async fn start() -> Result<Moto, MotoError> {
        let python = Self::python();
        if !python.exists() {
            return Err(MotoError::Missing(python));
        }
        let port = crate::free_port();
        let child = Command::new(&python)
            .arg(Self::launcher())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(MotoError::Spawn)?;
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = client
                .get(format!("{}/moto-api/", moto.endpoint))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(moto);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(MotoError::NotReady(moto.endpoint.clone()))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
