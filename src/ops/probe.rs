//! `tandem health`: asks a running node for `/healthz` (or another path) over
//! plain HTTP, for container health checks (the runtime image carries no curl).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// Why a probe got no status.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Connecting, sending or reading failed.
    #[error("{addr}: {source}")]
    Io {
        /// Where the probe went.
        addr: SocketAddr,
        /// What failed.
        source: std::io::Error,
    },
    /// The answer did not start with an HTTP status line.
    #[error("{addr}: not an HTTP answer")]
    NotHttp {
        /// Where the probe went.
        addr: SocketAddr,
    },
}

/// Where to reach a node listening on `listen`: an unspecified address
/// (`0.0.0.0`, `::`) is reached on the loopback of its family.
pub fn target(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// `GET path` on the node listening on `listen`; returns the HTTP status.
pub fn probe(listen: SocketAddr, path: &str, timeout: Duration) -> Result<u16, ProbeError> {
    let addr = target(listen);
    let io = |source| ProbeError::Io { addr, source };
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: tandem-health\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(io)?;
    // The status line is all that matters: read until it is complete.
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 1024 {
        let n = stream.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    parse_status(&head).ok_or(ProbeError::NotHttp { addr })
}

fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_are_reached_on_loopback() {
        let any4: SocketAddr = "0.0.0.0:8000".parse().unwrap();
        assert_eq!(target(any4), "127.0.0.1:8000".parse().unwrap());
        let any6: SocketAddr = "[::]:8000".parse().unwrap();
        assert_eq!(target(any6), "[::1]:8000".parse().unwrap());
        let given: SocketAddr = "10.0.0.5:9000".parse().unwrap();
        assert_eq!(target(given), given);
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status(b"HTTP/1.1 200 OK\r\ncontent-type: x"),
            Some(200)
        );
        assert_eq!(
            parse_status(b"HTTP/1.1 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b""), None);
    }
}
