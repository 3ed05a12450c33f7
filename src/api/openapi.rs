//! The OpenAPI 3 document of the REST API, generated from the handlers'
//! `#[utoipa::path]` attributes and the domain types' `ToSchema` derives, and
//! served at `GET /api/openapi.json` (no auth). `docs/api.md` is the human
//! version; a test below keeps the two in step.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};
use utoipa::Modify;

use super::error::{ErrorBody, ErrorDetail};
use crate::sessions::events::{Copied, CopySource, SessionEvent};

/// Path of the document itself.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// The endpoints that need no token.
pub const PUBLIC_PATHS: [&str; 2] = [OPENAPI_PATH, "/api/info"];

/// The static part of the document; paths come from the router.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Tandem REST API",
        description = "Sessions, chat, missions, assets and the audit trail of Tandem. \
            Every endpoint but this document needs `Authorization: Bearer <JWT>` (the \
            WebSocket connection token). Errors are `{\"error\": {\"code\", \"message\"}}`."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(ErrorBody, ErrorDetail, SessionEvent, Copied, CopySource)),
    tags(
        (name = "sessions", description = "Create, list, read, update and delete sessions"),
        (name = "lifecycle", description = "Status changes and the activity ping"),
        (name = "collaborators", description = "Sharing"),
        (name = "chat", description = "Chat messages"),
        (name = "missions", description = "Missions (hops and tool steps), JSON Patch edits"),
        (name = "assets", description = "Assets"),
        (name = "events", description = "The audit trail"),
        (name = "transfer", description = "Export, import and fork"),
        (name = "meta", description = "This document"),
        (name = "server", description = "The server API for application backends and agents \
            (`/api/server`): `X-API-Key: <key>` (or `Authorization: Bearer <key>`) with a key of \
            TANDEM_SERVER_API_KEY; 404 `server_api_disabled` when none is set"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "server_api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// The complete document (built once).
pub fn document() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let (_, mut doc) = super::api_router(super::BodyLimits::default()).split_for_parts();
        add_common_responses(&mut doc);
        doc
    })
}

/// This document.
#[utoipa::path(
    get,
    operation_id = "openApiDocument",
    path = "/api/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3 document", content_type = "application/json"))
)]
pub async fn openapi_json() -> Json<&'static OpenApi> {
    Json(document())
}

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

/// The operations of the document, with their method and path.
pub fn operations(doc: &OpenApi) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ] {
            if op.is_some() {
                out.push((method, path.clone()));
            }
        }
    }
    out
}

/// Adds the errors every operation shares: 401 (all but this document),
/// 400/413/415/422 for body and parameter problems, 500 and 503.
fn add_common_responses(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let public = PUBLIC_PATHS.contains(&path.as_str());
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            let server = path.starts_with("/api/server/");
            add_to_operation(op, public, server, path.contains('{'));
        }
    }
}

fn add_to_operation(op: &mut Operation, public: bool, server: bool, has_path_params: bool) {
    let mut common: BTreeMap<&str, &str> = BTreeMap::new();
    if public {
        op.security = Some(Vec::new());
    } else if server {
        common.insert(
            "401",
            "Missing API key, or not one of TANDEM_SERVER_API_KEY",
        );
    } else {
        common.insert("401", "Missing, malformed, invalid or expired bearer token");
    }
    if op.request_body.is_some() {
        common.insert("400", "Malformed JSON body, path or query parameter");
        common.insert("413", "Body over the size limit");
        common.insert("415", "Content-Type is not JSON");
        common.insert("422", "The body does not fit the schema");
    } else if has_path_params {
        common.insert("400", "Malformed path or query parameter");
    }
    if !public {
        common.insert("500", "Internal error (the cause is logged, not shown)");
        common.insert(
            "503",
            "The engine is unavailable or too contended; retry (Retry-After)",
        );
    }
    for (status, description) in common {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const DOCS: &str = include_str!("../../docs/api.md");

    /// `METHOD /path` pairs of the `### \`METHOD /path\`` headings of docs/api.md.
    fn documented() -> BTreeSet<(String, String)> {
        DOCS.lines()
            .filter_map(|l| l.strip_prefix("### `"))
            .filter_map(|l| l.split('`').next())
            .filter_map(|l| l.split_once(' '))
            .map(|(m, p)| (m.to_owned(), p.to_owned()))
            .collect()
    }

    #[test]
    fn the_document_lists_every_route_and_docs_api_md_matches_it() {
        let doc = document();
        let ops: BTreeSet<(String, String)> = operations(doc)
            .into_iter()
            .map(|(m, p)| (m.to_owned(), p))
            .collect();
        // Every route of the issue is there.
        for (method, path) in [
            ("POST", "/api/sessions"),
            ("GET", "/api/sessions"),
            ("GET", "/api/sessions/active"),
            ("GET", "/api/sessions/{id}"),
            ("PATCH", "/api/sessions/{id}"),
            ("DELETE", "/api/sessions/{id}"),
            ("POST", "/api/sessions/{id}/complete"),
            ("POST", "/api/sessions/{id}/archive"),
            ("POST", "/api/sessions/{id}/restore"),
            ("POST", "/api/sessions/{id}/reopen"),
            ("POST", "/api/sessions/{id}/activity"),
            ("GET", "/api/sessions/{id}/collaborators"),
            ("PUT", "/api/sessions/{id}/collaborators/{user_id}"),
            ("DELETE", "/api/sessions/{id}/collaborators/{user_id}"),
            ("GET", "/api/sessions/{id}/messages"),
            ("POST", "/api/sessions/{id}/messages"),
            ("POST", "/api/missions"),
            ("GET", "/api/missions/{id}"),
            ("PATCH", "/api/missions/{id}"),
            ("POST", "/api/sessions/{id}/link-mission/{mission_id}"),
            ("GET", "/api/sessions/{id}/mission"),
            ("PATCH", "/api/sessions/{id}/mission"),
            ("GET", "/api/sessions/{id}/assets"),
            ("POST", "/api/sessions/{id}/assets"),
            ("DELETE", "/api/sessions/{id}/assets/{asset_id}"),
            ("GET", "/api/sessions/{id}/events"),
            ("GET", "/api/sessions/{id}/export"),
            ("POST", "/api/sessions/import"),
            ("POST", "/api/sessions/{id}/fork"),
            ("GET", "/api/sessions/{id}/stats"),
            ("GET", "/api/openapi.json"),
            ("GET", "/api/info"),
            ("POST", "/api/server/sessions/{id}/messages"),
            ("PATCH", "/api/server/sessions/{id}/mission/steps/{step_id}"),
            ("POST", "/api/server/sessions/{id}/events"),
            ("POST", "/api/server/users/{user_id}/disconnect"),
            ("GET", "/api/server/sessions/{id}/presence"),
            ("GET", "/api/server/channels/stats"),
            ("GET", "/api/server/node"),
            ("POST", "/api/server/batch"),
        ] {
            assert!(
                ops.contains(&(method.to_owned(), path.to_owned())),
                "{method} {path} missing from the OpenAPI document"
            );
        }
        assert_eq!(ops.len(), 40, "{ops:?}");
        let docs = documented();
        let undocumented: Vec<_> = ops.difference(&docs).collect();
        let unknown: Vec<_> = docs.difference(&ops).collect();
        assert!(
            undocumented.is_empty(),
            "not in docs/api.md: {undocumented:?}"
        );
        assert!(
            unknown.is_empty(),
            "in docs/api.md but not served: {unknown:?}"
        );
    }

    #[test]
    fn every_operation_has_errors_and_auth_except_the_document() {
        let doc = document();
        for (path, item) in &doc.paths.paths {
            for op in [&item.get, &item.post, &item.put, &item.patch, &item.delete]
                .into_iter()
                .flatten()
            {
                let codes = &op.responses.responses;
                let public = PUBLIC_PATHS.contains(&path.as_str());
                assert!(codes.contains_key("500") || public, "{path}");
                if public {
                    assert!(op.security.as_ref().is_some_and(Vec::is_empty));
                } else {
                    assert!(codes.contains_key("401"), "{path}");
                }
                if op.request_body.is_some() {
                    for c in ["400", "413", "422"] {
                        assert!(codes.contains_key(c), "{path} lacks {c}");
                    }
                }
            }
        }
        let ids: Vec<&str> = doc
            .paths
            .paths
            .values()
            .flat_map(|i| [&i.get, &i.post, &i.put, &i.patch, &i.delete])
            .flatten()
            .filter_map(|op| op.operation_id.as_deref())
            .collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(ids.len(), 40, "every operation has an operationId");
        assert_eq!(unique.len(), ids.len(), "operationIds are unique: {ids:?}");
        let json = serde_json::to_value(doc).unwrap();
        assert!(json["openapi"].as_str().unwrap().starts_with("3."));
        assert!(json["components"]["securitySchemes"]["bearer"].is_object());
        assert!(json["components"]["securitySchemes"]["server_api_key"].is_object());
        let server = &json["paths"]["/api/server/batch"]["post"]["security"][0];
        assert!(server["server_api_key"].is_array(), "{server}");
        for schema in [
            "Session",
            "Mission",
            "ChatMessage",
            "SessionExport",
            "SessionEvent",
            "ErrorBody",
            "Patch",
            "ServerMessage",
            "StepUpdate",
            "BatchCall",
            "BatchResponse",
        ] {
            assert!(
                json["components"]["schemas"][schema].is_object(),
                "schema {schema} missing"
            );
        }
    }

    #[test]
    fn docs_api_md_lists_every_rpc_method() {
        for twin in crate::rpc::twins::TWINS {
            let name = twin.rpc;
            assert!(
                DOCS.contains(&format!("| `{name}` |")),
                "RPC method {name} is not in the table of docs/api.md"
            );
        }
    }
}
