//! Missions: create, read, link to a session, and edit with JSON Patch
//! (RFC 6902), optionally conditional on a base revision.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::engine::EngineError;

use super::error::DomainError;
use super::events::SessionEvent;
use super::limits::DomainLimits;
use super::model::{
    new_id, Hop, Mission, MissionStatus, Role, SessionStatus, StepStatus, Timestamp,
};
use super::patch::{PatchBudget, Patched};
use super::service::{applied, Change, SessionService};
use super::validate;

/// Input of `create_mission`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct NewMission {
    /// Title.
    pub title: String,
    /// Goal.
    #[serde(default)]
    pub goal: String,
    /// Initial status (default `proposed`).
    #[serde(default)]
    pub status: Option<MissionStatus>,
    /// Initial hops.
    #[serde(default)]
    pub hops: Vec<Hop>,
}

/// A mission edit.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct MissionPatch {
    /// RFC 6902 operations, applied to the mission's JSON.
    pub ops: json_patch::Patch,
    /// Apply only if the mission is still at this revision.
    #[serde(default)]
    pub base_revision: Option<u64>,
}

/// Input of `update_step_as_server`: how a tool run reports progress.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct StepUpdate {
    /// The step's new status.
    pub status: StepStatus,
    /// The step's result (stored as its `outputs`); left as it is when absent.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// Who reports it (the actor of the `mission.updated` event; same rules
    /// as a user id). Defaults to `server`.
    #[serde(default)]
    pub author: Option<String>,
    /// Apply only if the mission is still at this revision.
    #[serde(default)]
    pub base_revision: Option<u64>,
}

/// The actor of server API writes that name no author.
pub const SERVER_ACTOR: &str = "server";

impl SessionService {
    /// Sets a step's status (and result) in the session's mission, for an
    /// application backend (server API): the same `mission.updated` event,
    /// roll-up, validation and limits as any mission edit.
    pub async fn update_step_as_server(
        &self,
        session_id: Uuid,
        step_id: &str,
        update: StepUpdate,
    ) -> Result<Mission, DomainError> {
        let author = update.author.as_deref().unwrap_or(SERVER_ACTOR);
        validate::user_id(author)?;
        validate::item_id("step", step_id)?;
        let limits = self.limits().clone();
        let outcome = self
            .mutate_as_server(author, session_id, |record, change| {
                let current = record
                    .mission
                    .as_ref()
                    .ok_or(DomainError::NotFound("mission"))?;
                let patch = step_patch(current, step_id, &update)?;
                edit_mission(current, &patch, &limits, change)
            })
            .await?;
        applied(outcome)
    }

    /// Creates a mission owned by `actor`, not linked to any session yet.
    pub async fn create_mission(
        &self,
        actor: &str,
        input: NewMission,
    ) -> Result<Mission, DomainError> {
        let now = Utc::now();
        let mut mission = Mission {
            id: new_id(),
            title: input.title,
            goal: input.goal,
            status: input.status.unwrap_or(MissionStatus::Proposed),
            hops: input.hops,
            revision: 1,
            owner: actor.to_owned(),
            session_id: None,
            created_at: now,
            updated_at: now,
        };
        roll_up(&mut mission);
        validate::mission(&mission, self.limits())?;
        self.store().put_mission(mission.clone()).await?;
        Ok(mission)
    }

    /// A mission the actor may see: through its session, or as its owner.
    pub async fn mission(&self, actor: &str, mission_id: Uuid) -> Result<Mission, DomainError> {
        match self.store().mission(mission_id).await? {
            Some((mission, Some(session_id))) => {
                self.load_visible(actor, session_id)
                    .await
                    .map_err(|_| DomainError::NotFound("mission"))?;
                Ok(mission)
            }
            Some((mission, None)) if mission.owner == actor => Ok(mission),
            _ => Err(DomainError::NotFound("mission")),
        }
    }

    /// The session's linked mission.
    pub async fn session_mission(
        &self,
        actor: &str,
        session_id: Uuid,
    ) -> Result<Mission, DomainError> {
        let (record, _) = self.load_visible(actor, session_id).await?;
        record.mission.ok_or(DomainError::NotFound("mission"))
    }

    /// Edits a mission by id.
    pub async fn patch_mission(
        &self,
        actor: &str,
        mission_id: Uuid,
        patch: MissionPatch,
    ) -> Result<Mission, DomainError> {
        self.check_patch_size(&patch)?;
        match self.store().mission(mission_id).await? {
            Some((_, Some(session_id))) => {
                self.patch_session_mission(actor, session_id, patch).await
            }
            Some((mission, None)) if mission.owner == actor => {
                // Unlinked missions have one writer (their owner) and no stream.
                let updated = apply_patch(&mission, &patch, self.limits(), Utc::now())?;
                self.store().put_mission(updated.clone()).await?;
                Ok(updated)
            }
            _ => Err(DomainError::NotFound("mission")),
        }
    }

    /// Edits the session's mission; its completion completes the session.
    pub async fn patch_session_mission(
        &self,
        actor: &str,
        session_id: Uuid,
        patch: MissionPatch,
    ) -> Result<Mission, DomainError> {
        self.check_patch_size(&patch)?;
        let limits = self.limits().clone();
        let outcome = self
            .mutate(actor, session_id, Role::Editor, |record, change| {
                let current = record
                    .mission
                    .as_ref()
                    .ok_or(DomainError::NotFound("mission"))?;
                edit_mission(current, &patch, &limits, change)
            })
            .await?;
        applied(outcome)
    }

    /// Links an unlinked mission (owned by the actor) to a session.
    pub async fn link_mission(
        &self,
        actor: &str,
        session_id: Uuid,
        mission_id: Uuid,
    ) -> Result<Mission, DomainError> {
        let mission = match self.store().mission(mission_id).await? {
            Some((_, Some(linked))) if linked == session_id => {
                return self.session_mission(actor, session_id).await
            }
            Some((_, Some(other))) => {
                // Say it is linked elsewhere only to someone who can see that session.
                return match self.load_visible(actor, other).await {
                    Ok(_) => Err(DomainError::Invalid(
                        "the mission is linked to another session".into(),
                    )),
                    Err(_) => Err(DomainError::NotFound("mission")),
                };
            }
            Some((mission, None)) if mission.owner == actor => mission,
            _ => return Err(DomainError::NotFound("mission")),
        };
        let outcome = self
            .mutate(actor, session_id, Role::Editor, |record, change| {
                if record.mission.is_some() {
                    return Err(DomainError::Invalid(
                        "the session already has a mission".into(),
                    ));
                }
                change.activity()?;
                let mut linked = mission.clone();
                linked.session_id = Some(session_id);
                linked.revision += 1;
                linked.updated_at = change.at;
                change.record.session.mission_id = Some(linked.id);
                change.record.session.updated_at = change.at;
                change.record.mission = Some(linked.clone());
                change.emit(SessionEvent::MissionLinked {
                    mission: serde_json::to_value(&linked)
                        .map_err(|e| DomainError::Engine(EngineError::Internal(e.to_string())))?,
                });
                Ok(linked)
            })
            .await?;
        let linked = applied(outcome)?;
        self.store().remove_unlinked_mission(mission_id).await?;
        Ok(linked)
    }

    fn check_patch_size(&self, patch: &MissionPatch) -> Result<(), DomainError> {
        let max = self.limits().max_patch_ops;
        if patch.ops.0.is_empty() {
            return Err(DomainError::Invalid(
                "a patch needs at least one operation".into(),
            ));
        }
        if patch.ops.0.len() > max {
            return Err(validate::too_large(
                "patch",
                format!("{max} operations"),
                "TANDEM_MAX_PATCH_OPS",
            ));
        }
        Ok(())
    }
}

/// One edit of a session's mission inside a change: activity, the patch,
/// the `mission.updated` event, and the session's completion when the
/// mission completes.
fn edit_mission(
    current: &Mission,
    patch: &MissionPatch,
    limits: &DomainLimits,
    change: &mut Change,
) -> Result<Mission, DomainError> {
    change.activity()?;
    let updated = apply_patch(current, patch, limits, change.at)?;
    change.emit(SessionEvent::MissionUpdated {
        mission_id: updated.id,
        base_revision: current.revision,
        revision: updated.revision,
        patch: patch.ops.clone(),
    });
    let completes = updated.status == MissionStatus::Completed
        && current.status != MissionStatus::Completed
        && change.record.session.status == SessionStatus::Active;
    change.record.mission = Some(updated.clone());
    if completes {
        change.set_status(SessionStatus::Completed);
    }
    Ok(updated)
}

/// The JSON Patch that sets one step's status (and outputs), so a step
/// update is an ordinary mission edit that clients apply like any other.
fn step_patch(
    mission: &Mission,
    step_id: &str,
    update: &StepUpdate,
) -> Result<MissionPatch, DomainError> {
    let (hop, step) = mission
        .hops
        .iter()
        .enumerate()
        .find_map(|(h, hop)| {
            hop.steps
                .iter()
                .position(|s| s.id == step_id)
                .map(|s| (h, s))
        })
        .ok_or(DomainError::NotFound("step"))?;
    let base = format!("/hops/{hop}/steps/{step}");
    let mut ops =
        vec![json!({"op": "replace", "path": format!("{base}/status"), "value": update.status})];
    if let Some(result) = &update.result {
        ops.push(json!({"op": "replace", "path": format!("{base}/outputs"), "value": result}));
    }
    let ops = serde_json::from_value(Value::Array(ops))
        .map_err(|e| DomainError::Invalid(format!("step update: {e}")))?;
    Ok(MissionPatch {
        ops,
        base_revision: update.base_revision,
    })
}

/// Applies a patch to a mission: checks the base revision, applies the
/// operations with bounded cost (`patch.rs`), keeps the read-only fields,
/// rolls hop statuses up from their steps, validates the result and bumps
/// the revision.
pub fn apply_patch(
    mission: &Mission,
    patch: &MissionPatch,
    limits: &DomainLimits,
    at: Timestamp,
) -> Result<Mission, DomainError> {
    if let Some(base) = patch.base_revision {
        if base != mission.revision {
            return Err(DomainError::StaleRevision {
                current: mission.revision,
            });
        }
    }
    let doc = serde_json::to_value(mission).map_err(|e| DomainError::Invalid(e.to_string()))?;
    let mut patched = Patched::new(doc);
    patched.apply(
        &patch.ops.0,
        limits.max_mission_bytes,
        limits,
        &mut PatchBudget::new(limits),
    )?;
    let mut updated: Mission = serde_json::from_value(patched.doc)
        .map_err(|e| DomainError::Invalid(format!("the patched mission is not valid: {e}")))?;
    let read_only = [
        ("id", updated.id != mission.id),
        ("revision", updated.revision != mission.revision),
        ("owner", updated.owner != mission.owner),
        ("session_id", updated.session_id != mission.session_id),
        ("created_at", updated.created_at != mission.created_at),
        ("updated_at", updated.updated_at != mission.updated_at),
    ];
    if let Some((field, _)) = read_only.iter().find(|(_, changed)| *changed) {
        return Err(DomainError::Invalid(format!("/{field} is read-only")));
    }
    roll_up(&mut updated);
    updated.revision = mission.revision + 1;
    updated.updated_at = at;
    validate::mission(&updated, limits)?;
    Ok(updated)
}

/// The status a hop takes from its steps, or `None` for a hop without steps
/// (it keeps its own): `failed` if any step failed; `completed` if every
/// step is completed or skipped and one at least is completed; `skipped` if
/// every step is skipped; `running` if any step is running or completed;
/// `pending` otherwise.
pub fn rolled_up(steps: impl IntoIterator<Item = StepStatus>) -> Option<StepStatus> {
    let (mut any, mut failed, mut running, mut completed, mut open) =
        (false, false, false, false, false);
    for status in steps {
        any = true;
        match status {
            StepStatus::Failed => failed = true,
            StepStatus::Running => running = true,
            StepStatus::Completed => completed = true,
            StepStatus::Skipped => {}
            StepStatus::Pending => open = true,
        }
    }
    Some(match () {
        _ if !any => return None,
        _ if failed => StepStatus::Failed,
        _ if !open && !running && completed => StepStatus::Completed,
        _ if !open && !running => StepStatus::Skipped,
        _ if running || completed => StepStatus::Running,
        _ => StepStatus::Pending,
    })
}

/// Rolls every hop's status up from its steps ([`rolled_up`]).
pub fn roll_up(mission: &mut Mission) {
    for hop in &mut mission.hops {
        if let Some(status) = rolled_up(hop.steps.iter().map(|s| s.status)) {
            hop.status = status;
        }
    }
}

/// [`roll_up`] on a mission still in JSON form (replay). Hops or steps that
/// are not shaped like the model are left alone; decoding reports them.
pub fn roll_up_doc(doc: &mut Value) {
    let Some(hops) = doc.get_mut("hops").and_then(Value::as_array_mut) else {
        return;
    };
    for hop in hops {
        let statuses: Option<Vec<StepStatus>> = hop
            .get("steps")
            .and_then(Value::as_array)
            .map(|steps| {
                steps
                    .iter()
                    .map(|s| {
                        s.get("status")
                            .cloned()
                            .map_or(Some(StepStatus::default()), |v| {
                                serde_json::from_value(v).ok()
                            })
                    })
                    .collect()
            })
            .unwrap_or(Some(Vec::new()));
        if let Some(status) = statuses.and_then(rolled_up) {
            if let (Some(fields), Ok(value)) = (hop.as_object_mut(), serde_json::to_value(status)) {
                fields.insert("status".into(), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::model::{StepStatus, ToolStep};
    use serde_json::json;

    fn mission() -> Mission {
        let now = Utc::now();
        Mission {
            id: new_id(),
            title: "Plan".into(),
            goal: "g".into(),
            status: MissionStatus::Proposed,
            hops: vec![Hop {
                id: "h1".into(),
                name: "first".into(),
                status: StepStatus::Pending,
                steps: vec![ToolStep {
                    id: "s1".into(),
                    name: "search".into(),
                    tool: "web".into(),
                    status: StepStatus::Pending,
                    inputs: json!({}),
                    outputs: json!(null),
                }],
            }],
            revision: 3,
            owner: "alice".into(),
            session_id: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn patch(ops: serde_json::Value, base: Option<u64>) -> MissionPatch {
        MissionPatch {
            ops: serde_json::from_value(ops).unwrap(),
            base_revision: base,
        }
    }

    #[test]
    fn applies_and_bumps_the_revision() {
        let m = mission();
        let p = patch(
            json!([{"op":"replace","path":"/hops/0/steps/0/status","value":"completed"}]),
            Some(3),
        );
        let updated = apply_patch(&m, &p, &DomainLimits::default(), Utc::now()).unwrap();
        assert_eq!(updated.revision, 4);
        assert_eq!(updated.hops[0].steps[0].status, StepStatus::Completed);
    }

    #[test]
    fn refuses_stale_bases_read_only_fields_and_invalid_results() {
        let m = mission();
        let stale = patch(
            json!([{"op":"replace","path":"/title","value":"x"}]),
            Some(2),
        );
        assert!(matches!(
            apply_patch(&m, &stale, &DomainLimits::default(), Utc::now()),
            Err(DomainError::StaleRevision { current: 3 })
        ));
        let ro = patch(
            json!([{"op":"replace","path":"/owner","value":"mallory"}]),
            None,
        );
        assert!(apply_patch(&m, &ro, &DomainLimits::default(), Utc::now()).is_err());
        let bad = patch(
            json!([{"op":"replace","path":"/status","value":"exploded"}]),
            None,
        );
        assert!(apply_patch(&m, &bad, &DomainLimits::default(), Utc::now()).is_err());
        let dup = patch(
            json!([{"op":"add","path":"/hops/-","value":{"id":"h1","name":"again"}}]),
            None,
        );
        assert!(apply_patch(&m, &dup, &DomainLimits::default(), Utc::now()).is_err());
    }
}
