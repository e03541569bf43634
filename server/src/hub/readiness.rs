//! Who is not ready, per hub, for "wait for everyone" (the rules are in
//! [`watchparty_core::hold`]): the room's merged list (every instance's part) says whether a
//! start must hold and when a hold may end; this instance's own viewers say who stalls.

use super::Hub;
use crate::sync_util::lock;
use watchparty_core::health::Health;
use watchparty_core::hold::{Readiness, Waiting};

impl Hub {
    /// Who is not ready in the whole room, as the merged list last showed it.
    pub fn readiness(&self) -> Readiness {
        let roster = lock(&self.roster);
        Readiness::of(&roster.view, &roster.counts)
    }

    /// This instance's viewers whose players buffer now, in join order (a stall may hold the
    /// room; each viewer's stall is decided by the instance it is connected to).
    pub fn local_stalled(&self) -> Vec<Waiting> {
        let roster = lock(&self.roster);
        let mut stalled: Vec<(u64, Waiting)> = roster
            .local
            .values()
            .filter(|m| m.status == Some(Health::Buffering))
            .map(|m| {
                let w = Waiting {
                    id: m.id,
                    name: m.name.clone(),
                };
                (m.since, w)
            })
            .collect();
        stalled.sort_by_key(|(since, w)| (*since, w.id));
        stalled.into_iter().map(|(_, w)| w).collect()
    }
}
