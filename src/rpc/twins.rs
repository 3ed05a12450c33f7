//! Which REST operation each RPC method mirrors: the one list that ties the
//! two transports together. The REST routes and the RPC registrations both
//! call the same [`SessionService`](crate::sessions::SessionService) method;
//! tests hold them to this table: every RPC method is listed, every REST
//! operation is the twin of one, each pair answers the same error for the
//! same request (`tests/it/rest_rpc_parity.rs`), and docs/api.md lists every
//! method.

/// An RPC method, its REST twin (an OpenAPI `operationId`), or why it has none.
#[derive(Debug, Clone, Copy)]
pub struct Twin {
    /// The RPC method name.
    pub rpc: &'static str,
    /// The REST operation doing the same, or `Err(why there is none)`.
    pub rest: Result<&'static str, &'static str>,
}

const fn twin(rpc: &'static str, rest: &'static str) -> Twin {
    Twin {
        rpc,
        rest: Ok(rest),
    }
}

const fn rpc_only(rpc: &'static str, why: &'static str) -> Twin {
    Twin {
        rpc,
        rest: Err(why),
    }
}

/// Every RPC method of the node.
pub const TWINS: &[Twin] = &[
    twin("session.create", "createSession"),
    twin("session.list", "listSessions"),
    twin("session.active", "getActiveSession"),
    twin("session.get", "getSession"),
    twin("session.update", "updateSession"),
    twin("session.delete", "deleteSession"),
    twin("session.complete", "completeSession"),
    twin("session.archive", "archiveSession"),
    twin("session.restore", "restoreSession"),
    twin("session.reopen", "reopenSession"),
    twin("session.activity", "sessionActivity"),
    twin("activity", "sessionActivity"),
    twin("session.events", "listEvents"),
    twin("session.export", "exportSession"),
    twin("session.import", "importSession"),
    twin("session.fork", "forkSession"),
    twin("session.stats", "sessionStats"),
    twin("collaborators.list", "listCollaborators"),
    twin("collaborators.share", "shareSession"),
    twin("collaborators.revoke", "revokeCollaborator"),
    twin("chat.send", "sendMessage"),
    twin("chat.history", "listMessages"),
    twin("mission.create", "createMission"),
    twin("mission.get", "getMission"),
    twin("mission.patch", "patchMission"),
    twin("mission.link", "linkMission"),
    twin("session.mission", "getSessionMission"),
    twin("session.mission.patch", "patchSessionMission"),
    twin("assets.list", "listAssets"),
    twin("assets.add", "addAsset"),
    twin("assets.remove", "removeAsset"),
    rpc_only(
        "chat.typing",
        "a live-only signal to the session's subscribers, meaningless without a connection",
    ),
    rpc_only(
        "mission.editing",
        "a live-only signal to the session's subscribers, meaningless without a connection",
    ),
    rpc_only(
        "server.info",
        "describes the node the connection is on (GET /api/info describes the server)",
    ),
];

/// REST operations that are not operations on sessions and have no RPC twin.
pub const REST_ONLY: &[(&str, &str)] = &[
    ("openApiDocument", "the API's own description"),
    (
        "serverInfo",
        "what a client needs before it connects (name, version, settings)",
    ),
    // The server API is for application backends holding an API key, not
    // for users on a connection.
    ("serverAppendMessage", "server API (backends, API key)"),
    ("serverUpdateStep", "server API (backends, API key)"),
    ("serverPublishEvent", "server API (backends, API key)"),
    ("serverDisconnectUser", "server API (backends, API key)"),
    ("serverPresence", "server API (backends, API key)"),
    ("serverChannelStats", "server API (backends, API key)"),
    ("serverNodeStats", "server API (backends, API key)"),
    ("serverBatch", "server API (backends, API key)"),
];
