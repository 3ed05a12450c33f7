//! RPC methods reachable through the protocol's `rpc` (and `send`) commands.
//!
//! A [`RpcRouter`] maps method names to [`RpcMethod`]s; an unknown name is
//! error 104. Domain modules register their methods here, so the WebSocket
//! layer never knows about them.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::engine::Payload;
use crate::protocol::ProtocolError;

pub mod sessions;
pub mod twins;

/// Who is calling.
#[derive(Debug, Clone)]
pub struct RpcContext {
    /// The caller's user id.
    pub user: String,
    /// The caller's connection id.
    pub client: String,
}

/// One RPC method.
#[async_trait]
pub trait RpcMethod: Send + Sync + 'static {
    /// Runs the method with the request's `data`.
    async fn call(
        &self,
        ctx: &RpcContext,
        data: Option<Payload>,
    ) -> Result<Option<Payload>, ProtocolError>;
}

/// Method name → method.
#[derive(Default, Clone)]
pub struct RpcRouter {
    methods: HashMap<String, Arc<dyn RpcMethod>>,
}

impl RpcRouter {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `method` under `name` (replacing any earlier one).
    pub fn register(&mut self, name: impl Into<String>, method: impl RpcMethod) {
        self.methods.insert(name.into(), Arc::new(method));
    }

    /// The registered method names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.methods.keys().map(String::as_str)
    }

    /// Calls `name`; 104 when it does not exist.
    pub async fn call(
        &self,
        ctx: &RpcContext,
        name: &str,
        data: Option<Payload>,
    ) -> Result<Option<Payload>, ProtocolError> {
        match self.methods.get(name) {
            Some(method) => method.call(ctx, data).await,
            None => Err(ProtocolError::method_not_found()),
        }
    }
}

/// `server.info`: what server the client talks to.
pub struct ServerInfo {
    info: Payload,
}

impl ServerInfo {
    /// Info for this node.
    pub fn new(node: &str, engine: &str) -> Result<Self, serde_json::Error> {
        let info = Payload::from_json(&serde_json::json!({
            "name": "tandem",
            "version": env!("CARGO_PKG_VERSION"),
            "node": node,
            "engine": engine,
        }))?;
        Ok(Self { info })
    }
}

#[async_trait]
impl RpcMethod for ServerInfo {
    async fn call(
        &self,
        _ctx: &RpcContext,
        _data: Option<Payload>,
    ) -> Result<Option<Payload>, ProtocolError> {
        Ok(Some(self.info.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn routes_by_name_and_reports_unknown_methods() {
        let mut router = RpcRouter::new();
        router.register("server.info", ServerInfo::new("n1", "memory").unwrap());
        let ctx = RpcContext {
            user: "u".into(),
            client: "c".into(),
        };
        let info = router
            .call(&ctx, "server.info", None)
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(info.as_bytes()).contains("\"engine\":\"memory\""));
        assert_eq!(router.call(&ctx, "nope", None).await.unwrap_err().code, 104);
    }
}
