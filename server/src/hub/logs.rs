//! The hub's copy of the session's chat lines and reactions, and its removed viewers.
//!
//! Loaded once when the hub starts (two store reads), then kept current from the events the
//! subscription delivers (`chat`, `chat_deleted`, `reaction`, forwarded to the viewers byte for
//! byte), so a joiner's `history` costs no store read and is serialised once per change, not
//! once per joiner. The removed viewers come from the stored rights (`watchparty_core::rights`): every
//! local connection watches them and closes with `close::REMOVED` when its key is listed.

use super::{Frame, Hub};
use crate::sync_util::lock;
use crate::wire::Prepared;
use std::collections::VecDeque;
use tokio::sync::watch;
use watchparty_core::rights::Removal;

/// Chat lines and reactions as event texts, oldest first.
#[derive(Debug, Default)]
pub(super) struct HubLogs {
    chat: VecDeque<String>,
    reactions: VecDeque<String>,
    keep_chat: usize,
    keep_reactions: usize,
    /// The `history` message, built once per change.
    history: Option<Prepared>,
}

impl HubLogs {
    pub(super) fn new(keep_chat: usize, keep_reactions: usize) -> Self {
        Self {
            keep_chat: keep_chat.max(1),
            keep_reactions: keep_reactions.max(1),
            ..Self::default()
        }
    }
}

fn push(items: &mut VecDeque<String>, text: String, keep: usize) {
    // The same event may be both in the loaded log and on its way through the subscription.
    if items.iter().rev().take(keep).any(|e| *e == text) {
        return;
    }
    items.push_back(text);
    while items.len() > keep {
        items.pop_front();
    }
}

/// The id of a `chat_deleted` event (`{"type":"chat_deleted","id":N}`).
fn deleted_id(text: &str) -> Option<u64> {
    let rest = text.strip_prefix(r#"{"type":"chat_deleted","id":"#)?;
    rest.strip_suffix('}')?.parse().ok()
}

/// The prefix that identifies chat line `id` in a log (the event starts with its id).
pub fn chat_prefix(id: u64) -> String {
    format!(r#"{{"type":"chat","id":{id},"#)
}

impl Hub {
    /// Fills the logs loaded from the store when the hub starts.
    pub(super) fn load_logs(&self, chat: Vec<String>, reactions: Vec<String>) {
        let mut logs = lock(&self.logs);
        let (kc, kr) = (logs.keep_chat, logs.keep_reactions);
        for e in chat {
            push(&mut logs.chat, e, kc);
        }
        for e in reactions {
            push(&mut logs.reactions, e, kr);
        }
        logs.history = None;
    }

    /// Records a chat, deletion or reaction event and hands it to the local viewers.
    pub(super) fn forward_log_event(&self, text: String) {
        {
            let mut logs = lock(&self.logs);
            if let Some(id) = deleted_id(&text) {
                let prefix = chat_prefix(id);
                logs.chat.retain(|e| !e.starts_with(&prefix));
            } else if text.starts_with(r#"{"type":"chat""#) {
                let keep = logs.keep_chat;
                push(&mut logs.chat, text.clone(), keep);
            } else {
                let keep = logs.keep_reactions;
                push(&mut logs.reactions, text.clone(), keep);
            }
            logs.history = None;
        }
        self.fanout.send(Frame::new(0, None, &text));
    }

    /// The `history` message for a joiner (kept chat lines and reactions), framed.
    pub fn history(&self) -> Prepared {
        let mut logs = lock(&self.logs);
        if let Some(h) = &logs.history {
            return h.clone();
        }
        let join = |items: &VecDeque<String>| {
            items
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(",")
        };
        let text = Prepared::text(&format!(
            r#"{{"type":"history","chat":[{}],"reactions":[{}]}}"#,
            join(&logs.chat),
            join(&logs.reactions)
        ));
        logs.history = Some(text.clone());
        text
    }

    /// The removed viewers, as the stored rights list them (changes when a host removes
    /// somebody).
    pub fn removed(&self) -> watch::Receiver<Vec<Removal>> {
        self.removed.subscribe()
    }

    /// Publishes a new list of removed viewers to the local connections if it changed.
    pub(super) fn observe_removed(&self, removed: &[Removal]) {
        self.removed.send_if_modified(|cur| {
            if cur.as_slice() == removed {
                false
            } else {
                *cur = removed.to_vec();
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_events_are_recognised() {
        assert_eq!(deleted_id(r#"{"type":"chat_deleted","id":42}"#), Some(42));
        assert_eq!(deleted_id(r#"{"type":"chat","id":42}"#), None);
        let mut items = VecDeque::new();
        for i in 0..5 {
            push(&mut items, format!("e{i}"), 3);
        }
        push(&mut items, "e4".into(), 3);
        assert_eq!(items, ["e2", "e3", "e4"]);
    }
}
