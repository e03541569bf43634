//! Identifiers: [`SessionId`] (random, unguessable, URL-safe) and [`VideoId`] (a YouTube video id).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Alphabet of session ids: URL-safe and unambiguous in a link.
const SESSION_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Length of a session id: 12 base62 chars = 71.4 bits of entropy.
pub const SESSION_ID_LEN: usize = 12;

/// A watch-party session id: 12 base62 characters (~71 bits of entropy).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

impl SessionId {
    /// Parses and validates a session id taken from a URL or a message.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.len() == SESSION_ID_LEN && s.bytes().all(|b| SESSION_ALPHABET.contains(&b)) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Session)
        }
    }

    /// A fresh random id from the thread-local CSPRNG (ChaCha, seeded by the OS).
    #[cfg(feature = "random")]
    pub fn random() -> Self {
        use rand::Rng;
        let mut rng = rand::rng();
        let id = (0..SESSION_ID_LEN)
            .map(|_| SESSION_ALPHABET[rng.random_range(0..SESSION_ALPHABET.len())] as char)
            .collect();
        Self(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SessionId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> Self {
        id.0
    }
}

/// A YouTube video id: exactly 11 characters of `[A-Za-z0-9_-]`. Stored inline (`Copy`), so
/// commands that carry one stay `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VideoId([u8; 11]);

impl VideoId {
    /// Validates a bare video id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        match <[u8; 11]>::try_from(s.as_bytes()) {
            Ok(bytes)
                if bytes
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                Ok(Self(bytes))
            }
            _ => Err(IdError::Video),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (checked by `parse`).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for VideoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for VideoId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<VideoId> for String {
    fn from(id: VideoId) -> Self {
        id.as_str().to_owned()
    }
}

/// An id failed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not 12 base62 characters.
    #[error("not a valid session id")]
    Session,
    /// Not 11 characters of `[A-Za-z0-9_-]`.
    #[error("not a valid YouTube video id")]
    Video,
}

/// A connection's id: random, below 2^53 so it survives JavaScript numbers.
pub type ConnId = u64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_validate() {
        assert!(SessionId::parse("abcDEF012345").is_ok());
        assert_eq!(SessionId::parse("abcDEF01234"), Err(IdError::Session));
        assert_eq!(SessionId::parse("abcDEF01234-"), Err(IdError::Session));
        assert_eq!(SessionId::parse(""), Err(IdError::Session));
    }

    #[cfg(feature = "random")]
    #[test]
    fn random_session_ids_are_valid_and_distinct() {
        let a = SessionId::random();
        let b = SessionId::random();
        assert!(SessionId::parse(a.as_str()).is_ok());
        assert_ne!(a, b);
    }

    #[test]
    fn video_ids_validate() {
        assert!(VideoId::parse("dQw4w9WgXcQ").is_ok());
        assert!(VideoId::parse("a-b_c-d_e-f").is_ok());
        assert_eq!(VideoId::parse("dQw4w9WgXc"), Err(IdError::Video));
        assert_eq!(VideoId::parse("dQw4w9WgXc!"), Err(IdError::Video));
        assert!(serde_json::from_str::<VideoId>("\"<script>x</s\"").is_err());
    }
}
