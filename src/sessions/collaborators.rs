//! Sharing: adding, changing and revoking collaborators (owner only).

use serde_json::json;
use uuid::Uuid;

use super::error::DomainError;
use super::events::SessionEvent;
use super::model::{Collaborator, Role};
use super::service::{applied, SessionService};
use super::validate;

impl SessionService {
    /// Everyone with access to the session.
    pub async fn collaborators(
        &self,
        actor: &str,
        id: Uuid,
    ) -> Result<Vec<Collaborator>, DomainError> {
        let (record, _) = self.load_visible(actor, id).await?;
        Ok(record.session.collaborators)
    }

    /// Adds `user` with `role`, or changes their role.
    pub async fn share(
        &self,
        actor: &str,
        id: Uuid,
        user: &str,
        role: Role,
    ) -> Result<Collaborator, DomainError> {
        validate::user_id(user)?;
        if role == Role::Owner {
            return Err(DomainError::Invalid(
                "ownership cannot be shared; give editor or viewer".into(),
            ));
        }
        let max = self.limits().max_collaborators;
        let outcome = self
            .mutate(actor, id, Role::Owner, |record, change| {
                if user == record.session.owner {
                    return Err(DomainError::Invalid(
                        "the owner's role cannot change".into(),
                    ));
                }
                change.activity()?;
                let session = &mut change.record.session;
                let existing = session.collaborators.iter_mut().find(|c| c.user_id == user);
                let (collaborator, added) = match existing {
                    Some(c) => {
                        c.role = role;
                        (c.clone(), false)
                    }
                    None => {
                        if session.collaborators.len() >= max {
                            return Err(validate::too_large(
                                "collaborators",
                                format!("{max} per session"),
                                "TANDEM_MAX_COLLABORATORS",
                            ));
                        }
                        let c = Collaborator {
                            user_id: user.to_owned(),
                            role,
                            added_at: change.at,
                        };
                        session.collaborators.push(c.clone());
                        (c, true)
                    }
                };
                session.updated_at = change.at;
                let session = session.clone();
                let event_collaborator = collaborator.clone();
                change.emit(if added {
                    SessionEvent::CollaboratorAdded {
                        collaborator: event_collaborator,
                    }
                } else {
                    SessionEvent::CollaboratorUpdated {
                        collaborator: event_collaborator,
                    }
                });
                let notice_kind = if added {
                    "session.added"
                } else {
                    "session.role_changed"
                };
                change.notices.push((
                    user.to_owned(),
                    json!({ "type": notice_kind, "session": session, "role": role }),
                ));
                Ok(collaborator)
            })
            .await?;
        applied(outcome)
    }

    /// Removes `user` from the session and ends their live subscription.
    pub async fn revoke(&self, actor: &str, id: Uuid, user: &str) -> Result<(), DomainError> {
        let outcome = self
            .mutate(actor, id, Role::Owner, |record, change| {
                if user == record.session.owner {
                    return Err(DomainError::Invalid("the owner cannot be removed".into()));
                }
                if record.session.role_of(user).is_none() {
                    return Err(DomainError::NotFound("collaborator"));
                }
                change.activity()?;
                let session = &mut change.record.session;
                session.collaborators.retain(|c| c.user_id != user);
                session.updated_at = change.at;
                change.emit(SessionEvent::CollaboratorRemoved {
                    user_id: user.to_owned(),
                });
                change.notices.push((
                    user.to_owned(),
                    json!({ "type": "session.removed", "session_id": id, "reason": "revoked" }),
                ));
                change.revoke.push(user.to_owned());
                Ok(())
            })
            .await?;
        applied(outcome)
    }
}
