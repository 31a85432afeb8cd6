//! Webhook notifications: JSON POSTs on verdict changes, run start and end, step failures,
//! projected RTO breaches and approvals. Delivery happens on a background task with a timeout and
//! retries, so a slow or dead receiver never holds up a step; what could not be delivered is
//! logged and dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use standby_core::config::{Config, Webhook};
use standby_core::smoke::secret::Redactor;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Notice {
    pub event: &'static str,
    pub service: String,
    pub at: chrono::DateTime<Utc>,
    /// One line for a chat channel or a pager.
    pub text: String,
    pub run: Option<String>,
    pub details: serde_json::Value,
}

/// A handle to send notices; cheap to clone, a no-op without `[[webhooks]]`.
#[derive(Clone, Default)]
pub struct Notifier {
    tx: Option<mpsc::UnboundedSender<Notice>>,
    service: String,
    /// Deliveries given up after every attempt (`standby_webhooks_dropped_total`).
    dropped: Arc<AtomicU64>,
}

impl Notifier {
    /// Starts the delivery task (inside a tokio runtime).
    pub fn start(cfg: &Config) -> Notifier {
        if cfg.webhooks.is_empty() {
            return Notifier::default();
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<Notice>();
        let hooks = cfg.webhooks.clone();
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = dropped.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .user_agent(concat!("standby/", env!("CARGO_PKG_VERSION"), " webhook"))
                .build()
                .expect("static reqwest configuration is valid");
            while let Some(n) = rx.recv().await {
                for h in hooks
                    .iter()
                    .filter(|h| h.events.iter().any(|e| e == n.event))
                {
                    tokio::spawn(deliver(
                        client.clone(),
                        h.clone(),
                        n.clone(),
                        counter.clone(),
                    ));
                }
            }
        });
        Notifier {
            tx: Some(tx),
            service: cfg.service.name.clone(),
            dropped,
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn send(
        &self,
        event: &'static str,
        text: impl Into<String>,
        run: Option<&str>,
        details: serde_json::Value,
    ) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Notice {
                event,
                service: self.service.clone(),
                at: Utc::now(),
                text: text.into(),
                run: run.map(str::to_string),
                details,
            });
        }
    }
}

async fn deliver(client: reqwest::Client, hook: Webhook, notice: Notice, dropped: Arc<AtomicU64>) {
    let mut redactor = Redactor::default();
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, t) in &hook.headers {
        match t.resolve(|v| std::env::var(v).ok(), &mut redactor) {
            Ok(v) => {
                if let (Ok(n), Ok(mut v)) = (
                    reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                    reqwest::header::HeaderValue::from_str(&v),
                ) {
                    v.set_sensitive(t.is_secret());
                    headers.insert(n, v);
                }
            }
            Err(e) => {
                warn!(url = %hook.url, "webhook header {name}: {e}; not sent");
                dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
    for attempt in 1..=hook.attempts {
        let sent = client
            .post(&hook.url)
            .timeout(hook.timeout)
            .headers(headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&notice).unwrap_or_default())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                debug!(url = %hook.url, event = notice.event, "webhook delivered");
                return;
            }
            Ok(r) => {
                warn!(url = %hook.url, event = notice.event, "webhook attempt {attempt}/{}: HTTP {}", hook.attempts, r.status().as_u16())
            }
            Err(e) => {
                warn!(url = %hook.url, event = notice.event, "webhook attempt {attempt}/{}: {}", hook.attempts, redactor.scrub(&e.to_string()))
            }
        }
        if attempt < hook.attempts {
            tokio::time::sleep(Duration::from_millis(500 << attempt.min(6))).await;
        }
    }
    warn!(url = %hook.url, event = notice.event, "webhook not delivered after {} attempts; dropped", hook.attempts);
    dropped.fetch_add(1, Ordering::Relaxed);
}
