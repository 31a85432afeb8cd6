//! `[control]` and `[[webhooks]]`.

use std::time::Duration;

use super::{Control, Service, WEBHOOK_EVENTS, Webhook};
use crate::doc::Section;
use crate::smoke::secret::Template;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9465";

pub fn control_defaults(service: Option<&Service>) -> Option<Control> {
    let service = service?;
    Some(Control {
        listen: DEFAULT_LISTEN.parse().ok(),
        socket: service.state_dir.join("control.sock"),
        token_env: None,
    })
}

pub fn control(
    s: &mut Section<'_, '_>,
    base: &super::compile::Base<'_>,
    service: Option<&Service>,
) -> Option<Control> {
    let listen = s.opt_str("listen");
    let listen = match listen {
        Some(l) if l.value == "off" => Some(None),
        Some(l) => match l.value.parse::<std::net::SocketAddr>() {
            Ok(a) => {
                if !a.ip().is_loopback() && !s.has("token_env") {
                    s.warning(l.offset, "listen", format!("{} is not a loopback address: /metrics and /status are readable from the network (control stays off without token_env)", a));
                }
                Some(Some(a))
            }
            Err(_) => {
                s.error(
                    l.offset,
                    "listen",
                    format!("{:?} is not an address:port (or \"off\")", l.value),
                );
                None
            }
        },
        None if s.has("listen") => None,
        None => Some(DEFAULT_LISTEN.parse().ok()),
    };
    let socket = s.opt_str("socket");
    let token_env = s.opt_str("token_env");
    if let Some(t) = &token_env
        && !t
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        s.error(
            t.offset,
            "token_env",
            format!("{:?} is not an environment variable name", t.value),
        );
    }
    if s.has("token") {
        let off = s.offset;
        let _ = s.opt_str("token");
        s.error(
            off,
            "token",
            "tokens never go in the config file; name the environment variable that holds it with token_env",
        );
    }
    let socket = match socket {
        Some(p) => base.join(p.value),
        None => service?.state_dir.join("control.sock"),
    };
    Some(Control {
        listen: listen?,
        socket,
        token_env: token_env.map(|t| t.value),
    })
}

pub fn webhook(t: &mut Section<'_, '_>) -> Option<Webhook> {
    let url = t.req_str("url");
    if let Some(u) = &url
        && !(u.value.starts_with("http://") || u.value.starts_with("https://"))
    {
        t.error(
            u.offset,
            "url",
            format!("{:?} is not an http(s) URL", u.value),
        );
    }
    let events = match t.strings("events") {
        Some(list) => {
            let mut ok = Vec::new();
            for e in list {
                if WEBHOOK_EVENTS.contains(&e.value.as_str()) {
                    ok.push(e.value);
                } else {
                    t.error(
                        e.offset,
                        "events",
                        format!("{:?} is not one of {}", e.value, WEBHOOK_EVENTS.join(", ")),
                    );
                }
            }
            Some(ok)
        }
        None if t.has("events") => None,
        None => Some(WEBHOOK_EVENTS.iter().map(|e| e.to_string()).collect()),
    };
    let mut headers = Vec::new();
    for (name, v) in t.string_map("headers").unwrap_or_default() {
        match Template::parse(&v.value) {
            Ok(tpl) => headers.push((name, tpl)),
            Err(e) => t.error(v.offset, &format!("headers.{name}"), e),
        }
    }
    let timeout = t.duration("timeout", Some(Duration::from_secs(5)));
    let attempts = t.int_in("attempts", 1, 10, Some(3));
    Some(Webhook {
        url: url?.value,
        events: events?,
        headers,
        timeout: timeout?.value,
        attempts: attempts?.value as u32,
    })
}
