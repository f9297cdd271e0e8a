//! Plain HTTP over loopback: a GET through an HTTP proxy, and a server of one fixed body.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A plain HTTP/1.1 proxy request (absolute URI) over a fresh TCP connection.
pub fn fetch_via_proxy(proxy: SocketAddr, url: &str, timeout: Duration) -> anyhow::Result<Vec<u8>> {
    let host = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .context("only http:// URLs are supported")?;
    let mut stream = TcpStream::connect_timeout(&proxy, timeout).context("connect to proxy")?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let request = format!("GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    read_http_response(&mut stream, Instant::now() + timeout)
}

/// Reads one response; the body must be exactly `Content-Length` bytes.
fn read_http_response(stream: &mut TcpStream, deadline: Instant) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let header_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if Instant::now() > deadline || buf.len() > 64 * 1024 {
            bail!("no complete response header");
        }
        let n = stream.read(&mut chunk).context("read response header")?;
        if n == 0 {
            bail!(
                "connection closed before a response header ({} bytes)",
                buf.len()
            );
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let status_line = head.lines().next().unwrap_or_default().to_owned();
    if status_line.split_whitespace().nth(1) != Some("200") {
        bail!("proxy answered {status_line:?}");
    }
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .context("response without Content-Length")?;
    let mut body = buf.split_off(header_end);
    while body.len() < length {
        if Instant::now() > deadline {
            bail!("timed out after {} of {length} body bytes", body.len());
        }
        let n = stream.read(&mut chunk).context("read response body")?;
        if n == 0 {
            bail!(
                "connection closed after {} of {length} body bytes",
                body.len()
            );
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(body)
}

// ---------------------------------------------------------------------------
// HTTP file server
// ---------------------------------------------------------------------------

/// Serves one fixed body at every path, on loopback, from a std thread.
pub struct HttpFileServer {
    port: u16,
    served: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpFileServer {
    pub fn start(bytes: Vec<u8>) -> HttpFileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind file server");
        let port = listener.local_addr().unwrap().port();
        let served = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let body = Arc::new(bytes);
        let thread = {
            let (served, stop) = (served.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (body, served) = (body.clone(), served.clone());
                    std::thread::spawn(move || {
                        if serve_one(conn, &body).is_ok() {
                            served.fetch_add(1, Ordering::SeqCst);
                        }
                    });
                }
            })
        };
        HttpFileServer {
            port,
            served,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/file.bin", self.port)
    }

    /// How many responses were written completely so far.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }
}

fn serve_one(mut conn: TcpStream, body: &[u8]) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte)? == 0 || head.len() > 16 * 1024 {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
        head.push(byte[0]);
    }
    let header = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(header.as_bytes())?;
    conn.write_all(body)?;
    conn.flush()?;
    let _ = conn.shutdown(Shutdown::Write);
    Ok(())
}

impl Drop for HttpFileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
