//! Permanent rooms and their short names: pure rules, unit- and property-tested here.
//!
//! A room is *permanent* when its state carries a [`Permanence`]: the store then keeps every
//! key of the session without expiry (see the server's store), until the host makes it
//! temporary again or ends it. Only the room's host (its owner, not a co-host) may make it
//! permanent, temporary again, or end it; the room counts against the cap of the host who
//! made it permanent ([`Permanence::by`]).
//!
//! A permanent room may have a short name, an [`Alias`] (`/r/<alias>`): 3 to 40 characters of
//! `[a-z0-9-]`, no leading, trailing or double hyphen, compared case-insensitively (the
//! input is lower-cased first), not one of the [`RESERVED`] words. The room's random id stays
//! its primary address; the alias is only another way in.

use crate::rights::Kid;
use serde::{Deserialize, Serialize};

/// Shortest alias.
pub const ALIAS_MIN: usize = 3;
/// Longest alias.
pub const ALIAS_MAX: usize = 40;

/// Words that may not be aliases: every top-level route of the server and words that could
/// pass for an official page.
pub const RESERVED: &[&str] = &[
    "about",
    "admin",
    "api",
    "app",
    "assets",
    "auth",
    "config",
    "debug",
    "health",
    "healthz",
    "help",
    "home",
    "host",
    "index",
    "join",
    "login",
    "logout",
    "metrics",
    "new",
    "null",
    "pkg",
    "public",
    "r",
    "readyz",
    "root",
    "s",
    "settings",
    "signup",
    "static",
    "status",
    "support",
    "system",
    "test",
    "undefined",
    "watchparty",
    "ws",
    "www",
];

/// A validated, lower-cased room name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Alias(String);

/// Why a room name was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    /// Fewer than [`ALIAS_MIN`] or more than [`ALIAS_MAX`] characters.
    #[error("a room name has 3 to 40 characters")]
    Length,
    /// A character other than a letter, a digit or a hyphen.
    #[error("a room name uses only letters a-z, digits and hyphens")]
    Character,
    /// A hyphen at either end, or two in a row.
    #[error("a room name may not start or end with a hyphen or have two in a row")]
    Hyphen,
    /// One of the [`RESERVED`] words.
    #[error("this room name is reserved")]
    Reserved,
}

impl Alias {
    /// Normalises (trims, lower-cases) and validates `input`.
    pub fn parse(input: &str) -> Result<Self, AliasError> {
        let s = input.trim();
        // Bound the work before allocating (ASCII only, so bytes are characters).
        if s.len() > ALIAS_MAX * 4 {
            return Err(AliasError::Length);
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(AliasError::Character);
        }
        let s = s.to_ascii_lowercase();
        if !(ALIAS_MIN..=ALIAS_MAX).contains(&s.len()) {
            return Err(AliasError::Length);
        }
        if s.starts_with('-') || s.ends_with('-') || s.contains("--") {
            return Err(AliasError::Hyphen);
        }
        if RESERVED.contains(&s.as_str()) {
            return Err(AliasError::Reserved);
        }
        Ok(Alias(s))
    }

    /// The lower-case text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The room's short path, `/r/<alias>`.
    pub fn path(&self) -> String {
        format!("/r/{}", self.0)
    }
}

impl TryFrom<String> for Alias {
    type Error = AliasError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Alias::parse(&s)
    }
}

impl From<Alias> for String {
    fn from(a: Alias) -> String {
        a.0
    }
}

impl std::fmt::Display for Alias {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A permanent room's record in its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permanence {
    /// The host who made it permanent: the room counts against this key's cap.
    pub by: Kid,
    /// Its short name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<Alias>,
}

/// The refusal of a permanence change by a viewer who is not the room's host.
pub const NOT_OWNER: &str = "only the host can keep, release or end this room";

/// Whether `kid` may make the room permanent, temporary again, or end it: the owner only.
pub fn may_manage(rights: &crate::rights::Rights, kid: &Kid) -> bool {
    rights.is_owner(kid)
}

/// Makes the room permanent as `to` says (`None`: temporary again), asked by `kid`: the next
/// state (`revision + 1`), `Ok(None)` when it is so already, [`NOT_OWNER`] for anyone but the
/// room's host. The caps and the name's uniqueness are the store's part (the server checks
/// them before this change).
pub fn apply(
    state: &crate::playback::PlaybackState,
    to: Option<&Permanence>,
    kid: &Kid,
) -> Result<Option<crate::playback::PlaybackState>, &'static str> {
    if !may_manage(&state.rights, kid) {
        return Err(NOT_OWNER);
    }
    if state.permanent.as_ref() == to {
        return Ok(None);
    }
    Ok(Some(crate::playback::PlaybackState {
        permanent: to.cloned(),
        revision: state.revision + 1,
        playback_revision: state.playback_base(),
        ..state.clone()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::VideoId;
    use crate::playback::PlaybackState;
    use crate::rights::Rights;
    use proptest::prelude::*;

    fn kid(c: char) -> Kid {
        Kid::parse(&c.to_string().repeat(32)).unwrap()
    }

    #[test]
    fn only_the_owner_changes_permanence_and_it_is_a_revision() {
        let mut s = PlaybackState::new(VideoId::parse("dQw4w9WgXcQ").unwrap(), 0.0, 0.0);
        s.rights = Rights::owned_by(kid('a'));
        let p = Permanence {
            by: kid('a'),
            alias: Some(Alias::parse("Friday").unwrap()),
        };
        assert_eq!(apply(&s, Some(&p), &kid('b')), Err(NOT_OWNER));
        let next = apply(&s, Some(&p), &kid('a')).unwrap().unwrap();
        assert_eq!(next.revision, s.revision + 1);
        assert_eq!(next.permanent.as_ref(), Some(&p));
        assert_eq!(next.position, s.position);
        assert_eq!(apply(&next, Some(&p), &kid('a')), Ok(None));
        let back = apply(&next, None, &kid('a')).unwrap().unwrap();
        assert_eq!(back.permanent, None);
        // Round trip through JSON (old documents have no field).
        let json = serde_json::to_string(&next).unwrap();
        assert!(json.contains(r#""permanent":{"by":"#), "{json}");
        let again: PlaybackState = serde_json::from_str(&json).unwrap();
        assert_eq!(again, next);
        assert!(!serde_json::to_string(&back).unwrap().contains("permanent"));
    }

    #[test]
    fn names_are_normalised_and_validated() {
        assert_eq!(
            Alias::parse("Friday-Movies").unwrap().as_str(),
            "friday-movies"
        );
        assert_eq!(Alias::parse("  abc ").unwrap().as_str(), "abc");
        assert_eq!(Alias::parse("ab"), Err(AliasError::Length));
        assert_eq!(Alias::parse(&"a".repeat(41)), Err(AliasError::Length));
        assert!(Alias::parse(&"a".repeat(40)).is_ok());
        assert_eq!(Alias::parse("-abc"), Err(AliasError::Hyphen));
        assert_eq!(Alias::parse("abc-"), Err(AliasError::Hyphen));
        assert_eq!(Alias::parse("ab--c"), Err(AliasError::Hyphen));
        assert_eq!(Alias::parse("ab c"), Err(AliasError::Character));
        assert_eq!(Alias::parse("ab_c"), Err(AliasError::Character));
        assert_eq!(Alias::parse("café"), Err(AliasError::Character));
        assert_eq!(Alias::parse("a/b"), Err(AliasError::Character));
        assert_eq!(Alias::parse("API"), Err(AliasError::Reserved));
        assert_eq!(Alias::parse("metrics"), Err(AliasError::Reserved));
        assert_eq!(
            Alias::parse("Friday-Movies").unwrap().path(),
            "/r/friday-movies"
        );
    }

    #[test]
    fn serde_validates() {
        let a: Alias = serde_json::from_str(r#""abc-1""#).unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), r#""abc-1""#);
        assert!(serde_json::from_str::<Alias>(r#""a""#).is_err());
    }

    #[test]
    fn reserved_words_are_themselves_valid_shapes_and_lower_case() {
        for w in RESERVED {
            assert_eq!(w.to_ascii_lowercase(), *w);
        }
    }

    proptest! {
        #[test]
        fn any_accepted_name_is_canonical(s in "\\PC{0,60}") {
            if let Ok(a) = Alias::parse(&s) {
                let t = a.as_str();
                prop_assert!((ALIAS_MIN..=ALIAS_MAX).contains(&t.len()));
                prop_assert!(t.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-')));
                prop_assert!(!t.starts_with('-') && !t.ends_with('-') && !t.contains("--"));
                prop_assert!(!RESERVED.contains(&t));
                // Parsing is idempotent and case-insensitive.
                prop_assert_eq!(Alias::parse(t), Ok(a.clone()));
                prop_assert_eq!(Alias::parse(&t.to_ascii_uppercase()), Ok(a));
            }
        }

        #[test]
        fn well_formed_names_are_accepted(s in "[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,3}") {
            let ok = s.len() >= ALIAS_MIN && !RESERVED.contains(&s.as_str());
            prop_assert_eq!(Alias::parse(&s).is_ok(), ok);
        }
    }
}
