//! The room's shared queue of videos and the pure rules that edit it.
//!
//! Unlike playback commands ("first command per revision wins", [`crate::playback`]), queue
//! edits must **all survive**: two people adding at the same moment both get their video in.
//! So an edit never carries a base revision. It names the items it touches by their
//! [`ItemId`] (never by index) and is applied to the *newest* queue; when the store's
//! compare-and-set reports that somebody else wrote first, the server simply applies the same
//! edit again to the queue it got back. Consequences (property-tested below):
//!
//! * concurrent adds both land (in the order the store serialised them);
//! * edits of different items commute: applied in either order they give the same queue;
//! * an edit of an item that is gone (removed or already played) is a typed error
//!   ([`QueueError::UnknownItem`]) and changes nothing; a second remove of one item is that
//!   error too, so a double click cannot remove a neighbour;
//! * the queue never exceeds its cap ([`QueueError::Full`]).
//!
//! Item ids come from a counter kept with the queue (`next_id`), assigned when the edit is
//! applied — so ids are unique per session whichever instance applies the edit.
//!
//! Advancing (the current video ended, or "play now") takes an item out of the queue and
//! turns it into a [`crate::playback::Command::Video`]; see [`Queue::take`].

use crate::ids::VideoId;
use crate::video::MAX_POSITION;
use serde::{Deserialize, Serialize};

/// Default cap on the number of queued items (the server's `max_queue_len` setting).
pub const DEFAULT_MAX_QUEUE: usize = 100;
/// Longest title kept, in characters (longer titles are cut).
pub const MAX_TITLE_CHARS: usize = 200;
/// Most video ids one [`QueueEdit::Import`] may carry: a message of that many ids stays well
/// within the client frame limit (`protocol::MAX_CLIENT_FRAME`; tested in `crate::playlist`). The
/// queue's own cap (`max_queue_len`) decides how many of them are added.
pub const MAX_IMPORT_IDS: usize = 200;

/// A queue item's id: unique within its session, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ItemId(pub u64);

/// One queued video.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    /// Stable id (edits name items by it).
    pub id: ItemId,
    /// The video.
    pub video_id: VideoId,
    /// Where to start it (seconds; from the link's `t=`/`start=`).
    #[serde(default)]
    pub start: f64,
    /// The title, once a player learned it (plain text, at most [`MAX_TITLE_CHARS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl QueueItem {
    /// The thumbnail YouTube serves for the item (allowed by the page's CSP).
    pub fn thumbnail_url(&self) -> String {
        thumbnail_url(&self.video_id)
    }
}

/// `https://i.ytimg.com/vi/ID/mqdefault.jpg` (320×180).
pub fn thumbnail_url(video: &VideoId) -> String {
    format!("https://i.ytimg.com/vi/{video}/mqdefault.jpg")
}

/// The queue: items in play order and the id counter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    /// Items, the next to play first.
    #[serde(default)]
    pub items: Vec<QueueItem>,
    /// The id the next added item gets.
    #[serde(default)]
    pub next_id: u64,
    /// What the last [`QueueEdit::Import`] did, until the next queue change: the importing
    /// page reads it from the echo of its import (the state of exactly that revision), so
    /// the counts it shows are exact however other edits raced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<Imported>,
}

/// The counts of a playlist import (see [`Queue::imported`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    /// Videos appended.
    pub added: u32,
    /// Videos of the import that did not fit (`max_queue_len`).
    pub left_out: u32,
}

/// A change to the queue a viewer asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum QueueEdit {
    /// Append a video.
    Add {
        /// The video.
        video_id: VideoId,
        /// Where to start it (seconds).
        #[serde(default)]
        start: f64,
    },
    /// Take an item out.
    Remove {
        /// The item.
        item: ItemId,
    },
    /// Put `item` right before `before` (`None`: at the end). Anchored on an item, not an
    /// index, so a concurrent add or remove elsewhere does not change what the mover meant.
    Move {
        /// The item to move.
        item: ItemId,
        /// The item it goes before; `None` for the end.
        #[serde(default)]
        before: Option<ItemId>,
    },
    /// Move `item` to the front (it plays next).
    PlayNext {
        /// The item.
        item: ItemId,
    },
    /// Append the videos of a playlist, in order, as many as fit (at most `max_len` items in
    /// the queue); the rest are left out. One revision: concurrent imports and adds all
    /// survive, each import's videos stay together. At least one and at most
    /// [`MAX_IMPORT_IDS`] ids ([`QueueError::BadImport`]); a full queue is
    /// [`QueueError::Full`].
    Import {
        /// The videos, in playlist order.
        video_ids: Vec<VideoId>,
    },
    /// A player learned the title of `video_id`: stored on every item of that video that has
    /// none yet (the first report wins).
    Title {
        /// The video.
        video_id: VideoId,
        /// The title as the player reported it.
        title: String,
    },
}

/// Why a queue edit was refused; the queue did not change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The item is not in the queue (removed, played, or never existed).
    #[error("unknown queue item {0}")]
    UnknownItem(u64),
    /// The queue holds its maximum number of items.
    #[error("the queue is full ({0} items)")]
    Full(usize),
    /// A start position that is not finite or out of range.
    #[error("start position out of range")]
    InvalidStart,
    /// An import of no videos or of more than [`MAX_IMPORT_IDS`].
    #[error("an import carries 1 to 200 videos")]
    BadImport,
}

/// Cleans a title reported by a player: control characters dropped, whitespace collapsed, cut
/// to [`MAX_TITLE_CHARS`]. `None` when nothing is left.
pub fn clean_title(raw: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = 0;
    for word in raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        for (i, c) in std::iter::once(' ').chain(word.chars()).enumerate() {
            if i == 0 && out.is_empty() {
                continue;
            }
            if chars == MAX_TITLE_CHARS {
                return Some(out);
            }
            out.push(c);
            chars += 1;
        }
    }
    (!out.is_empty()).then_some(out)
}

impl Queue {
    /// True for a queue that was never used (not stored, not sent).
    pub fn is_unused(&self) -> bool {
        self.items.is_empty() && self.next_id == 0
    }

    /// The item with `id`, if queued.
    pub fn get(&self, id: ItemId) -> Option<&QueueItem> {
        self.items.iter().find(|i| i.id == id)
    }

    fn index(&self, id: ItemId) -> Result<usize, QueueError> {
        self.items
            .iter()
            .position(|i| i.id == id)
            .ok_or(QueueError::UnknownItem(id.0))
    }

    /// Applies `edit` to this (the newest) queue, with at most `max_len` items. Returns
    /// `Ok(true)` when the queue changed, `Ok(false)` for an edit that changes nothing (a move
    /// to where the item already is, a title already known); on error nothing changed.
    pub fn apply(&mut self, edit: &QueueEdit, max_len: usize) -> Result<bool, QueueError> {
        let changed = self.apply_edit(edit, max_len)?;
        if changed && !matches!(edit, QueueEdit::Import { .. }) {
            self.imported = None;
        }
        Ok(changed)
    }

    /// Appends as many of `video_ids` as fit and records the counts ([`Queue::imported`]).
    fn import(&mut self, video_ids: &[VideoId], max_len: usize) -> Result<bool, QueueError> {
        if video_ids.is_empty() || video_ids.len() > MAX_IMPORT_IDS {
            return Err(QueueError::BadImport);
        }
        let free = max_len.saturating_sub(self.items.len());
        if free == 0 {
            return Err(QueueError::Full(max_len));
        }
        let added = free.min(video_ids.len());
        for video_id in &video_ids[..added] {
            self.items.push(QueueItem {
                id: ItemId(self.next_id),
                video_id: *video_id,
                start: 0.0,
                title: None,
            });
            self.next_id += 1;
        }
        // Both at most MAX_IMPORT_IDS.
        self.imported = Some(Imported {
            added: added as u32,
            left_out: (video_ids.len() - added) as u32,
        });
        Ok(true)
    }

    /// [`Queue::apply`] without clearing [`Queue::imported`].
    fn apply_edit(&mut self, edit: &QueueEdit, max_len: usize) -> Result<bool, QueueError> {
        match edit {
            QueueEdit::Import { video_ids } => self.import(video_ids, max_len),
            QueueEdit::Add { video_id, start } => {
                if !start.is_finite() || !(0.0..=MAX_POSITION).contains(start) {
                    return Err(QueueError::InvalidStart);
                }
                if self.items.len() >= max_len {
                    return Err(QueueError::Full(max_len));
                }
                let id = ItemId(self.next_id);
                self.next_id += 1;
                self.items.push(QueueItem {
                    id,
                    video_id: *video_id,
                    start: *start,
                    title: None,
                });
                Ok(true)
            }
            QueueEdit::Remove { item } => {
                let at = self.index(*item)?;
                self.items.remove(at);
                Ok(true)
            }
            QueueEdit::Move { item, before } => {
                let from = self.index(*item)?;
                if *before == Some(*item) {
                    return Ok(false);
                }
                if let Some(b) = before {
                    self.index(*b)?;
                }
                let moved = self.items.remove(from);
                let to = match before {
                    Some(b) => self.index(*b)?,
                    None => self.items.len(),
                };
                self.items.insert(to, moved);
                Ok(to != from)
            }
            QueueEdit::PlayNext { item } => {
                let from = self.index(*item)?;
                let moved = self.items.remove(from);
                self.items.insert(0, moved);
                Ok(from != 0)
            }
            QueueEdit::Title { video_id, title } => {
                let Some(title) = clean_title(title) else {
                    return Ok(false);
                };
                let mut changed = false;
                for i in self.items.iter_mut().filter(|i| i.video_id == *video_id) {
                    if i.title.is_none() {
                        i.title = Some(title.clone());
                        changed = true;
                    }
                }
                Ok(changed)
            }
        }
    }

    /// Takes `item` (or, with `None`, the first item) out of the queue: what "play now" and
    /// the end of the current video do. `None` when there is no such item.
    pub fn take(&mut self, item: Option<ItemId>) -> Option<QueueItem> {
        let at = match item {
            Some(id) => self.index(id).ok()?,
            None if self.items.is_empty() => return None,
            None => 0,
        };
        Some(self.items.remove(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const IDS: [&str; 4] = ["dQw4w9WgXcQ", "9bZkp7q19f0", "jNQXAC9IVRw", "kJQP7kiw5Fk"];

    fn v(i: usize) -> VideoId {
        VideoId::parse(IDS[i % IDS.len()]).unwrap()
    }

    fn add(i: usize) -> QueueEdit {
        QueueEdit::Add {
            video_id: v(i),
            start: 0.0,
        }
    }

    fn queue_of(n: usize) -> Queue {
        let mut q = Queue::default();
        for i in 0..n {
            q.apply(&add(i), 100).unwrap();
        }
        q
    }

    fn ids(q: &Queue) -> Vec<u64> {
        q.items.iter().map(|i| i.id.0).collect()
    }

    #[test]
    fn add_remove_move_play_next() {
        let mut q = queue_of(4);
        assert_eq!(ids(&q), [0, 1, 2, 3]);
        assert_eq!(
            q.apply(
                &QueueEdit::Move {
                    item: ItemId(3),
                    before: Some(ItemId(1))
                },
                100
            ),
            Ok(true)
        );
        assert_eq!(ids(&q), [0, 3, 1, 2]);
        q.apply(
            &QueueEdit::Move {
                item: ItemId(0),
                before: None,
            },
            100,
        )
        .unwrap();
        assert_eq!(ids(&q), [3, 1, 2, 0]);
        q.apply(&QueueEdit::PlayNext { item: ItemId(2) }, 100)
            .unwrap();
        assert_eq!(ids(&q), [2, 3, 1, 0]);
        q.apply(&QueueEdit::Remove { item: ItemId(3) }, 100)
            .unwrap();
        assert_eq!(ids(&q), [2, 1, 0]);
        // A second remove of the same item is an error, never a neighbour's removal.
        assert_eq!(
            q.apply(&QueueEdit::Remove { item: ItemId(3) }, 100),
            Err(QueueError::UnknownItem(3))
        );
        // Ids are never reused.
        q.apply(&add(0), 100).unwrap();
        assert_eq!(ids(&q), [2, 1, 0, 4]);
        assert_eq!(q.take(None).map(|i| i.id.0), Some(2));
        assert_eq!(q.take(Some(ItemId(0))).map(|i| i.id.0), Some(0));
        assert_eq!(q.take(Some(ItemId(0))), None);
        assert_eq!(ids(&q), [1, 4]);
    }

    #[test]
    fn cap_and_bad_values() {
        let mut q = queue_of(3);
        assert_eq!(q.apply(&add(0), 3), Err(QueueError::Full(3)));
        assert_eq!(q.items.len(), 3);
        let mut q = Queue::default();
        for start in [f64::NAN, -1.0, f64::INFINITY, MAX_POSITION * 2.0] {
            assert_eq!(
                q.apply(
                    &QueueEdit::Add {
                        video_id: v(0),
                        start
                    },
                    10
                ),
                Err(QueueError::InvalidStart)
            );
        }
        assert_eq!(q, Queue::default());
        assert!(Queue::default().take(None).is_none());
    }

    #[test]
    fn titles_are_cleaned_and_first_report_wins() {
        let mut q = queue_of(2);
        let t = |title: &str| QueueEdit::Title {
            video_id: v(0),
            title: title.into(),
        };
        assert_eq!(q.apply(&t("  \u{7}\n "), 100), Ok(false));
        assert_eq!(q.apply(&t("Never\tgonna\u{0}  give"), 100), Ok(true));
        assert_eq!(q.items[0].title.as_deref(), Some("Never gonna give"));
        assert_eq!(q.apply(&t("Other"), 100), Ok(false));
        assert_eq!(q.items[1].title, None);
        let long = "é".repeat(500);
        assert_eq!(
            clean_title(&long).map(|s| s.chars().count()),
            Some(MAX_TITLE_CHARS)
        );
        assert_eq!(
            thumbnail_url(&v(0)),
            "https://i.ytimg.com/vi/dQw4w9WgXcQ/mqdefault.jpg"
        );
    }

    #[test]
    fn serde_shape() {
        let e: QueueEdit = serde_json::from_str(r#"{"op":"move","item":3,"before":null}"#).unwrap();
        assert_eq!(
            e,
            QueueEdit::Move {
                item: ItemId(3),
                before: None
            }
        );
        let q = queue_of(1);
        assert_eq!(
            serde_json::to_string(&q).unwrap(),
            r#"{"items":[{"id":0,"video_id":"dQw4w9WgXcQ","start":0.0}],"next_id":1}"#
        );
    }

    fn edit_strategy() -> impl Strategy<Value = QueueEdit> {
        prop_oneof![
            (0usize..4, 0.0..100.0f64).prop_map(|(i, start)| QueueEdit::Add {
                video_id: v(i),
                start
            }),
            (0u64..8).prop_map(|i| QueueEdit::Remove { item: ItemId(i) }),
            (0u64..8, proptest::option::of(0u64..8)).prop_map(|(i, b)| QueueEdit::Move {
                item: ItemId(i),
                before: b.map(ItemId)
            }),
            (0u64..8).prop_map(|i| QueueEdit::PlayNext { item: ItemId(i) }),
            (0usize..4).prop_map(|i| QueueEdit::Title {
                video_id: v(i),
                title: format!("title {i}")
            }),
        ]
    }

    fn touched(e: &QueueEdit) -> Option<Vec<ItemId>> {
        match e {
            QueueEdit::Remove { item } | QueueEdit::PlayNext { item } => Some(vec![*item]),
            QueueEdit::Move { item, before } => {
                Some(std::iter::once(*item).chain(*before).collect())
            }
            _ => None,
        }
    }

    proptest! {
        /// Two people add at the same moment: whatever the order the store serialises them
        /// in, both items are in, with distinct ids.
        #[test]
        fn concurrent_adds_both_survive(n in 0usize..6, a in 0usize..4, b in 0usize..4) {
            let base = queue_of(n);
            for (first, second) in [(a, b), (b, a)] {
                let mut q = base.clone();
                prop_assert_eq!(q.apply(&add(first), 100), Ok(true));
                prop_assert_eq!(q.apply(&add(second), 100), Ok(true));
                prop_assert_eq!(q.items.len(), n + 2);
                let mut seen = ids(&q);
                seen.dedup();
                prop_assert_eq!(seen.len(), n + 2);
            }
        }

        /// Removes of different items, and a remove with an add, commute: both orders give
        /// the same items in the same order.
        #[test]
        fn edits_of_different_items_commute(n in 2usize..6, x in 0u64..6, y in 0u64..6, a in 0usize..4) {
            prop_assume!(x != y && (x as usize) < n && (y as usize) < n);
            let base = queue_of(n);
            let rx = QueueEdit::Remove { item: ItemId(x) };
            let ry = QueueEdit::Remove { item: ItemId(y) };
            let mut one = base.clone();
            one.apply(&rx, 100).unwrap();
            one.apply(&ry, 100).unwrap();
            let mut two = base.clone();
            two.apply(&ry, 100).unwrap();
            two.apply(&rx, 100).unwrap();
            prop_assert_eq!(&one, &two);
            // An add and a remove: the same ids and videos either way.
            let mut three = base.clone();
            three.apply(&add(a), 100).unwrap();
            three.apply(&rx, 100).unwrap();
            let mut four = base.clone();
            four.apply(&rx, 100).unwrap();
            four.apply(&add(a), 100).unwrap();
            prop_assert_eq!(&three, &four);
        }

        /// Any sequence of edits: the queue stays within its cap, ids stay unique and
        /// increasing by creation, a refused edit changes nothing, and an edit naming an item
        /// that is not there is always `UnknownItem`.
        #[test]
        fn any_edits_keep_the_invariants(edits in proptest::collection::vec(edit_strategy(), 0..40), cap in 1usize..6) {
            let mut q = Queue::default();
            for e in &edits {
                let before = q.clone();
                let missing = touched(e)
                    .map(|ids| ids.iter().any(|i| before.get(*i).is_none()))
                    .unwrap_or(false);
                match q.apply(e, cap) {
                    Ok(_) => prop_assert!(!missing),
                    Err(QueueError::UnknownItem(_)) => {
                        prop_assert!(missing);
                        prop_assert_eq!(&q, &before);
                    }
                    Err(_) => prop_assert_eq!(&q, &before),
                }
                prop_assert!(q.items.len() <= cap);
                let mut all = ids(&q);
                all.sort_unstable();
                all.dedup();
                prop_assert_eq!(all.len(), q.items.len());
                prop_assert!(q.items.iter().all(|i| i.id.0 < q.next_id));
            }
        }
    }
}
