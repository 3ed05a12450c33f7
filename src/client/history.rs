//! `history`: reading a channel's stream.

use super::{ClientState, Handled};
use crate::engine::{HistoryFilter, StreamPosition};
use crate::policy::Action;
use crate::protocol::command::HistoryRequest;
use crate::protocol::reply::{HistoryResult, ReplyBody};
use crate::protocol::ProtocolError;

impl ClientState {
    pub(super) async fn history(&mut self, req: HistoryRequest) -> Handled {
        let user = self.connected()?.handle.user().to_owned();
        let options = self
            .node
            .policy()
            .authorize(&user, &req.channel, Action::History)
            .await?;
        if !options.history {
            return Err(ProtocolError::not_available().into());
        }
        let cap = self.node.limits().history_cap;
        let limit = match usize::try_from(req.limit) {
            Ok(n) => n.min(cap),
            Err(_) => cap, // negative: "all", capped
        };
        if req.reverse && req.since.as_ref().is_some_and(|s| s.offset == 0) {
            return Err(ProtocolError::bad_request(
                "reverse history since offset 0 is empty by definition",
            )
            .into());
        }
        let filter = HistoryFilter {
            limit,
            since: req.since.map(|s| StreamPosition {
                offset: s.offset,
                epoch: s.epoch,
            }),
            reverse: req.reverse,
        };
        let page = self.node.engine().history(&req.channel, filter).await?;
        Ok(Some(ReplyBody::History(HistoryResult {
            publications: page.publications,
            epoch: page.position.epoch,
            offset: page.position.offset,
        })))
    }
}
