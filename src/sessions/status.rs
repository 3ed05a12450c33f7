//! The session status machine (SPEC §2), enforced here and nowhere else.
//!
//! ```text
//! active → completed      (complete, or the mission completes)
//! active → abandoned      (sweeper)
//! abandoned → active      (any activity, or reopen)
//! active | completed | abandoned → archived   (archive, or sweeper)
//! archived → active       (restore)
//! ```

use super::model::SessionStatus;
use super::DomainError;

/// What is asked of a session's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Finish it.
    Complete,
    /// Mark it idle (sweeper).
    Abandon,
    /// Bring an abandoned session back.
    Reopen,
    /// Put it away.
    Archive,
    /// Bring an archived session back.
    Restore,
}

impl Transition {
    /// The status the transition leads to.
    pub fn target(self) -> SessionStatus {
        match self {
            Transition::Complete => SessionStatus::Completed,
            Transition::Abandon => SessionStatus::Abandoned,
            Transition::Reopen | Transition::Restore => SessionStatus::Active,
            Transition::Archive => SessionStatus::Archived,
        }
    }
}

/// The status after `transition`, or an error naming both states.
pub fn apply(from: SessionStatus, transition: Transition) -> Result<SessionStatus, DomainError> {
    use SessionStatus::*;
    let to = transition.target();
    let allowed = matches!(
        (from, transition),
        (Active, Transition::Complete)
            | (Active, Transition::Abandon)
            | (Abandoned, Transition::Reopen)
            | (Active | Completed | Abandoned, Transition::Archive)
            | (Archived, Transition::Restore)
    );
    if allowed {
        Ok(to)
    } else {
        Err(DomainError::IllegalTransition { from, to })
    }
}

/// What a write or activity ping does to the status: an abandoned session
/// becomes active again; archived sessions are read-only.
pub fn on_activity(from: SessionStatus) -> Result<SessionStatus, DomainError> {
    match from {
        SessionStatus::Abandoned => Ok(SessionStatus::Active),
        SessionStatus::Archived => Err(DomainError::Archived),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionStatus::*;

    #[test]
    fn allowed_transitions() {
        assert_eq!(apply(Active, Transition::Complete).unwrap(), Completed);
        assert_eq!(apply(Active, Transition::Abandon).unwrap(), Abandoned);
        assert_eq!(apply(Abandoned, Transition::Reopen).unwrap(), Active);
        for from in [Active, Completed, Abandoned] {
            assert_eq!(apply(from, Transition::Archive).unwrap(), Archived);
        }
        assert_eq!(apply(Archived, Transition::Restore).unwrap(), Active);
    }

    #[test]
    fn refused_transitions_name_both_states() {
        for (from, t) in [
            (Completed, Transition::Complete),
            (Archived, Transition::Archive),
            (Completed, Transition::Reopen),
            (Active, Transition::Restore),
            (Archived, Transition::Complete),
            (Completed, Transition::Abandon),
        ] {
            let err = apply(from, t).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(from.as_str()) && text.contains(t.target().as_str()),
                "{text}"
            );
        }
    }

    #[test]
    fn activity_revives_abandoned_but_not_archived() {
        assert_eq!(on_activity(Abandoned).unwrap(), Active);
        assert_eq!(on_activity(Completed).unwrap(), Completed);
        assert!(matches!(on_activity(Archived), Err(DomainError::Archived)));
    }
}
