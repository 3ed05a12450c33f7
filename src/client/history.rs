//! `history`: reading a channel's stream.

use super::{ClientState, Failure, Handled};
use crate::engine::{HistoryFilter, StreamPosition};
use crate::protocol::command::HistoryRequest;
use crate::protocol::reply::{HistoryResult, Publication, ReplyBody};
use crate::protocol::ProtocolError;

impl ClientState {
    pub(super) async fn history(&mut self, req: HistoryRequest) -> Handled {
        let user = self.connected()?.handle.user().to_owned();
        if req.reverse && req.since.as_ref().is_some_and(|s| s.offset == 0) {
            return Err(ProtocolError::bad_request(
                "reverse history since offset 0 is empty by definition",
            )
            .into());
        }
        let filter = HistoryFilter {
            // Negative means "all" (capped by the node).
            limit: usize::try_from(req.limit).unwrap_or(usize::MAX),
            since: req.since.map(|s| StreamPosition {
                offset: s.offset,
                epoch: s.epoch,
            }),
            reverse: req.reverse,
        };
        let page = self.node.history(&user, &req.channel, filter).await?;
        let publications = page
            .publications
            .iter()
            .map(Publication::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| {
                tracing::error!(error = %err, "a stored payload is not JSON");
                Failure::Reply(ProtocolError::internal())
            })?;
        Ok(Some(ReplyBody::History(HistoryResult {
            publications,
            epoch: page.position.epoch,
            offset: page.position.offset,
        })))
    }
}
