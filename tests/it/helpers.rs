//! Test harness: a Tandem app on an ephemeral port and a small protocol-aware
//! WebSocket client.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tandem::auth::{Secret, TokenMinter};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// HS256 secret every test app is started with.
pub const SECRET: &str = "tandem-integration-tests-secret-0123456789";
/// How long any single wait for a server message may take by default.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// A running server.
pub struct TestApp {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    minter: TokenMinter,
    /// The node's sweeper (its background loop runs every `--sweep-interval`).
    pub sweeper: tandem::sweeper::Sweeper,
    /// The node.
    pub node: tandem::node::Node,
    /// The engine (to look at what is stored).
    pub engine: std::sync::Arc<dyn tandem::engine::Engine>,
}

/// Starts a server on 127.0.0.1:0 with the test secret and `extra_args`.
pub async fn spawn_app(extra_args: &[&str]) -> TestApp {
    let mut args = vec![
        "tandem",
        "--listen",
        "127.0.0.1:0",
        "--jwt-hs256-secret",
        SECRET,
    ];
    args.extend_from_slice(extra_args);
    let cli = tandem::config::Cli::try_parse_from(args).expect("test flags parse");
    let settings = cli.config.validate().expect("test settings are valid");
    let app = tandem::App::build(settings).await.expect("app builds");
    let addr = app.local_addr().expect("bound address");
    let sweeper = app.sweeper().clone();
    let node = app.node().clone();
    let engine = app.engine().clone();
    let (stop, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        stop: Some(stop),
        handle: Some(handle),
        minter: TokenMinter::new(&Secret::new(SECRET)),
        sweeper,
        node,
        engine,
    }
}

impl TestApp {
    /// A token for `user` valid for `ttl`.
    pub fn mint(&self, user: &str, ttl: Duration) -> String {
        self.minter.mint(user, ttl, None).expect("mint token")
    }

    /// A token for `user` valid for an hour.
    pub fn token(&self, user: &str) -> String {
        self.mint(user, Duration::from_secs(3600))
    }

    /// The minter, for tokens with explicit claims.
    pub fn minter(&self) -> &TokenMinter {
        &self.minter
    }

    /// Opens a WebSocket without sending anything.
    pub async fn open(&self) -> WsClient {
        WsClient::open(self.addr).await
    }

    /// Opens a WebSocket and connects as `user`; returns the client (its
    /// `client_id` set from the reply).
    pub async fn connect(&self, user: &str) -> WsClient {
        let mut ws = self.open().await;
        let reply = ws.connect(&self.token(user)).await;
        assert!(reply.get("error").is_none(), "connect failed: {reply}");
        ws
    }

    /// Stops the server and returns what `run` returned.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let handle = self.handle.take().expect("app handle");
        tokio::time::timeout(Duration::from_secs(15), handle)
            .await
            .expect("app did not stop within 15s")
            .expect("app task panicked")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    tandem::auth::mint::now_secs()
}

/// Unpadded base64url, for hand-made tokens.
pub fn b64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// What a close looked like from the client side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// A close frame with this code and reason.
    Close(u16, String),
    /// The stream ended (or failed) without a close frame.
    NoCloseFrame(String),
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A protocol client: one command per frame out, messages split on `\n` in.
pub struct WsClient {
    ws: Ws,
    /// Messages received but not consumed yet (server pings `{}` included).
    buffered: VecDeque<Value>,
    next_id: u32,
    /// The connection id from the connect reply.
    pub client_id: String,
    /// Default timeout of each wait.
    pub timeout: Duration,
}

fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/connection/websocket")
}

fn is_ping(v: &Value) -> bool {
    v.as_object().is_some_and(|o| o.is_empty())
}

impl WsClient {
    fn new(ws: Ws) -> Self {
        Self {
            ws,
            buffered: VecDeque::new(),
            next_id: 0,
            client_id: String::new(),
            timeout: RECV_TIMEOUT,
        }
    }

    /// Opens a WebSocket to the server at `addr`.
    pub async fn open(addr: SocketAddr) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url(addr))
            .await
            .expect("websocket handshake");
        Self::new(ws)
    }

    /// Opens a WebSocket over a socket with a tiny receive buffer, so that a
    /// client that stops reading fills the server's side quickly.
    pub async fn open_small_buffer(addr: SocketAddr) -> Self {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let tcp = socket.connect(addr).await.expect("tcp connect");
        let (ws, _) = tokio_tungstenite::client_async(url(addr), MaybeTlsStream::Plain(tcp))
            .await
            .expect("websocket handshake");
        Self::new(ws)
    }

    /// Sends one text frame as is.
    pub async fn send_raw(&mut self, text: impl Into<String>) {
        self.ws
            .send(Message::text(text.into()))
            .await
            .expect("send frame");
    }

    /// Sends one binary frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::binary(bytes))
            .await
            .expect("send frame");
    }

    /// Starts the closing handshake from the client side.
    pub async fn send_close(&mut self, code: u16, reason: &str) {
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        let frame = CloseFrame {
            code: code.into(),
            reason: reason.into(),
        };
        self.ws
            .send(Message::Close(Some(frame)))
            .await
            .expect("send close");
    }

    /// Sends one command (one frame).
    pub async fn send(&mut self, command: Value) {
        self.send_raw(command.to_string()).await;
    }

    /// The next command id.
    pub fn next_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    /// Sends `{"id":N,"<method>":params}` without waiting; returns N.
    pub async fn send_command(&mut self, method: &str, params: Value) -> u32 {
        let id = self.next_id();
        self.send(json!({ "id": id, method: params })).await;
        id
    }

    /// Reads one WebSocket message into the buffer; `Err` when the connection ended.
    async fn read_frame(&mut self) -> Result<(), Ended> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    for line in text.split('\n').filter(|l| !l.trim().is_empty()) {
                        let value: Value = serde_json::from_str(line)
                            .unwrap_or_else(|e| panic!("server sent non-JSON line {line:?}: {e}"));
                        self.buffered.push_back(value);
                    }
                    return Ok(());
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(match frame {
                        Some(f) => Ended::Close(u16::from(f.code), f.reason.to_string()),
                        None => Ended::NoCloseFrame("close frame without code".into()),
                    })
                }
                Some(Ok(Message::Binary(b))) => panic!("server sent a binary frame: {b:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(Ended::NoCloseFrame(format!("read error: {e}"))),
                None => return Err(Ended::NoCloseFrame("stream ended".into())),
            }
        }
    }

    /// Takes the first message (buffered or new) matching `pred`, keeping the
    /// others buffered in order.
    pub async fn recv_matching(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let timeout = self.timeout;
        let wait = async {
            loop {
                if let Some(pos) = self.buffered.iter().position(&pred) {
                    return self.buffered.remove(pos).expect("position is valid");
                }
                if let Err(ended) = self.read_frame().await {
                    panic!(
                        "connection ended ({ended:?}) while waiting for {what}; unconsumed: {:?}",
                        self.buffered
                    );
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(v) => v,
            Err(_) => panic!("timed out after {timeout:?} waiting for {what}"),
        }
    }

    /// The next message that is not a server ping.
    pub async fn recv(&mut self) -> Value {
        self.recv_matching("the next message", |v| !is_ping(v))
            .await
    }

    /// The next server ping `{}`.
    pub async fn recv_ping(&mut self) {
        self.recv_matching("a server ping {}", is_ping).await;
    }

    /// Waits for a ping and answers it with a pong `{}`.
    pub async fn pong_next_ping(&mut self) {
        self.recv_ping().await;
        self.send_raw("{}").await;
    }

    /// Sends a command and returns the whole reply with its id.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_command(method, params).await;
        let what = format!("the reply to {method} #{id}");
        self.recv_matching(&what, |v| v["id"].as_u64() == Some(u64::from(id)))
            .await
    }

    /// Sends a command and returns its result object; panics on an error reply.
    pub async fn call_ok(&mut self, method: &str, params: Value) -> Value {
        let reply = self.call(method, params).await;
        assert!(reply.get("error").is_none(), "{method} failed: {reply}");
        reply
            .get(method)
            .cloned()
            .unwrap_or_else(|| panic!("reply to {method} lacks the result key: {reply}"))
    }

    /// Sends a command that must fail; returns the error's code.
    pub async fn call_err(&mut self, method: &str, params: Value) -> u64 {
        let reply = self.call(method, params).await;
        reply["error"]["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("expected an error reply to {method}, got {reply}"))
    }

    /// Sends `connect` with `token`; returns the whole reply (result or error).
    /// On success, remembers the client id.
    pub async fn connect(&mut self, token: &str) -> Value {
        let reply = self
            .call("connect", json!({ "token": token, "name": "rust-it" }))
            .await;
        if let Some(client) = reply["connect"]["client"].as_str() {
            self.client_id = client.to_owned();
        }
        reply
    }

    /// Subscribes to `channel` with extra request fields merged in; returns the
    /// whole reply.
    pub async fn subscribe(&mut self, channel: &str, extra: Value) -> Value {
        let mut params = json!({ "channel": channel });
        if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        self.call("subscribe", params).await
    }

    /// Subscribes and returns the subscribe result; panics on an error reply.
    pub async fn subscribe_ok(&mut self, channel: &str, extra: Value) -> Value {
        let reply = self.subscribe(channel, extra).await;
        assert!(
            reply.get("error").is_none(),
            "subscribe {channel} failed: {reply}"
        );
        reply["subscribe"].clone()
    }

    /// Waits for a push of `kind` (`pub`, `join`, `leave`, …) in `channel`;
    /// returns the push's `kind` object.
    pub async fn expect_push(&mut self, channel: &str, kind: &str) -> Value {
        self.expect_push_where(channel, kind, |_| true).await
    }

    /// Like [`WsClient::expect_push`], for the first such push whose `kind`
    /// object satisfies `pred` (others stay buffered).
    pub async fn expect_push_where(
        &mut self,
        channel: &str,
        kind: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let what = format!("a matching {kind} push in {channel}");
        let push = self
            .recv_matching(&what, |v| {
                v.get("id").is_none()
                    && v["push"]["channel"].as_str() == Some(channel)
                    && v["push"].get(kind).is_some_and(&pred)
            })
            .await;
        push["push"][kind].clone()
    }

    /// Reads (buffering messages) until the connection ends; returns how.
    pub async fn wait_end(&mut self) -> Ended {
        let timeout = self.timeout;
        let wait = async {
            loop {
                if let Err(ended) = self.read_frame().await {
                    return ended;
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(ended) => ended,
            Err(_) => panic!("timed out after {timeout:?} waiting for the connection to close"),
        }
    }

    /// Reads until a close frame arrives; returns its code and reason.
    pub async fn expect_close(&mut self) -> (u16, String) {
        match self.wait_end().await {
            Ended::Close(code, reason) => (code, reason),
            Ended::NoCloseFrame(how) => panic!(
                "connection ended without a close frame ({how}); unconsumed: {:?}",
                self.buffered
            ),
        }
    }

    /// Messages received but not consumed.
    pub fn buffered(&self) -> &VecDeque<Value> {
        &self.buffered
    }

    /// Takes every buffered message matching `pred`, in arrival order.
    pub fn take_buffered(&mut self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let (taken, kept): (Vec<Value>, Vec<Value>) = std::mem::take(&mut self.buffered)
            .into_iter()
            .partition(|v| pred(v));
        self.buffered = kept.into();
        taken
    }

    /// Opens a WebSocket; `Err` (with the reason) when the handshake fails,
    /// e.g. a draining node's 503.
    pub async fn try_open(addr: SocketAddr) -> Result<Self, String> {
        match tokio::time::timeout(RECV_TIMEOUT, tokio_tungstenite::connect_async(url(addr))).await
        {
            Ok(Ok((ws, _))) => Ok(Self::new(ws)),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err("handshake timed out".into()),
        }
    }

    /// Like [`WsClient::call`], but the connection ending is an `Err` (how it
    /// ended) instead of a panic; messages read before the end stay buffered.
    pub async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Ended> {
        let id = self.next_id();
        let frame = json!({ "id": id, method: params }).to_string();
        if let Err(err) = self.ws.send(Message::text(frame)).await {
            return Err(Ended::NoCloseFrame(format!("send failed: {err}")));
        }
        let timeout = self.timeout;
        let wait = async {
            loop {
                if let Some(pos) = self
                    .buffered
                    .iter()
                    .position(|v| v["id"].as_u64() == Some(u64::from(id)))
                {
                    return Ok(self.buffered.remove(pos).expect("position is valid"));
                }
                self.read_frame().await?;
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(outcome) => outcome,
            Err(_) => panic!("timed out after {timeout:?} waiting for the reply to {method} #{id}"),
        }
    }
}

/// What an RPC error reply carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// Error code (domain errors use the HTTP status).
    pub code: u64,
    /// Error message.
    pub message: String,
}

impl WsClient {
    /// Calls RPC `method` with `data`; returns the whole reply.
    pub async fn rpc(&mut self, method: &str, data: Value) -> Value {
        self.call("rpc", json!({ "method": method, "data": data }))
            .await
    }

    /// Calls RPC `method`; returns its `data`, panicking on an error reply.
    pub async fn rpc_ok(&mut self, method: &str, data: Value) -> Value {
        let reply = self.rpc(method, data).await;
        assert!(reply.get("error").is_none(), "rpc {method} failed: {reply}");
        reply["rpc"]["data"].clone()
    }

    /// Calls RPC `method`, which must fail; returns the error.
    pub async fn rpc_err(&mut self, method: &str, data: Value) -> RpcError {
        let reply = self.rpc(method, data).await;
        let code = reply["error"]["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("expected rpc {method} to fail, got {reply}"));
        RpcError {
            code,
            message: reply["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    /// Creates a session owned by this client's user with `collaborators`
    /// (`(user, role)`); returns the session's id.
    pub async fn create_session(&mut self, name: &str, collaborators: &[(&str, &str)]) -> String {
        let collaborators: Vec<Value> = collaborators
            .iter()
            .map(|(user, role)| json!({ "user_id": user, "role": role }))
            .collect();
        let session = self
            .rpc_ok(
                "session.create",
                json!({ "name": name, "collaborators": collaborators }),
            )
            .await;
        session["id"]
            .as_str()
            .unwrap_or_else(|| panic!("session.create returned no id: {session}"))
            .to_owned()
    }

    /// Sends a chat message; returns the stored message.
    pub async fn chat(&mut self, session_id: &str, content: &str) -> Value {
        self.rpc_ok(
            "chat.send",
            json!({ "session_id": session_id, "content": content }),
        )
        .await
    }

    /// Waits for a publication in `channel` whose event type is `kind`;
    /// returns the publication (`data` is the event).
    pub async fn expect_event(&mut self, channel: &str, kind: &str) -> Value {
        let what = format!("a {kind} event publication in {channel}");
        let push = self
            .recv_matching(&what, |v| {
                v.get("id").is_none()
                    && v["push"]["channel"].as_str() == Some(channel)
                    && v["push"]["pub"]["data"]["type"] == kind
            })
            .await;
        push["push"]["pub"].clone()
    }

    /// Waits for a notice of `kind` on this client's `user:<user>` feed; returns its data.
    pub async fn expect_notice(&mut self, user: &str, kind: &str) -> Value {
        let channel = format!("user:{user}");
        let what = format!("a {kind} notice in {channel}");
        let push = self
            .recv_matching(&what, |v| {
                v.get("id").is_none()
                    && v["push"]["channel"].as_str() == Some(channel.as_str())
                    && v["push"]["pub"]["data"]["type"] == kind
            })
            .await;
        push["push"]["pub"]["data"].clone()
    }
}

/// The channel of session `id`.
pub fn session_channel(id: &str) -> String {
    format!("session:{id}")
}

impl WsClient {
    /// Takes the next publication in `channel` (any type, in arrival order)
    /// and checks it is a `kind` event at `*offset + 1`; advances `*offset`
    /// and returns the event.
    pub async fn next_event(&mut self, channel: &str, kind: &str, offset: &mut u64) -> Value {
        let what = format!("the {kind} event at offset {} in {channel}", *offset + 1);
        let push = self
            .recv_matching(&what, |v| {
                v.get("id").is_none()
                    && v["push"]["channel"].as_str() == Some(channel)
                    && v["push"].get("pub").is_some()
            })
            .await;
        let publication = &push["push"]["pub"];
        assert_eq!(publication["data"]["type"], kind, "{publication}");
        assert_eq!(publication["offset"], *offset + 1, "{publication}");
        assert_eq!(
            publication["data"]["offset"], publication["offset"],
            "{publication}"
        );
        *offset += 1;
        publication["data"].clone()
    }

    /// The snapshot `session.get` returns.
    pub async fn snapshot(
        &mut self,
        session_id: &str,
    ) -> tandem::sessions::service::SessionSnapshot {
        let value = self
            .rpc_ok("session.get", json!({ "session_id": session_id }))
            .await;
        serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("session.get returned no snapshot ({e}): {value}"))
    }

    /// Every stored event of a session (`session.events` paged by 1000).
    pub async fn events(&mut self, session_id: &str) -> Vec<tandem::sessions::model::Event> {
        let mut all: Vec<tandem::sessions::model::Event> = Vec::new();
        loop {
            let from = all.last().map_or(1, |e| e.offset + 1);
            let page = self
                .rpc_ok(
                    "session.events",
                    json!({ "session_id": session_id, "from": from, "limit": 1000 }),
                )
                .await;
            let page: Vec<tandem::sessions::model::Event> =
                serde_json::from_value(page).expect("session.events returns events");
            if page.is_empty() {
                return all;
            }
            all.extend(page);
        }
    }
}

/// A REST client for `user` (the `/api` routes).
pub struct Rest {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl TestApp {
    /// A REST client acting as `user`.
    pub fn rest(&self, user: &str) -> Rest {
        Rest {
            http: reqwest::Client::new(),
            base: format!("http://{}", self.addr),
            token: self.token(user),
        }
    }
}

impl Rest {
    /// Sends `method path` with an optional JSON body; returns the status and
    /// the JSON body (`null` when empty).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let call = async {
            let response = request.send().await.expect("http request");
            let status = response.status().as_u16();
            let bytes = response.bytes().await.expect("http body");
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    panic!("{method} {path}: body is not JSON ({e}): {bytes:?}")
                })
            };
            (status, body)
        };
        tokio::time::timeout(RECV_TIMEOUT, call)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for the response to {method} {path}"))
    }
}

/// Everything a REST response carried.
#[derive(Debug)]
pub struct RestResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as JSON (`null` when empty).
    pub body: Value,
}

impl RestResponse {
    /// A header as a string (`None` when absent or not visible ASCII).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    /// A REST client that sends `token` as is (an expired or forged one).
    pub fn rest_with_token(&self, token: &str) -> Rest {
        Rest {
            http: reqwest::Client::new(),
            base: format!("http://{}", self.addr),
            token: token.to_owned(),
        }
    }
}

impl Rest {
    /// A request for `method path` carrying this client's bearer token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.anonymous(method, path).bearer_auth(&self.token)
    }

    /// A request for `method path` without an `Authorization` header.
    pub fn anonymous(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Sends `request` (timed out after [`RECV_TIMEOUT`]); returns status,
    /// headers and the JSON body.
    pub async fn fetch(&self, request: reqwest::RequestBuilder) -> RestResponse {
        let request = request.build().expect("a valid request");
        let what = format!("{} {}", request.method(), request.url().path());
        let call = async {
            let response = self.http.execute(request).await.expect("http request");
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.expect("http body");
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes)
                    .unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {bytes:?}"))
            };
            RestResponse {
                status,
                headers,
                body,
            }
        };
        tokio::time::timeout(RECV_TIMEOUT, call)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for the response to {what}"))
    }
}

/// The real `tandem` binary running as a child process (so a test can
/// `kill -9` it). Killed when dropped.
pub struct ChildApp {
    /// Where it listens.
    pub addr: SocketAddr,
    child: std::process::Child,
    minter: TokenMinter,
}

/// Starts `target/debug/tandem` (`CARGO_BIN_EXE_tandem`) on 127.0.0.1:0 with
/// the test secret and `extra_args`; returns once it printed its address.
pub async fn spawn_binary(extra_args: &[&str]) -> ChildApp {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut command = Command::new(env!("CARGO_BIN_EXE_tandem"));
    // Only the flags below configure it, whatever the test's environment holds.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TANDEM_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(["--listen", "127.0.0.1:0", "--jwt-hs256-secret", SECRET])
        .args(extra_args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn target/debug/tandem");
    let stdout = child.stdout.take().expect("child stdout");
    let (tx, rx) = oneshot::channel::<String>();
    // Reads the address line, then drains stdout so the child never blocks.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix("tandem listening on http://") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        }
    });
    let addr = match tokio::time::timeout(Duration::from_secs(10), rx).await {
        Ok(Ok(addr)) => addr,
        Ok(Err(_)) => {
            let status = child.wait().expect("wait for the child");
            panic!("the tandem binary exited ({status}) before printing its address");
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out after 10s waiting for `tandem listening on http://…` on the child's stdout");
        }
    };
    ChildApp {
        addr: addr.parse().expect("the printed address parses"),
        child,
        minter: TokenMinter::new(&Secret::new(SECRET)),
    }
}

impl ChildApp {
    /// A token for `user` valid for an hour.
    pub fn token(&self, user: &str) -> String {
        self.minter
            .mint(user, Duration::from_secs(3600), None)
            .expect("mint token")
    }

    /// Opens a WebSocket and connects as `user`.
    pub async fn connect(&self, user: &str) -> WsClient {
        let mut ws = WsClient::open(self.addr).await;
        let reply = ws.connect(&self.token(user)).await;
        assert!(reply.get("error").is_none(), "connect failed: {reply}");
        ws
    }

    /// Sends SIGTERM (what an orchestrator sends for a rolling restart).
    pub fn terminate(&self) {
        let status = std::process::Command::new("sh")
            .args([
                "-c",
                "kill -TERM \"$1\"",
                "sh",
                &self.child.id().to_string(),
            ])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Waits (up to `timeout`) for the process to exit; returns its status.
    pub async fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the tandem child") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the tandem child did not exit within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends SIGKILL (`kill -9`) and reaps the process.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the tandem child");
        self.child.wait().expect("reap the tandem child");
    }
}

impl Drop for ChildApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
