//! HTTP/1.1 for the local endpoint and the control socket, on hyper: one request per connection,
//! a deadline for the head and one for the body, bounded sizes. The connection caps are the
//! listeners' (see `control`); this module serves and calls one connection.
//!
//! What a peer gets when it misbehaves, in HTTP's own words: a head not complete within
//! [`HEAD_TIMEOUT`] is answered 408 (hyper only closes, so the answer is written on a duplicate
//! of the socket), a head over [`MAX_HEAD`] 431 (hyper), a malformed one 400 (hyper), a body over
//! [`MAX_BODY`] 413 and one slower than [`BODY_TIMEOUT`] 408.

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

/// A client that opens a connection and sends nothing (or a byte a minute) is cut off: the local
/// endpoint must not be held by idle peers.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// hyper's read buffer, and so the largest head it accepts (its minimum is 8 KiB).
pub const MAX_HEAD: usize = 16 << 10;
pub const MAX_BODY: usize = 1 << 20;

/// A request as the routes read it: the body is already complete.
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

/// An answer: status, content type, body.
pub type Response = (u16, &'static str, String);

/// A stream the server can answer on after hyper has let go of it: a duplicate of the socket
/// (`dup`), written to directly with one non-blocking call.
pub trait Conn: AsyncRead + AsyncWrite + Unpin + Send + Sized + 'static {
    type Raw: Write + Send + 'static;
    fn with_raw(self) -> std::io::Result<(Self, Self::Raw)>;
}

impl Conn for tokio::net::TcpStream {
    type Raw = std::net::TcpStream;
    fn with_raw(self) -> std::io::Result<(Self, Self::Raw)> {
        let std = self.into_std()?;
        let raw = std.try_clone()?;
        Ok((tokio::net::TcpStream::from_std(std)?, raw))
    }
}

impl Conn for tokio::net::UnixStream {
    type Raw = std::os::unix::net::UnixStream;
    fn with_raw(self) -> std::io::Result<(Self, Self::Raw)> {
        let std = self.into_std()?;
        let raw = std.try_clone()?;
        Ok((tokio::net::UnixStream::from_std(std)?, raw))
    }
}

/// Writes a whole short answer straight to a socket and lets it close: for connections that
/// hyper does not answer (over the cap, a head deadline missed, a peer refused).
pub fn answer_raw<W: Write>(mut w: W, status: u16, body: &str) {
    let _ = write!(
        w,
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    );
}

fn reason(status: u16) -> &'static str {
    hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Status")
}

/// Serves one request on `stream` with `handle`, under the deadlines and size caps.
pub async fn serve<S, F, Fut>(stream: S, handle: F)
where
    S: Conn,
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let Ok((stream, raw)) = stream.with_raw() else {
        return;
    };
    let handle = std::sync::Arc::new(handle);
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let handle = handle.clone();
        async move {
            let (status, ctype, body) = match read(req).await {
                Ok(req) => handle(req).await,
                Err(status) => (status, "text/plain", format!("{}\n", reason(status))),
            };
            Ok::<_, Infallible>(
                hyper::Response::builder()
                    .status(status)
                    .header("content-type", ctype)
                    .body(Full::new(Bytes::from(body)))
                    .expect("a valid status and content type"),
            )
        }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(e) = served
        && e.is_timeout()
    {
        answer_raw(raw, 408, "Request Timeout\n");
    }
}

/// The request with its whole body, or the status that refuses it.
async fn read(req: hyper::Request<Incoming>) -> Result<Request, u16> {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(413);
    }
    let body =
        match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
            Err(_) => return Err(408),
            Ok(Err(_)) => return Err(413),
            Ok(Ok(b)) => b.to_bytes().to_vec(),
        };
    Ok(Request {
        method: parts.method.as_str().to_string(),
        path: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into()),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    })
}

/// Sends one request without a body over an open stream and reads the whole answer:
/// (status, body).
pub async fn call<S>(
    stream: S,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String)>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "standby");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(http_body_util::Empty::<Bytes>::new())
        .map_err(std::io::Error::other)?;
    let res = sender
        .send_request(req)
        .await
        .map_err(std::io::Error::other)?;
    let status = res.status().as_u16();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
