//! `rpc` (request/reply) and `send` (fire and forget, routed like an RPC).

use serde::Deserialize;

use super::{ClientState, Handled};
use crate::protocol::command::{RpcRequest, SendRequest};
use crate::protocol::reply::{ReplyBody, RpcResult};
use crate::protocol::{Json, ProtocolError};
use crate::rpc::RpcContext;

/// What Tandem expects inside `send.data`.
#[derive(Deserialize)]
struct SendEnvelope {
    method: String,
    #[serde(default)]
    data: Option<Json>,
}

impl ClientState {
    fn rpc_context(&self) -> Result<RpcContext, super::Failure> {
        let handle = &self.connected()?.handle;
        Ok(RpcContext {
            user: handle.user().to_owned(),
            client: handle.id().to_owned(),
        })
    }

    pub(super) async fn rpc(&mut self, req: RpcRequest) -> Handled {
        let ctx = self.rpc_context()?;
        let data = req.data.as_ref().map(Json::to_payload);
        let result = self.node.rpc().call(&ctx, &req.method, data).await?;
        let data = result
            .as_ref()
            .map(Json::from_payload)
            .transpose()
            .map_err(|err| {
                tracing::error!(method = %req.method, error = %err, "an RPC result is not JSON");
                ProtocolError::internal()
            })?;
        Ok(Some(ReplyBody::Rpc(RpcResult { data })))
    }

    pub(super) async fn send(&mut self, req: SendRequest) -> Handled {
        let ctx = self.rpc_context()?;
        match req.data.parse::<SendEnvelope>() {
            Ok(envelope) => {
                if let Err(err) = self
                    .node
                    .rpc()
                    .call(
                        &ctx,
                        &envelope.method,
                        envelope.data.as_ref().map(Json::to_payload),
                    )
                    .await
                {
                    tracing::debug!(method = %envelope.method, error = %err, "send failed");
                }
            }
            Err(err) => tracing::debug!(error = %err, "send without {{method, data}} ignored"),
        }
        Ok(None)
    }
}
