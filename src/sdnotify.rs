//! systemd's notify protocol (`Type=notify`, `WatchdogSec=`): one datagram per message to the
//! socket in `$NOTIFY_SOCKET`. Outside systemd the variable is unset and every call is a no-op.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

fn send(msg: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    // An abstract socket is written "@name"; its address starts with a NUL byte.
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|a| sock.send_to_addr(msg.as_bytes(), &a))
    } else {
        sock.send_to(msg.as_bytes(), std::path::Path::new(&path))
    };
    if let Err(e) = sent {
        tracing::debug!("sd_notify {msg:?}: {e}");
    }
}

/// The service is up: state loaded, first probe done.
pub fn ready(status: &str) {
    send(&format!("READY=1\nSTATUS={status}"));
}

/// A one-line status for `systemctl status`.
pub fn status(status: &str) {
    send(&format!("STATUS={status}"));
}

pub fn reloading() {
    send("RELOADING=1");
}

pub fn stopping() {
    send("STOPPING=1");
}

/// Proof of life for `WatchdogSec=`: the daemon sends it only while probe rounds are being
/// judged, so a daemon that stopped probing gets restarted.
pub fn watchdog() {
    send("WATCHDOG=1");
}

/// How often the watchdog wants a ping (half its timeout), when systemd asked for one.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    Some(Duration::from_micros(usec / 2))
}
