//! Who is here, per hub: the local members of the room's list, this instance's part of it for
//! the presence report, and the merged view handed to the local viewers as versioned deltas
//! (the rules are in [`watchparty_core::roster`]).

use super::{Frame, Hub};
use crate::sync_util::lock;
use crate::wire::Prepared;
use std::collections::HashMap;
use watchparty_core::health::Health;
use watchparty_core::protocol::{ConnId, ServerMsg};
use watchparty_core::rights::Kid;
use watchparty_core::roster::{Counts, Member, Part};

/// The room's list as this hub knows it.
#[derive(Debug, Default)]
pub(super) struct HubRoster {
    /// This instance's viewers of the session.
    pub(super) local: HashMap<ConnId, Member>,
    /// The latest join time handed out (server ms): joins within one millisecond get strictly
    /// later times, so this instance's part of the list is in join order (a tie would fall
    /// back on the random connection ids).
    last_since: u64,
    /// Version of the merged view (rises with every change handed over).
    v: u64,
    /// The merged view last handed over.
    pub(super) view: Vec<Member>,
    pub(super) counts: Counts,
    /// The whole view as a joiner gets it, serialised once per version.
    full: Option<Prepared>,
    /// Each local viewer's start need (ms; see [`watchparty_core::start`]).
    needs: HashMap<ConnId, u32>,
}

impl Hub {
    /// Lists a local viewer (joined at `since`, server ms, public id `kid`) in the room's list,
    /// after every viewer listed before it (a later `since` than theirs).
    pub fn member_join(&self, id: ConnId, since: u64, kid: Option<Kid>) {
        let mut roster = lock(&self.roster);
        let since = since.max(roster.last_since.saturating_add(1));
        roster.last_since = since;
        let member = Member {
            id,
            name: None,
            status: None,
            since,
            kid,
        };
        roster.local.insert(id, member);
        drop(roster);
        self.dirty.notify_one();
    }

    /// Updates a local viewer's name and/or health; the change goes out with the next
    /// (coalesced) presence report.
    pub fn member_update(&self, id: ConnId, name: Option<&str>, status: Option<Health>) {
        let mut roster = lock(&self.roster);
        let Some(m) = roster.local.get_mut(&id) else {
            return;
        };
        let mut changed = false;
        if let Some(name) = name {
            if m.name.as_deref() != Some(name) {
                m.name = Some(name.to_owned());
                changed = true;
            }
        }
        if let Some(status) = status {
            if m.status != Some(status) {
                m.status = Some(status);
                changed = true;
            }
        }
        drop(roster);
        if changed {
            self.dirty.notify_one();
        }
    }

    /// Records what a local viewer's player needs to make a scheduled start (ms); a change of
    /// this instance's largest goes out with the next presence report.
    pub fn set_start_need(&self, id: ConnId, ms: u32) {
        let mut roster = lock(&self.roster);
        if !roster.local.contains_key(&id) {
            return;
        }
        let before = roster.largest_need();
        roster.needs.insert(id, ms);
        let changed = roster.largest_need() != before;
        drop(roster);
        if changed {
            self.dirty.notify_one();
        }
    }

    /// The room's largest start need (ms; 0 = none reported), over every instance.
    pub fn start_need(&self) -> u32 {
        let roster = lock(&self.roster);
        roster.counts.start_need_ms.max(roster.largest_need())
    }

    /// Removes a local viewer from the room's list.
    pub fn member_leave(&self, id: ConnId) {
        let mut roster = lock(&self.roster);
        roster.needs.remove(&id);
        let listed = roster.local.remove(&id).is_some();
        drop(roster);
        if listed {
            self.dirty.notify_one();
        }
    }

    /// The whole list, as the `roster` message a joiner gets first (serialised once per
    /// version).
    pub fn roster_full(&self) -> Prepared {
        let mut roster = lock(&self.roster);
        if let Some(text) = &roster.full {
            return text.clone();
        }
        let msg = ServerMsg::Roster {
            v: roster.v,
            full: true,
            members: roster.view.clone(),
            gone: Vec::new(),
            counts: roster.counts,
        };
        let text = Prepared::text(&serde_json::to_string(&msg).unwrap_or_default());
        roster.full = Some(text.clone());
        text
    }

    /// This instance's part of the list (JSON), for the presence report.
    pub(super) fn local_part(&self) -> String {
        let roster = lock(&self.roster);
        let mut part = watchparty_core::roster::part(roster.local.values(), self.shown);
        part.counts.start_need_ms = roster.largest_need();
        drop(roster);
        serde_json::to_string(&part).unwrap_or_default()
    }

    /// Merges every instance's part and hands the local viewers what changed.
    pub(super) fn apply_parts(&self, parts: &[Part]) {
        let (view, counts) = watchparty_core::roster::merge(parts, self.shown);
        let mut roster = lock(&self.roster);
        if view == roster.view && counts == roster.counts {
            return;
        }
        let (members, gone) = watchparty_core::roster::diff(&roster.view, &view);
        roster.v += 1;
        roster.view = view;
        roster.counts = counts;
        roster.full = None;
        let msg = ServerMsg::Roster {
            v: roster.v,
            full: false,
            members,
            gone,
            counts,
        };
        // Sent under the lock, so deltas go out in version order.
        self.fanout.send(Frame::new(
            0,
            None,
            &serde_json::to_string(&msg).unwrap_or_default(),
        ));
    }
}

impl HubRoster {
    /// This instance's largest start need (ms; 0 = none).
    fn largest_need(&self) -> u32 {
        self.needs.values().copied().max().unwrap_or(0)
    }
}
