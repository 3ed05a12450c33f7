//! Sockets: every connection goes to a loopback server and leaves from one of
//! several loopback source addresses (127.0.0.1 … 127.0.0.N), so a run can
//! hold more connections than one address has ephemeral ports (~28k here).

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::Context;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

/// A generator-side WebSocket.
pub type Ws = WebSocketStream<TcpStream>;

/// The loopback server a run targets, from a URL like `http://127.0.0.1:8000`.
#[derive(Debug, Clone)]
pub struct Server {
    /// `http://host:port` without a trailing slash.
    pub http: String,
    /// The socket address.
    pub addr: SocketAddr,
}

impl Server {
    /// Parses `url`; only loopback addresses (127.0.0.0/8) are accepted: the
    /// tool never sends traffic anywhere else.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .context("--url must start with http://")?;
        let hostport = rest.split('/').next().unwrap_or(rest);
        let addr: SocketAddr = hostport
            .parse()
            .with_context(|| format!("--url: {hostport} is not an IPv4 address and port"))?;
        anyhow::ensure!(
            matches!(addr.ip(), IpAddr::V4(ip) if ip.is_loopback()),
            "--url: only loopback servers (127.0.0.0/8) may be targeted"
        );
        Ok(Self {
            http: format!("http://{hostport}"),
            addr,
        })
    }

    /// The `ws://` URL of `path` (which starts with `/`).
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }
}

/// Round-robin loopback source addresses.
#[derive(Debug)]
pub struct Sources {
    count: u8,
    next: Cell<u32>,
}

impl Sources {
    /// 127.0.0.1 … 127.0.0.`count` (1 to 250).
    pub fn new(count: u8) -> anyhow::Result<Self> {
        anyhow::ensure!(
            (1..=250).contains(&count),
            "--sources must be between 1 and 250"
        );
        Ok(Self {
            count,
            next: Cell::new(0),
        })
    }

    /// How many addresses are used.
    pub fn count(&self) -> u8 {
        self.count
    }

    /// The next source address.
    pub fn pick(&self) -> Ipv4Addr {
        let i = self.next.get();
        self.next.set(i.wrapping_add(1));
        let host = 1 + (i % u32::from(self.count)) as u8;
        Ipv4Addr::new(127, 0, 0, host)
    }
}

/// A TCP connection from `source` to `server`, with Nagle off.
pub async fn tcp(source: Ipv4Addr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Client-side WebSocket settings: a small read buffer (thousands of
/// connections live in one process), no write buffering, large messages
/// allowed (a recovering subscribe reply carries many publications).
pub fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20))
}

/// Opens a WebSocket to `url` on `server` from `source`, asking for
/// `subprotocol` when given.
pub async fn ws(
    source: Ipv4Addr,
    server: SocketAddr,
    url: &str,
    subprotocol: Option<&str>,
) -> anyhow::Result<Ws> {
    let mut request = url.into_client_request()?;
    if let Some(p) = subprotocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p)?);
    }
    let stream = tcp(source, server)
        .await
        .with_context(|| format!("connect {source} → {server}"))?;
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(client_config()))
            .await
            .with_context(|| format!("WebSocket handshake with {url}"))?;
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_servers() {
        assert!(Server::parse("http://127.0.0.1:8000").is_ok());
        assert!(Server::parse("http://127.0.0.9:1/").is_ok());
        assert!(Server::parse("http://10.0.0.1:8000").is_err());
        assert!(Server::parse("http://example.com:80").is_err());
        assert!(Server::parse("ws://127.0.0.1:80").is_err());
    }

    #[test]
    fn sources_rotate() {
        let s = Sources::new(3).unwrap();
        let got: Vec<u8> = (0..4).map(|_| s.pick().octets()[3]).collect();
        assert_eq!(got, [1, 2, 3, 1]);
        assert!(Sources::new(0).is_err());
    }
}
