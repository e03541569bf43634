//! Who is here: the room's list of viewers with their sync health, kept O(changes) in big rooms.
//!
//! Each viewer reports its own [`Health`] (see [`crate::health::Reporter`]: changes only, at
//! most one per second). Each server instance keeps its local viewers and reports, coalesced
//! with its viewer count (at most twice a second per session), one [`Part`]: the health
//! [`Counts`] of all its local viewers and its first `shown` members by join time. Every
//! instance receives every part ([`crate::protocol`]'s internal presence event), [`merge`]s them
//! into the room's view (the first `shown` members over all instances plus the summed counts)
//! and sends its local viewers only what changed ([`diff`]): a `roster` message with the
//! upserted and departed members and the new counts, serialised once per instance. A viewer
//! joining gets the whole view (`full`). A room of 10,000 therefore shows 50 names and
//! "9,812 of 10,000 in sync", and a health change costs one small delta, not a list.
//!
//! Versions: each instance numbers its views; a client applies a delta only when it is newer
//! than what it has, so a delta racing a joiner's full view is ignored, never reapplied.

use crate::health::Health;
use crate::ids::ConnId;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Default number of members listed by name (the setting `roster_len`).
pub const DEFAULT_SHOWN: usize = 50;

/// One viewer in the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The viewer's connection id (the `conn_id` of its `hello` and of its changes' `cause`).
    pub id: ConnId,
    /// Display name, once the viewer sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Health as the viewer's own client reported it, once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Health>,
    /// When the viewer joined (server ms since the epoch): the list's order.
    pub since: u64,
    /// The viewer's public id (hosts name it to appoint or remove; see `crate::rights`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<crate::rights::Kid>,
}

impl Member {
    fn key(&self) -> (u64, ConnId) {
        (self.since, self.id)
    }
}

/// How many viewers are in each state (viewers that have not reported are not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// In sync.
    #[serde(default)]
    pub in_sync: u32,
    /// Catching up.
    #[serde(default)]
    pub catching_up: u32,
    /// Buffering.
    #[serde(default)]
    pub buffering: u32,
    /// Watching an ad.
    #[serde(default)]
    pub ad: u32,
    /// Loading (the player is not ready yet).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub loading: u32,
    /// Waiting for a click (autoplay blocked).
    #[serde(default)]
    pub needs_click: u32,
    /// Background tab.
    #[serde(default)]
    pub background: u32,
    /// Reconnecting.
    #[serde(default)]
    pub reconnecting: u32,
    /// The largest start need reported by these viewers (ms; see [`crate::start`]). Parts
    /// merge it by taking the largest, not the sum.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_need_ms: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Counts {
    /// Counts one viewer's health.
    pub fn add(&mut self, h: &Health) {
        let slot = match h {
            Health::InSync { .. } => &mut self.in_sync,
            Health::CatchingUp => &mut self.catching_up,
            Health::Buffering => &mut self.buffering,
            Health::Ad => &mut self.ad,
            Health::Loading => &mut self.loading,
            Health::NeedsClick => &mut self.needs_click,
            Health::Background => &mut self.background,
            Health::Reconnecting => &mut self.reconnecting,
        };
        *slot = slot.saturating_add(1);
    }

    /// Adds another instance's counts.
    pub fn sum(&mut self, o: &Counts) {
        self.in_sync = self.in_sync.saturating_add(o.in_sync);
        self.catching_up = self.catching_up.saturating_add(o.catching_up);
        self.buffering = self.buffering.saturating_add(o.buffering);
        self.ad = self.ad.saturating_add(o.ad);
        self.loading = self.loading.saturating_add(o.loading);
        self.needs_click = self.needs_click.saturating_add(o.needs_click);
        self.background = self.background.saturating_add(o.background);
        self.reconnecting = self.reconnecting.saturating_add(o.reconnecting);
        self.start_need_ms = self.start_need_ms.max(o.start_need_ms);
    }
}

/// One instance's contribution: its first `shown` members by join time and the counts of all
/// its local viewers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Members, in join order.
    #[serde(default)]
    pub members: Vec<Member>,
    /// Health counts over all local viewers.
    #[serde(default)]
    pub counts: Counts,
}

/// Builds an instance's [`Part`] from its local members: O(local viewers), done at most twice a
/// second per session.
pub fn part<'a>(members: impl IntoIterator<Item = &'a Member>, shown: usize) -> Part {
    let mut counts = Counts::default();
    let mut first: Vec<&Member> = Vec::new();
    for m in members {
        if let Some(h) = &m.status {
            counts.add(h);
        }
        first.push(m);
    }
    if first.len() > shown {
        first.select_nth_unstable_by_key(shown, |m| m.key());
        first.truncate(shown);
    }
    first.sort_unstable_by_key(|m| m.key());
    Part {
        members: first.into_iter().cloned().collect(),
        counts,
    }
}

/// The room's view from every instance's part: the first `shown` members over all (by join
/// time, then id) and the summed counts.
pub fn merge(parts: &[Part], shown: usize) -> (Vec<Member>, Counts) {
    let mut counts = Counts::default();
    let mut seen = HashSet::new();
    let mut all: Vec<&Member> = Vec::new();
    for p in parts {
        counts.sum(&p.counts);
        for m in &p.members {
            if seen.insert(m.id) {
                all.push(m);
            }
        }
    }
    all.sort_unstable_by_key(|m| m.key());
    all.truncate(shown);
    (all.into_iter().cloned().collect(), counts)
}

/// What changed between two views: members new or different in `new`, ids no longer there.
pub fn diff(old: &[Member], new: &[Member]) -> (Vec<Member>, Vec<ConnId>) {
    let upserts = new
        .iter()
        .filter(|m| !old.iter().any(|o| o == *m))
        .cloned()
        .collect();
    let gone = old
        .iter()
        .filter(|o| !new.iter().any(|m| m.id == o.id))
        .map(|o| o.id)
        .collect();
    (upserts, gone)
}

/// What a client learned from one `roster` message, for the room's notices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Members who joined.
    pub joined: Vec<Member>,
    /// Members who left.
    pub left: Vec<Member>,
}

/// A client's copy of the room's view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roster {
    /// The version of the last message applied (per server instance).
    pub v: u64,
    /// The listed members, in join order.
    pub members: Vec<Member>,
    /// Health counts over the whole room.
    pub counts: Counts,
}

impl Roster {
    /// Applies one `roster` message. A full view replaces everything (and reports no joins); a
    /// delta not newer than the current version is ignored. Returns who joined or left.
    pub fn apply(
        &mut self,
        v: u64,
        full: bool,
        members: Vec<Member>,
        gone: &[ConnId],
        counts: Counts,
    ) -> Changes {
        let mut changes = Changes::default();
        if full {
            let mut members = members;
            members.sort_unstable_by_key(|m| m.key());
            *self = Roster { v, members, counts };
            return changes;
        }
        if v <= self.v {
            return changes;
        }
        self.v = v;
        self.counts = counts;
        let newest = self.members.iter().map(|m| m.since).max().unwrap_or(0);
        for id in gone {
            if let Some(i) = self.members.iter().position(|m| m.id == *id) {
                changes.left.push(self.members.remove(i));
            }
        }
        for m in members {
            match self.members.iter_mut().find(|o| o.id == m.id) {
                Some(o) => {
                    // A viewer is listed as soon as it connects and named a moment later:
                    // its first name is its arrival.
                    if o.name.is_none() && m.name.is_some() {
                        changes.joined.push(m.clone());
                    }
                    *o = m;
                }
                None => {
                    // A member newer than everyone listed joined; an older one only moved into
                    // view because someone above it left.
                    if m.since > newest || newest == 0 {
                        changes.joined.push(m.clone());
                    }
                    self.members.push(m);
                }
            }
        }
        self.members.sort_unstable_by_key(|m| m.key());
        changes
    }

    /// Viewers reported in sync.
    pub fn in_sync(&self) -> u32 {
        self.counts.in_sync
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(id: u64, since: u64, h: Option<Health>) -> Member {
        Member {
            id,
            name: Some(format!("viewer {id}")),
            status: h,
            since,
            kid: None,
        }
    }

    #[test]
    fn parts_merge_into_the_first_members_and_summed_counts() {
        let ok = Some(Health::in_sync(0));
        let a: Vec<Member> = (0..5)
            .map(|i| m(i, 100 + i * 2, ok))
            .chain([m(9, 1, Some(Health::Buffering))])
            .collect();
        let b: Vec<Member> = (10..14).map(|i| m(i, 100 + i, None)).collect();
        let pa = part(&a, 3);
        assert_eq!(
            pa.members.iter().map(|m| m.id).collect::<Vec<_>>(),
            [9, 0, 1]
        );
        assert_eq!(pa.counts.in_sync, 5);
        assert_eq!(pa.counts.buffering, 1);
        let pb = part(&b, 3);
        assert_eq!(pb.counts, Counts::default());
        let (view, counts) = merge(&[pb, pa], 3);
        assert_eq!(view.iter().map(|m| m.id).collect::<Vec<_>>(), [9, 0, 1]);
        assert_eq!(counts.in_sync, 5);
        // The wire form is compact and stable.
        assert_eq!(
            serde_json::to_string(&m(7, 3, Some(Health::in_sync(-10)))).unwrap(),
            r#"{"id":7,"name":"viewer 7","status":{"health":"in_sync","ms":-10},"since":3}"#
        );
    }

    #[test]
    fn deltas_apply_in_order_and_stale_ones_are_ignored() {
        let mut r = Roster::default();
        let old = vec![m(1, 10, None), m(2, 20, None)];
        let c = r.apply(3, true, old.clone(), &[], Counts::default());
        assert_eq!(c, Changes::default(), "a full view announces nobody");
        let new = vec![
            m(1, 10, Some(Health::Buffering)),
            m(3, 30, Some(Health::in_sync(0))),
        ];
        let (up, gone) = diff(&old, &new);
        assert_eq!(gone, [2]);
        let counts = Counts {
            in_sync: 1,
            buffering: 1,
            ..Counts::default()
        };
        let c = r.apply(4, false, up.clone(), &gone, counts);
        assert_eq!(c.joined, [new[1].clone()]);
        assert_eq!(c.left, [old[1].clone()]);
        assert_eq!(r.members, new);
        assert_eq!(r.in_sync(), 1);
        // The same delta again (or an older one) changes nothing.
        let before = r.clone();
        assert_eq!(r.apply(4, false, up, &gone, counts), Changes::default());
        assert_eq!(r, before);
    }

    #[test]
    fn a_viewer_listed_before_its_name_joins_when_named() {
        let mut r = Roster::default();
        r.apply(1, true, vec![m(1, 10, None)], &[], Counts::default());
        let unnamed = Member {
            name: None,
            ..m(2, 20, None)
        };
        let c = r.apply(2, false, vec![unnamed], &[], Counts::default());
        assert_eq!(c.joined.len(), 1, "listed (unnamed) at once");
        let c = r.apply(3, false, vec![m(2, 20, None)], &[], Counts::default());
        assert_eq!(c.joined, [m(2, 20, None)]);
        // A rename is not an arrival.
        let renamed = Member {
            name: Some("Ben".into()),
            ..m(2, 20, None)
        };
        let c = r.apply(4, false, vec![renamed], &[], Counts::default());
        assert_eq!(c.joined, []);
    }

    #[test]
    fn a_member_moving_into_view_did_not_join() {
        let mut r = Roster::default();
        r.apply(
            1,
            true,
            vec![m(1, 10, None), m(2, 20, None)],
            &[],
            Counts::default(),
        );
        // 1 left; 5 (joined long ago, beyond the shown names) moves into view.
        let c = r.apply(2, false, vec![m(5, 15, None)], &[1], Counts::default());
        assert_eq!(c.joined, []);
        assert_eq!(c.left, [m(1, 10, None)]);
    }

    fn arb_members() -> impl Strategy<Value = Vec<Member>> {
        proptest::collection::btree_map(0u64..40, (0u64..1000, 0u8..3), 0..20).prop_map(|ms| {
            ms.into_iter()
                .map(|(id, (since, h))| {
                    let status = match h {
                        0 => None,
                        1 => Some(Health::in_sync(10)),
                        _ => Some(Health::Buffering),
                    };
                    m(id, since, status)
                })
                .collect()
        })
    }

    proptest! {
        /// Applying the diff of two views to the first gives the second, whatever they are.
        #[test]
        fn diff_then_apply_reaches_the_new_view(a in arb_members(), b in arb_members()) {
            let (a, _) = merge(&[Part { members: a, counts: Counts::default() }], 50);
            let (b, counts) = merge(&[Part { members: b, counts: Counts::default() }], 50);
            let mut r = Roster::default();
            r.apply(1, true, a.clone(), &[], Counts::default());
            let (up, gone) = diff(&a, &b);
            r.apply(2, false, up, &gone, counts);
            prop_assert_eq!(r.members, b);
        }

        /// Merging instance parts equals building one part over all members (when ids are
        /// distinct): the split over instances does not change the view.
        #[test]
        fn merge_does_not_depend_on_the_split(all in arb_members(), cut in 0usize..20, shown in 1usize..8) {
            let cut = cut.min(all.len());
            let (x, y) = all.split_at(cut);
            let split = merge(&[part(x, shown), part(y, shown)], shown);
            let whole = merge(&[part(&all, shown)], shown);
            prop_assert_eq!(split, whole);
        }
    }
}
