//! Assets attached to a session, its mission or one hop.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::error::DomainError;
use super::model::{new_id, Asset, AssetScope, Role};
use super::service::{applied, validate_metadata, validate_name, SessionService};

/// Input of `add_asset`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct NewAsset {
    /// What it is attached to (default: the session).
    #[serde(default = "default_scope")]
    pub scope: AssetScope,
    /// Name.
    pub name: String,
    /// Media type.
    pub media_type: String,
    /// Inline content (small).
    #[serde(default)]
    pub content: Option<String>,
    /// Or where the content lives.
    #[serde(default)]
    pub uri: Option<String>,
    /// Metadata object.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

fn default_scope() -> AssetScope {
    AssetScope::Session
}

impl SessionService {
    /// The session's assets.
    pub async fn assets(&self, actor: &str, id: Uuid) -> Result<Vec<Asset>, DomainError> {
        let (record, _) = self.load_visible(actor, id).await?;
        Ok(record.assets)
    }

    /// Attaches an asset.
    pub async fn add_asset(
        &self,
        actor: &str,
        id: Uuid,
        input: NewAsset,
    ) -> Result<Asset, DomainError> {
        let limits = self.limits().clone();
        let name = validate_name(&input.name, &limits)?;
        validate_metadata(&input.metadata, &limits)?;
        if input.media_type.is_empty() || !input.media_type.contains('/') {
            return Err(DomainError::Invalid(
                "media_type must look like type/subtype".into(),
            ));
        }
        match (&input.content, &input.uri) {
            (Some(content), None) if content.len() > limits.max_asset_bytes => {
                return Err(DomainError::TooLarge {
                    what: "inline asset content",
                    limit: format!(
                        "{} bytes (use a uri for larger assets)",
                        limits.max_asset_bytes
                    ),
                })
            }
            (Some(_), None) | (None, Some(_)) => {}
            _ => {
                return Err(DomainError::Invalid(
                    "give exactly one of content and uri".into(),
                ))
            }
        }
        let asset_id = new_id();
        let outcome = self
            .mutate(actor, id, Role::Editor, |record, change| {
                match &input.scope {
                    AssetScope::Session => {}
                    AssetScope::Mission if record.mission.is_some() => {}
                    AssetScope::Mission => {
                        return Err(DomainError::Invalid("the session has no mission".into()))
                    }
                    AssetScope::Hop { hop_id } => {
                        let found = record
                            .mission
                            .as_ref()
                            .is_some_and(|m| m.hops.iter().any(|h| &h.id == hop_id));
                        if !found {
                            return Err(DomainError::Invalid(format!(
                                "the mission has no hop {hop_id:?}"
                            )));
                        }
                    }
                }
                change.activity()?;
                let asset = Asset {
                    id: asset_id,
                    scope: input.scope.clone(),
                    name: name.clone(),
                    media_type: input.media_type.clone(),
                    content: input.content.clone(),
                    uri: input.uri.clone(),
                    metadata: input.metadata.clone(),
                    created_by: actor.to_owned(),
                    created_at: change.at,
                };
                change.record.assets.push(asset.clone());
                change.event("asset.added", json!({ "asset": asset }));
                Ok(asset)
            })
            .await?;
        applied(outcome)
    }
}
