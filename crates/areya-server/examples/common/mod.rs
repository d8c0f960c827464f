//! What the server benchmarks share: one raw HTTP/1.1 request, as a client on another machine
//! would send it (no client library between the benchmark and the server's own parsing).

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request on a fresh connection: `head` is the request line, optionally followed by
/// `\r\n`-separated headers (no trailing line break). Returns (status, whole response); status
/// 0 when the connection failed.
pub async fn request(addr: SocketAddr, head: &str, body: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return (0, String::new());
    };
    let req = format!(
        "{head}\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).await.is_err() {
        return (0, String::new());
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

/// The password the benchmarks give their staff.
pub const PASSWORD: &str = "bench password 2026";

/// Logs `ana` in; returns her session cookie (`name=value`).
pub async fn login(addr: SocketAddr) -> String {
    let (status, resp) = request(
        addr,
        "POST /api/login HTTP/1.1",
        &format!(r#"{{"user":"ana","password":"{PASSWORD}"}}"#),
    )
    .await;
    assert_eq!(status, 200, "login: {resp}");
    resp.lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_string()
}
