//! Assets attached to a session, its mission or one hop: add, list, remove.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::DomainError;
use super::events::SessionEvent;
use super::limits::DomainLimits;
use super::model::{new_id, Asset, AssetScope, Mission, Role};
use super::service::{applied, SessionService};
use super::validate;

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

/// Checks that an asset's scope exists: the session always, the mission
/// when there is one, a hop when the mission has it.
pub fn check_scope(scope: &AssetScope, mission: Option<&Mission>) -> Result<(), DomainError> {
    match scope {
        AssetScope::Session => Ok(()),
        AssetScope::Mission if mission.is_some() => Ok(()),
        AssetScope::Mission => Err(DomainError::Invalid("the session has no mission".into())),
        AssetScope::Hop { hop_id } => {
            if mission.is_some_and(|m| m.hops.iter().any(|h| &h.id == hop_id)) {
                Ok(())
            } else {
                Err(DomainError::Invalid(format!(
                    "the mission has no hop {hop_id:?}"
                )))
            }
        }
    }
}

/// Checks that one more asset fits in a session that has `count`.
pub fn check_room(count: usize, limits: &DomainLimits) -> Result<(), DomainError> {
    if count >= limits.max_assets {
        return Err(validate::too_large(
            "assets",
            format!("{} per session", limits.max_assets),
            "TANDEM_MAX_ASSETS",
        ));
    }
    Ok(())
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
        let name = validate::name("asset name", &input.name, &limits)?;
        validate::metadata("asset metadata", &input.metadata, &limits)?;
        validate::media_type(&input.media_type)?;
        validate::asset_content(input.content.as_deref(), input.uri.as_deref(), &limits)?;
        let asset_id = new_id();
        let outcome = self
            .mutate(actor, id, Role::Editor, |record, change| {
                check_scope(&input.scope, record.mission.as_ref())?;
                check_room(record.assets.len(), &limits)?;
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
                    imported: None,
                };
                change.record.assets.push(asset.clone());
                change.emit(SessionEvent::AssetAdded {
                    asset: asset.clone(),
                });
                Ok(asset)
            })
            .await?;
        applied(outcome)
    }

    /// Removes an asset (editors and owners).
    pub async fn remove_asset(
        &self,
        actor: &str,
        id: Uuid,
        asset_id: Uuid,
    ) -> Result<(), DomainError> {
        let outcome = self
            .mutate(actor, id, Role::Editor, |record, change| {
                if !record.assets.iter().any(|a| a.id == asset_id) {
                    return Err(DomainError::NotFound("asset"));
                }
                change.activity()?;
                change.record.assets.retain(|a| a.id != asset_id);
                change.emit(SessionEvent::AssetRemoved { asset_id });
                Ok(())
            })
            .await?;
        applied(outcome)
    }
}
