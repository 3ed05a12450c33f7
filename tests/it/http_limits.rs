//! HTTP limits against hostile clients (SPEC §6a): half-sent requests are
//! closed after the header timeout and never starve normal requests, the
//! connection cap holds new clients back instead of failing, slow bodies get
//! 408, unsupported methods a JSON 405.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::spawn_app;

/// Opens a connection and sends the start of a request, never its end.
async fn half_open(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: tandem\r\nX-Slow: ")
        .await
        .expect("write the first bytes");
    tcp
}

/// Whether the server closed `tcp` (EOF or reset) within `within`.
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 from hyper before closing is fine; keep reading to EOF.
            Ok(Ok(_)) => continue,
        }
    }
}

async fn healthz(addr: SocketAddr) -> u16 {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("a normal request is answered");
    response.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_half_open_requests_are_closed_while_normal_requests_succeed() {
    let app = spawn_app(&["--http-header-timeout", "2s"]).await;
    let mut slow = Vec::with_capacity(1000);
    for _ in 0..1000 {
        slow.push(half_open(app.addr).await);
    }
    // Held open: ordinary clients are still served at once.
    for _ in 0..5 {
        assert_eq!(healthz(app.addr).await, 200);
    }
    let rest = app.rest("alice");
    let (status, _) = rest.send(reqwest::Method::GET, "/api/sessions", None).await;
    assert_eq!(status, 200);
    // Each half-sent request is closed after the header timeout.
    let started = Instant::now();
    for (i, tcp) in slow.iter_mut().enumerate() {
        assert!(
            closed_within(tcp, Duration::from_secs(10)).await,
            "half-open connection {i} still open {:?} after the 2s header timeout",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed_after_the_header_timeout() {
    let app = spawn_app(&["--http-header-timeout", "1s"]).await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: tandem\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Then nothing: the idle connection goes away.
    assert!(closed_within(&mut tcp, Duration::from_secs(5)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_new_clients_wait_instead_of_failing() {
    let app = spawn_app(&["--max-connections", "20", "--http-header-timeout", "1s"]).await;
    let mut slow = Vec::new();
    for _ in 0..20 {
        slow.push(half_open(app.addr).await);
    }
    // Every slot is taken by a slow client; this request waits in the
    // backlog and is answered once the header timeout frees slots.
    let started = Instant::now();
    assert_eq!(healthz(app.addr).await, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "answered while every slot was taken ({:?})",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_is_a_json_408() {
    let app = spawn_app(&["--http-body-timeout", "500ms"]).await;
    let token = app.token("alice");
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/sessions HTTP/1.1\r\nHost: tandem\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut response)).await;
    assert!(read.is_ok(), "no answer to a stalled body");
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let body: Value = serde_json::from_str(body).expect("a JSON error body");
    assert_eq!(body["error"]["code"], "request_timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_methods_get_a_json_405() {
    let app = spawn_app(&[]).await;
    let rest = app.rest("alice");
    for (method, path) in [
        (reqwest::Method::PUT, "/api/sessions"),
        (reqwest::Method::POST, "/api/sessions/active"),
        (reqwest::Method::DELETE, "/api/openapi.json"),
    ] {
        let (status, body) = rest.send(method.clone(), path, None).await;
        assert_eq!(status, 405, "{method} {path}");
        assert_eq!(
            body["error"]["code"], "method_not_allowed",
            "{method} {path}: {body}"
        );
    }
}
