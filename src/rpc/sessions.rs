//! The sessions service as RPC methods over the WebSocket (SPEC §3): the same
//! operations as the REST API, with the same semantics, because both call
//! [`SessionService`]. Errors are mapped by [`crate::errors::domain`].
//!
//! Every method takes a JSON object; `session_id` / `mission_id` name the
//! target. Domain errors become application error codes equal to the HTTP
//! status the REST API would give (404, 403, 409, 413, 422, 503, 500), so a
//! client handles both the same way.

use std::future::Future;
use std::marker::PhantomData;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{RpcContext, RpcMethod, RpcRouter};
use crate::engine::Payload;
use crate::errors;
use crate::protocol::ProtocolError;
use crate::sessions::assets::NewAsset;
use crate::sessions::chat::{MessagePage, SendMessage};
use crate::sessions::mission::{MissionPatch, NewMission};
use crate::sessions::model::Role;
use crate::sessions::service::{CreateSession, ListQuery, SessionService, UpdateSession};
use crate::sessions::status::Transition;
use crate::sessions::transfer::SessionExport;
use crate::sessions::DomainError;

/// Adapts an async service call taking typed params to an [`RpcMethod`].
struct Method<P, F> {
    service: SessionService,
    call: F,
    params: PhantomData<fn(P)>,
}

#[async_trait]
impl<P, F, Fut, R> RpcMethod for Method<P, F>
where
    P: DeserializeOwned + Send + 'static,
    F: Fn(SessionService, String, P) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, DomainError>> + Send + 'static,
    R: Serialize + Send + 'static,
{
    async fn call(
        &self,
        ctx: &RpcContext,
        data: Option<Payload>,
    ) -> Result<Option<Payload>, ProtocolError> {
        let bytes = data.as_ref().map_or(&b"{}"[..], Payload::as_bytes);
        let params: P = serde_json::from_slice(bytes)
            .map_err(|e| ProtocolError::application(422, format!("invalid params: {e}"), false))?;
        let result = (self.call)(self.service.clone(), ctx.user.clone(), params)
            .await
            .map_err(errors::domain)?;
        let payload = Payload::from_json(&result).map_err(|_| ProtocolError::internal())?;
        Ok(Some(payload))
    }
}

fn add<P, F, Fut, R>(router: &mut RpcRouter, name: &str, service: &SessionService, call: F)
where
    P: DeserializeOwned + Send + 'static,
    F: Fn(SessionService, String, P) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, DomainError>> + Send + 'static,
    R: Serialize + Send + 'static,
{
    router.register(
        name,
        Method {
            service: service.clone(),
            call,
            params: PhantomData,
        },
    );
}

/// `{session_id}`.
#[derive(Deserialize)]
struct SessionRef {
    session_id: Uuid,
}

/// `{session_id, ...fields}`.
#[derive(Deserialize)]
struct With<T> {
    session_id: Uuid,
    #[serde(flatten)]
    inner: T,
}

#[derive(Deserialize)]
struct Typing {
    session_id: Uuid,
    #[serde(default = "yes")]
    typing: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct Editing {
    session_id: Uuid,
    #[serde(default)]
    path: Option<String>,
}

#[derive(Deserialize)]
struct Share {
    session_id: Uuid,
    user_id: String,
    role: Role,
}

#[derive(Deserialize)]
struct Revoke {
    session_id: Uuid,
    user_id: String,
}

#[derive(Deserialize)]
struct AssetRef {
    session_id: Uuid,
    asset_id: Uuid,
}

#[derive(Deserialize)]
struct MissionRef {
    mission_id: Uuid,
}

#[derive(Deserialize)]
struct MissionEdit {
    mission_id: Uuid,
    #[serde(flatten)]
    patch: MissionPatch,
}

#[derive(Deserialize)]
struct Link {
    session_id: Uuid,
    mission_id: Uuid,
}

#[derive(Deserialize)]
struct EventsFrom {
    session_id: Uuid,
    #[serde(default)]
    from: u64,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
struct ForkAt {
    session_id: Uuid,
    #[serde(default)]
    at_offset: Option<u64>,
}

#[derive(Deserialize)]
struct Import {
    export: SessionExport,
}

#[derive(Deserialize)]
struct Empty {}

/// Registers every sessions method (names in docs/api.md).
pub fn register(router: &mut RpcRouter, s: &SessionService) {
    add(
        router,
        "session.create",
        s,
        |s, u, p: CreateSession| async move { s.create(&u, p).await },
    );
    add(router, "session.list", s, |s, u, p: ListQuery| async move {
        s.list(&u, p).await
    });
    add(router, "session.active", s, |s, u, _: Empty| async move {
        s.active(&u).await
    });
    add(router, "session.get", s, |s, u, p: SessionRef| async move {
        s.snapshot(&u, p.session_id).await
    });
    add(
        router,
        "session.update",
        s,
        |s, u, p: With<UpdateSession>| async move { s.update(&u, p.session_id, p.inner).await },
    );
    add(
        router,
        "session.delete",
        s,
        |s, u, p: SessionRef| async move {
            s.delete(&u, p.session_id)
                .await
                .map(|()| serde_json::json!({ "deleted": true }))
        },
    );
    for (name, transition) in [
        ("session.complete", Transition::Complete),
        ("session.archive", Transition::Archive),
        ("session.restore", Transition::Restore),
        ("session.reopen", Transition::Reopen),
    ] {
        add(router, name, s, move |s, u, p: SessionRef| async move {
            s.transition(&u, p.session_id, transition).await
        });
    }
    add(router, "activity", s, |s, u, p: SessionRef| async move {
        s.activity(&u, p.session_id).await
    });
    add(
        router,
        "session.activity",
        s,
        |s, u, p: SessionRef| async move { s.activity(&u, p.session_id).await },
    );
    add(
        router,
        "session.events",
        s,
        |s, u, p: EventsFrom| async move {
            s.events(&u, p.session_id, p.from, p.limit.unwrap_or(100))
                .await
        },
    );
    add(
        router,
        "session.export",
        s,
        |s, u, p: SessionRef| async move { s.export(&u, p.session_id).await },
    );
    add(router, "session.import", s, |s, u, p: Import| async move {
        s.import(&u, p.export).await
    });
    add(router, "session.fork", s, |s, u, p: ForkAt| async move {
        s.fork(&u, p.session_id, p.at_offset).await
    });
    add(
        router,
        "session.stats",
        s,
        |s, u, p: SessionRef| async move { s.stats(&u, p.session_id).await },
    );
    add(
        router,
        "collaborators.list",
        s,
        |s, u, p: SessionRef| async move { s.collaborators(&u, p.session_id).await },
    );
    add(
        router,
        "collaborators.share",
        s,
        |s, u, p: Share| async move { s.share(&u, p.session_id, &p.user_id, p.role).await },
    );
    add(
        router,
        "collaborators.revoke",
        s,
        |s, u, p: Revoke| async move {
            s.revoke(&u, p.session_id, &p.user_id)
                .await
                .map(|()| serde_json::json!({ "revoked": true }))
        },
    );
    add(
        router,
        "chat.send",
        s,
        |s, u, p: With<SendMessage>| async move { s.send_message(&u, p.session_id, p.inner).await },
    );
    add(
        router,
        "chat.history",
        s,
        |s, u, p: With<MessagePage>| async move { s.messages(&u, p.session_id, p.inner).await },
    );
    add(router, "chat.typing", s, |s, u, p: Typing| async move {
        s.typing(&u, p.session_id, p.typing)
            .await
            .map(|()| serde_json::json!({}))
    });
    add(
        router,
        "mission.editing",
        s,
        |s, u, p: Editing| async move {
            s.editing(&u, p.session_id, p.path)
                .await
                .map(|()| serde_json::json!({}))
        },
    );
    add(
        router,
        "mission.create",
        s,
        |s, u, p: NewMission| async move { s.create_mission(&u, p).await },
    );
    add(router, "mission.get", s, |s, u, p: MissionRef| async move {
        s.mission(&u, p.mission_id).await
    });
    add(
        router,
        "mission.patch",
        s,
        |s, u, p: MissionEdit| async move { s.patch_mission(&u, p.mission_id, p.patch).await },
    );
    add(router, "mission.link", s, |s, u, p: Link| async move {
        s.link_mission(&u, p.session_id, p.mission_id).await
    });
    add(
        router,
        "session.mission",
        s,
        |s, u, p: SessionRef| async move { s.session_mission(&u, p.session_id).await },
    );
    add(
        router,
        "session.mission.patch",
        s,
        |s, u, p: With<MissionPatch>| async move {
            s.patch_session_mission(&u, p.session_id, p.inner).await
        },
    );
    add(router, "assets.list", s, |s, u, p: SessionRef| async move {
        s.assets(&u, p.session_id).await
    });
    add(
        router,
        "assets.add",
        s,
        |s, u, p: With<NewAsset>| async move { s.add_asset(&u, p.session_id, p.inner).await },
    );
    add(router, "assets.remove", s, |s, u, p: AssetRef| async move {
        s.remove_asset(&u, p.session_id, p.asset_id)
            .await
            .map(|()| serde_json::json!({ "removed": true }))
    });
}
