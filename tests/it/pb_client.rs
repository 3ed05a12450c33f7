//! A Protobuf protocol client for the integration tests: binary frames of
//! varint-delimited `Command`s out, `Reply`s in, using the message types the
//! server generates from `proto/client.proto`. The official SDK's Protobuf
//! build is exercised separately, in `tests/interop/`.

use std::collections::VecDeque;
use std::net::SocketAddr;

use bytes::{Buf, Bytes};
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use serde_json::Value;
use tandem::protocol::protobuf::{delimited, wire};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{Ended, TestApp, RECV_TIMEOUT};

/// How the client asks for the Protobuf variant.
#[derive(Debug, Clone, Copy)]
pub enum Select {
    /// `Sec-WebSocket-Protocol: centrifuge-protobuf`.
    Subprotocol,
    /// `?format=protobuf`.
    Format,
    /// `?cf_protocol=protobuf`.
    CfProtocol,
}

/// A Protobuf client.
pub struct PbClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    buffered: VecDeque<wire::Reply>,
    next_id: u32,
    /// The subprotocol the server echoed, if any.
    pub subprotocol: Option<String>,
    /// The connection id from the connect reply.
    pub client_id: String,
}

impl PbClient {
    /// Opens a Protobuf WebSocket without sending anything.
    pub async fn open(addr: SocketAddr, select: Select) -> Self {
        let query = match select {
            Select::Subprotocol => "",
            Select::Format => "?format=protobuf",
            Select::CfProtocol => "?cf_protocol=protobuf",
        };
        let mut request = format!("ws://{addr}/connection/websocket{query}")
            .into_client_request()
            .unwrap();
        if let Select::Subprotocol = select {
            request.headers_mut().insert(
                "sec-websocket-protocol",
                "centrifuge-protobuf".parse().unwrap(),
            );
        }
        let (ws, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket handshake");
        let subprotocol = response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap().to_owned());
        Self {
            ws,
            buffered: VecDeque::new(),
            next_id: 0,
            subprotocol,
            client_id: String::new(),
        }
    }

    /// Opens a Protobuf connection (by subprotocol) and connects as `user`.
    pub async fn connect_as(app: &TestApp, user: &str) -> Self {
        let mut pb = Self::open(app.addr, Select::Subprotocol).await;
        let reply = pb.connect(&app.token(user)).await;
        assert!(reply.error.is_none(), "connect failed: {reply:?}");
        pb
    }

    /// Sends one binary frame as is.
    pub async fn send_frame(&mut self, bytes: impl Into<Bytes>) {
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .expect("send frame");
    }

    /// Sends one text frame (wrong on this variant).
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send frame");
    }

    /// Sends `commands` in one frame.
    pub async fn send_commands(&mut self, commands: &[wire::Command]) {
        let mut frame = Vec::new();
        for c in commands {
            frame.extend_from_slice(&delimited(c).unwrap());
        }
        self.send_frame(frame).await;
    }

    /// The next command id.
    pub fn next_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    async fn read_frame(&mut self) -> Result<(), Ended> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Binary(mut bytes))) => {
                    while bytes.has_remaining() {
                        let reply = wire::Reply::decode_length_delimited(&mut bytes)
                            .unwrap_or_else(|e| panic!("server sent a bad message: {e}"));
                        self.buffered.push_back(reply);
                    }
                    return Ok(());
                }
                Some(Ok(Message::Text(t))) => panic!("server sent text on Protobuf: {t}"),
                Some(Ok(Message::Close(frame))) => {
                    return Err(match frame {
                        Some(f) => Ended::Close(u16::from(f.code), f.reason.to_string()),
                        None => Ended::NoCloseFrame("close frame without code".into()),
                    })
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(Ended::NoCloseFrame(format!("read error: {e}"))),
                None => return Err(Ended::NoCloseFrame("stream ended".into())),
            }
        }
    }

    /// Takes the first reply (buffered or new) matching `pred`.
    pub async fn recv_matching(
        &mut self,
        what: &str,
        pred: impl Fn(&wire::Reply) -> bool,
    ) -> wire::Reply {
        let wait = async {
            loop {
                if let Some(pos) = self.buffered.iter().position(&pred) {
                    return self.buffered.remove(pos).unwrap();
                }
                if let Err(ended) = self.read_frame().await {
                    panic!(
                        "connection ended ({ended:?}) while waiting for {what}; unconsumed: {:?}",
                        self.buffered
                    );
                }
            }
        };
        tokio::time::timeout(RECV_TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// Waits for a server ping (an empty reply).
    pub async fn recv_ping(&mut self) {
        self.recv_matching("a server ping (0x00)", |r| *r == wire::Reply::default())
            .await;
    }

    /// Sends `command` with the next id; returns the reply to it.
    pub async fn call(&mut self, command: wire::Command) -> wire::Reply {
        let id = self.next_id();
        self.send_commands(&[wire::Command { id, ..command }]).await;
        self.recv_matching(&format!("the reply to #{id}"), |r| r.id == id)
            .await
    }

    /// Sends `connect` with `token`; remembers the client id.
    pub async fn connect(&mut self, token: &str) -> wire::Reply {
        let reply = self
            .call(wire::Command {
                connect: Some(wire::ConnectRequest {
                    token: token.into(),
                    name: "rust-it-protobuf".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await;
        if let Some(c) = &reply.connect {
            self.client_id = c.client.clone();
        }
        reply
    }

    /// Sends `subscribe`; returns the whole reply.
    pub async fn subscribe(&mut self, request: wire::SubscribeRequest) -> wire::Reply {
        self.call(wire::Command {
            subscribe: Some(request),
            ..Default::default()
        })
        .await
    }

    /// Subscribes to `channel`; panics on an error.
    pub async fn subscribe_ok(&mut self, channel: &str) -> wire::SubscribeResult {
        let reply = self
            .subscribe(wire::SubscribeRequest {
                channel: channel.into(),
                flag: 1,
                ..Default::default()
            })
            .await;
        reply
            .subscribe
            .unwrap_or_else(|| panic!("subscribe {channel} failed: {:?}", reply.error))
    }

    /// Calls RPC `method` with JSON `data`; returns the result as JSON, or the error.
    pub async fn rpc(&mut self, method: &str, data: &Value) -> Result<Value, wire::Error> {
        let reply = self
            .call(wire::Command {
                rpc: Some(wire::RpcRequest {
                    method: method.into(),
                    data: Bytes::from(serde_json::to_vec(data).unwrap()),
                }),
                ..Default::default()
            })
            .await;
        if let Some(error) = reply.error {
            return Err(error);
        }
        let data = reply.rpc.expect("an rpc result").data;
        Ok(serde_json::from_slice(&data).expect("RPC data is JSON bytes"))
    }

    /// The next `pub` push in `channel`.
    pub async fn expect_pub(&mut self, channel: &str) -> wire::Publication {
        let what = format!("a pub push in {channel}");
        let reply = self
            .recv_matching(&what, |r| {
                r.id == 0
                    && r.push
                        .as_ref()
                        .is_some_and(|p| p.channel == channel && p.r#pub.is_some())
            })
            .await;
        reply.push.unwrap().r#pub.unwrap()
    }

    /// Reads until the connection ends; returns the close code and reason.
    pub async fn expect_close(&mut self) -> (u16, String) {
        let wait = async {
            loop {
                if let Err(ended) = self.read_frame().await {
                    return ended;
                }
            }
        };
        match tokio::time::timeout(RECV_TIMEOUT, wait).await {
            Ok(Ended::Close(code, reason)) => (code, reason),
            Ok(other) => panic!("connection ended without a close frame: {other:?}"),
            Err(_) => panic!("timed out waiting for the connection to close"),
        }
    }
}

/// The JSON value of a publication's payload bytes.
pub fn data_of(publication: &wire::Publication) -> Value {
    serde_json::from_slice(&publication.data).expect("payload is JSON")
}
