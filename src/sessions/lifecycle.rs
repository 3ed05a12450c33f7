//! Lifecycle actions: complete, archive, restore, reopen (and the sweeper's abandon).

use uuid::Uuid;

use super::error::DomainError;
use super::model::{Role, Session};
use super::service::{applied, SessionService};
use super::status::{self, Transition};

impl SessionService {
    /// Applies a lifecycle transition (editors and owners).
    pub async fn transition(
        &self,
        actor: &str,
        id: Uuid,
        transition: Transition,
    ) -> Result<Session, DomainError> {
        let outcome = self
            .mutate(actor, id, Role::Editor, |record, change| {
                let to = status::apply(record.session.status, transition)?;
                change.set_status(to);
                change.record.session.last_activity_at = change.at;
                Ok(change.record.session.clone())
            })
            .await?;
        applied(outcome)
    }
}
