//! Who may do what in a room: the host, co-hosts, the "hosts control" lock and removed viewers.
//! Pure, stored with the session's state (so rights survive reconnects and instance changes and
//! change in the same total order as everything else), unit- and property-tested here.
//!
//! **Identity.** Every browser holds a private *key* (random; the host's key for a session is
//! the host secret returned at creation). It travels only in the WebSocket handshake; the
//! server derives the public [`Kid`] from it (the first 128 bits of its SHA-256, hex) and tells
//! the client its own kid in `hello`. Rights name kids, so knowing a kid (it is shown in the
//! room's list) grants nothing: acting as it takes the key.
//!
//! **Roles.** The *host* (the session's owner, at most one) and up to [`MAX_COHOSTS`]
//! *co-hosts* are the *hosts*. Rules (every check runs inside the session's total order):
//! * In "everyone controls" (the default) anyone may play, pause, seek, change rate, switch the
//!   video and edit the queue; in "hosts control" ([`Rights::locked`]) only hosts may.
//!   Duration reports and the automatic advance are not control and are never refused.
//! * Hosts may switch the mode, remove a viewer who is not a host, and delete chat messages.
//! * Only the host appoints or dismisses co-hosts, hands over (the new host's old co-host
//!   seat is freed; the old host becomes a co-host) and may remove a co-host.
//! * Nobody removes the host. A removed viewer's kid is refused for `removal_ms` (its
//!   connections close with `close::REMOVED`); at most [`MAX_REMOVED`] removals are kept
//!   (the oldest is forgotten first). A determined user can evade it with a new key.

use serde::{Deserialize, Serialize};

/// Most co-hosts a room has.
pub const MAX_COHOSTS: usize = 10;
/// Most removals remembered at once.
pub const MAX_REMOVED: usize = 64;
/// Length of a [`Kid`] in hex digits.
pub const KID_LEN: usize = 32;

/// A viewer's public id: 32 lowercase hex digits (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Kid(String);

impl Kid {
    /// Parses a kid (exactly [`KID_LEN`] lowercase hex digits).
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if s.len() == KID_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Kid(s.to_owned()))
        } else {
            Err("a viewer id is 32 lowercase hex digits")
        }
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Kid {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Kid::parse(&s)
    }
}

impl From<Kid> for String {
    fn from(k: Kid) -> String {
        k.0
    }
}

impl std::fmt::Display for Kid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shortest private key accepted.
pub const KEY_MIN_LEN: usize = 16;
/// Longest private key accepted.
pub const KEY_MAX_LEN: usize = 64;

/// Whether `key` is an acceptable private key: [`KEY_MIN_LEN`]..=[`KEY_MAX_LEN`] characters of
/// `[A-Za-z0-9_-]`.
pub fn is_valid_key(key: &str) -> bool {
    (KEY_MIN_LEN..=KEY_MAX_LEN).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A viewer removed from the room until `until` (server ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Removal {
    /// Who.
    pub kid: Kid,
    /// Refused until this server time (ms since the epoch).
    pub until: f64,
}

/// The room's rights, stored in the session's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rights {
    /// The host (`None` for sessions created before hosts existed: then nobody can lock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Kid>,
    /// Co-hosts, in appointment order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cohosts: Vec<Kid>,
    /// "Hosts control": only hosts may change playback, the video and the queue.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
    /// Removed viewers (expired entries are pruned at the next rights change).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<Removal>,
}

/// A change of the rights, asked for by a viewer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum RightsCommand {
    /// Switch between "everyone controls" (`false`) and "hosts control" (`true`).
    Lock {
        /// The new mode.
        locked: bool,
    },
    /// Appoint (`on`) or dismiss a co-host.
    Cohost {
        /// Who.
        kid: Kid,
        /// Appoint or dismiss.
        on: bool,
    },
    /// Make `kid` the host; the old host becomes a co-host.
    HandOver {
        /// The new host.
        kid: Kid,
    },
    /// Remove a viewer from the room for a while.
    Remove {
        /// Who.
        kid: Kid,
    },
}

/// Why a change was refused; nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RightsError {
    /// The actor lacks the right.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The command makes no sense (e.g. the host removing themselves, too many co-hosts).
    #[error("{0}")]
    Invalid(&'static str),
}

/// Only the host may do this.
pub const NOT_HOST: &str = "only the host can do this";
/// Only hosts may do this.
pub const NOT_A_HOST: &str = "only hosts can do this";
/// A locked room refused a control command.
pub const LOCKED: &str = "only hosts control playback in this room";

impl Rights {
    /// Rights of a new session created by `owner`.
    pub fn owned_by(owner: Kid) -> Self {
        Self {
            owner: Some(owner),
            ..Self::default()
        }
    }

    /// True when nothing is set (not serialised).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Is `kid` the host?
    pub fn is_owner(&self, kid: &Kid) -> bool {
        self.owner.as_ref() == Some(kid)
    }

    /// Is `kid` the host or a co-host?
    pub fn is_host(&self, kid: &Kid) -> bool {
        self.is_owner(kid) || self.cohosts.contains(kid)
    }

    /// May `kid` control playback, the video and the queue?
    pub fn may_control(&self, kid: &Kid) -> bool {
        !self.locked || self.is_host(kid)
    }

    /// Is `kid` removed at server time `now`?
    pub fn is_removed(&self, kid: &Kid, now: f64) -> bool {
        self.removed.iter().any(|r| &r.kid == kid && r.until > now)
    }

    /// The kids removed at `now`.
    pub fn removed_at(&self, now: f64) -> impl Iterator<Item = &Kid> {
        self.removed
            .iter()
            .filter(move |r| r.until > now)
            .map(|r| &r.kid)
    }

    /// Applies `cmd` by `actor` at server time `now`; a removal lasts `removal_ms`.
    /// `Ok(None)` when nothing changes.
    pub fn apply(
        &self,
        actor: &Kid,
        cmd: &RightsCommand,
        now: f64,
        removal_ms: f64,
    ) -> Result<Option<Rights>, RightsError> {
        if !self.is_host(actor) {
            return Err(RightsError::Forbidden(NOT_A_HOST));
        }
        let mut next = self.clone();
        next.removed.retain(|r| r.until > now);
        match cmd {
            RightsCommand::Lock { locked } => next.locked = *locked,
            RightsCommand::Cohost { kid, on } => {
                if !self.is_owner(actor) {
                    return Err(RightsError::Forbidden(NOT_HOST));
                }
                if self.is_owner(kid) {
                    return Err(RightsError::Invalid("the host is already a host"));
                }
                if *on {
                    if next.is_removed(kid, now) {
                        return Err(RightsError::Invalid("that viewer was removed"));
                    }
                    if !next.cohosts.contains(kid) {
                        if next.cohosts.len() >= MAX_COHOSTS {
                            return Err(RightsError::Invalid("a room has at most 10 co-hosts"));
                        }
                        next.cohosts.push(kid.clone());
                    }
                } else {
                    next.cohosts.retain(|k| k != kid);
                }
            }
            RightsCommand::HandOver { kid } => {
                if !self.is_owner(actor) {
                    return Err(RightsError::Forbidden(NOT_HOST));
                }
                if self.is_owner(kid) {
                    return Ok(None);
                }
                if next.is_removed(kid, now) {
                    return Err(RightsError::Invalid("that viewer was removed"));
                }
                next.cohosts.retain(|k| k != kid);
                next.cohosts.insert(0, actor.clone());
                next.cohosts.truncate(MAX_COHOSTS);
                next.owner = Some(kid.clone());
            }
            RightsCommand::Remove { kid } => {
                if self.is_owner(kid) {
                    return Err(RightsError::Forbidden("nobody can remove the host"));
                }
                if self.cohosts.contains(kid) {
                    if !self.is_owner(actor) {
                        return Err(RightsError::Forbidden(NOT_HOST));
                    }
                    next.cohosts.retain(|k| k != kid);
                }
                next.removed.retain(|r| &r.kid != kid);
                next.removed.push(Removal {
                    kid: kid.clone(),
                    until: now + removal_ms.max(0.0),
                });
                if next.removed.len() > MAX_REMOVED {
                    let extra = next.removed.len() - MAX_REMOVED;
                    next.removed.drain(..extra);
                }
            }
        }
        Ok((next != *self).then_some(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn k(i: u8) -> Kid {
        Kid::parse(&format!("{:032x}", i)).unwrap()
    }

    fn cohost(kid: Kid) -> RightsCommand {
        RightsCommand::Cohost { kid, on: true }
    }

    #[test]
    fn kids_and_keys_are_validated() {
        assert!(Kid::parse(&"a".repeat(32)).is_ok());
        for bad in [
            "",
            "A".repeat(32).as_str(),
            &"a".repeat(31),
            &"g".repeat(32),
        ] {
            assert!(Kid::parse(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Kid>(r#""zz""#).is_err());
        assert!(is_valid_key("abcdefABCDEF0123-_"));
        assert!(!is_valid_key("short"));
        assert!(!is_valid_key(&"a".repeat(65)));
        assert!(!is_valid_key("abcdefABCDEF0123 <>"));
    }

    #[test]
    fn everyone_controls_until_a_host_locks() {
        let r = Rights::owned_by(k(1));
        assert!(r.may_control(&k(2)));
        assert_eq!(
            r.apply(&k(2), &RightsCommand::Lock { locked: true }, 0.0, 1.0),
            Err(RightsError::Forbidden(NOT_A_HOST))
        );
        let locked = r
            .apply(&k(1), &RightsCommand::Lock { locked: true }, 0.0, 1.0)
            .unwrap()
            .unwrap();
        assert!(!locked.may_control(&k(2)));
        assert!(locked.may_control(&k(1)));
        // Locking twice changes nothing.
        assert_eq!(
            locked.apply(&k(1), &RightsCommand::Lock { locked: true }, 0.0, 1.0),
            Ok(None)
        );
        // A co-host controls a locked room and may unlock it, but appoints nobody.
        let co = locked
            .apply(&k(1), &cohost(k(2)), 0.0, 1.0)
            .unwrap()
            .unwrap();
        assert!(co.may_control(&k(2)));
        assert_eq!(
            co.apply(&k(2), &cohost(k(3)), 0.0, 1.0),
            Err(RightsError::Forbidden(NOT_HOST))
        );
        assert!(
            !co.apply(&k(2), &RightsCommand::Lock { locked: false }, 0.0, 1.0)
                .unwrap()
                .unwrap()
                .locked
        );
        // A session without an owner has no hosts: nobody can lock it.
        assert!(Rights::default()
            .apply(&k(1), &RightsCommand::Lock { locked: true }, 0.0, 1.0)
            .is_err());
    }

    #[test]
    fn hand_over_and_removal() {
        let r = Rights::owned_by(k(1));
        let r = r
            .apply(&k(1), &RightsCommand::HandOver { kid: k(2) }, 0.0, 1.0)
            .unwrap()
            .unwrap();
        assert!(r.is_owner(&k(2)));
        assert_eq!(r.cohosts, vec![k(1)]);
        // The old host, now a co-host, cannot remove the new host nor hand over again.
        assert!(r
            .apply(&k(1), &RightsCommand::Remove { kid: k(2) }, 0.0, 1.0)
            .is_err());
        assert!(r
            .apply(&k(1), &RightsCommand::HandOver { kid: k(1) }, 0.0, 1.0)
            .is_err());
        // A co-host removes a viewer for a while; the host removes the co-host.
        let r = r
            .apply(&k(1), &RightsCommand::Remove { kid: k(3) }, 100.0, 50.0)
            .unwrap()
            .unwrap();
        assert!(r.is_removed(&k(3), 149.0));
        assert!(!r.is_removed(&k(3), 150.0));
        let r = r
            .apply(&k(2), &RightsCommand::Remove { kid: k(1) }, 120.0, 50.0)
            .unwrap()
            .unwrap();
        assert!(!r.is_host(&k(1)));
        assert!(r.is_removed(&k(1), 160.0));
        // Expired removals are pruned at the next change.
        let r = r
            .apply(&k(2), &RightsCommand::Lock { locked: true }, 1_000.0, 50.0)
            .unwrap()
            .unwrap();
        assert!(r.removed.is_empty());
        // A removed viewer cannot be made host.
        let r = r
            .apply(&k(2), &RightsCommand::Remove { kid: k(4) }, 1_000.0, 50.0)
            .unwrap()
            .unwrap();
        assert!(r
            .apply(&k(2), &RightsCommand::HandOver { kid: k(4) }, 1_001.0, 50.0)
            .is_err());
    }

    #[test]
    fn lists_are_capped() {
        let mut r = Rights::owned_by(k(0));
        for i in 1..=MAX_COHOSTS as u8 {
            r = r.apply(&k(0), &cohost(k(i)), 0.0, 1.0).unwrap().unwrap();
        }
        assert!(r.apply(&k(0), &cohost(k(200)), 0.0, 1.0).is_err());
        for i in 0..(MAX_REMOVED as u8 + 10) {
            r = r
                .apply(&k(0), &RightsCommand::Remove { kid: k(100 + i) }, 0.0, 1e9)
                .unwrap()
                .unwrap();
        }
        assert_eq!(r.removed.len(), MAX_REMOVED);
        assert!(r.is_removed(&k(100 + MAX_REMOVED as u8 + 9), 1.0));
        assert!(!r.is_removed(&k(100), 1.0));
    }

    proptest! {
        /// Whatever sequence of commands by whoever: there is always exactly the one host,
        /// nobody is host and removed, the lists stay within their caps, and a refused
        /// command changes nothing.
        #[test]
        fn invariants_hold(ops in proptest::collection::vec((0u8..6, 0u8..4, 0u8..6, any::<bool>()), 0..60)) {
            let mut r = Rights::owned_by(k(0));
            for (i, (actor, op, target, flag)) in ops.into_iter().enumerate() {
                let now = i as f64 * 10.0;
                let cmd = match op {
                    0 => RightsCommand::Lock { locked: flag },
                    1 => RightsCommand::Cohost { kid: k(target), on: flag },
                    2 => RightsCommand::HandOver { kid: k(target) },
                    _ => RightsCommand::Remove { kid: k(target) },
                };
                let before = r.clone();
                match r.apply(&k(actor), &cmd, now, 25.0) {
                    Ok(Some(next)) => {
                        prop_assert!(before.is_host(&k(actor)));
                        r = next;
                    }
                    Ok(None) => {}
                    Err(_) => prop_assert_eq!(&r, &before),
                }
                let owner = r.owner.clone().unwrap();
                prop_assert!(!r.cohosts.contains(&owner));
                prop_assert!(r.cohosts.len() <= MAX_COHOSTS);
                prop_assert!(r.removed.len() <= MAX_REMOVED);
                prop_assert!(!r.is_removed(&owner, now));
                for c in &r.cohosts {
                    prop_assert!(!r.is_removed(c, now));
                }
            }
        }
    }
}
