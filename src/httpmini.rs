//! The smallest HTTP/1.1 that the local endpoint, the control socket and the test endpoints
//! need: one request per connection (`Connection: close`), bodies by Content-Length, bounded
//! sizes. Not a general server: it listens on loopback and a unix socket only.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const MAX_HEAD: usize = 16 << 10;
const MAX_BODY: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request was not read, and what to answer (HTTP's own codes), if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The peer closed or reset the connection: nobody to answer.
    Closed,
    /// 400: not an HTTP request line.
    Malformed,
    /// 408: the head or the body did not arrive within [`HEAD_TIMEOUT`] / [`BODY_TIMEOUT`].
    Timeout,
    /// 413: a Content-Length over [`MAX_BODY`].
    BodyTooLarge,
    /// 431: a head over [`MAX_HEAD`].
    HeadTooLarge,
}

impl Refused {
    pub fn status(self) -> Option<u16> {
        match self {
            Refused::Closed => None,
            Refused::Malformed => Some(400),
            Refused::Timeout => Some(408),
            Refused::BodyTooLarge => Some(413),
            Refused::HeadTooLarge => Some(431),
        }
    }
}

/// A client that opens a connection and sends nothing (or a byte a minute) is cut off: the
/// local endpoint must not be held by idle peers.
pub const HEAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads one request; `None` on a closed, oversized, slow or malformed one.
pub async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Request> {
    read_request_bounded(stream).await.ok()
}

/// Reads one request under the head and body deadlines and size caps.
pub async fn read_request_bounded<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Request, Refused> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut read = 0;
    let head_by = tokio::time::Instant::now() + HEAD_TIMEOUT;
    let head_end = loop {
        if let Some(i) = buf[..read].windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if read == buf.len() {
            return Err(Refused::HeadTooLarge);
        }
        match tokio::time::timeout_at(head_by, stream.read(&mut buf[read..])).await {
            Err(_) => return Err(Refused::Timeout),
            Ok(Ok(0) | Err(_)) => return Err(Refused::Closed),
            Ok(Ok(n)) => read += n,
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().ok_or(Refused::Malformed)?.split_whitespace();
    let (method, path) = match (first.next(), first.next()) {
        (Some(m), Some(p)) => (m.to_string(), p.to_string()),
        _ => return Err(Refused::Malformed),
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = match headers.iter().find(|(k, _)| k == "content-length") {
        Some((_, v)) => v.parse().map_err(|_| Refused::Malformed)?,
        None => 0,
    };
    if len > MAX_BODY {
        return Err(Refused::BodyTooLarge);
    }
    let mut body = buf[head_end..read].to_vec();
    let body_by = tokio::time::Instant::now() + BODY_TIMEOUT;
    while body.len() < len {
        let mut chunk = vec![0u8; len - body.len()];
        match tokio::time::timeout_at(body_by, stream.read(&mut chunk)).await {
            Err(_) => return Err(Refused::Timeout),
            Ok(Ok(0) | Err(_)) => return Err(Refused::Closed),
            Ok(Ok(n)) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(len);
    Ok(Request {
        method,
        path,
        headers,
        body,
    })
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Writes a whole response and closes the connection.
pub async fn respond<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    content_type: &str,
    headers: &[(String, String)],
    body: &[u8],
) {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

/// Sends one request over an open stream and reads the whole answer: (status, body).
pub async fn call<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String)> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: standby\r\nContent-Length: 0\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut all = Vec::new();
    stream.read_to_end(&mut all).await?;
    let text = String::from_utf8_lossy(&all).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {head:?}")))?;
    Ok((status, body.to_string()))
}
