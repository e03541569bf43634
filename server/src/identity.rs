//! Viewer identity: the private key a browser presents in the WebSocket handshake and the public
//! id ([`Kid`]) derived from it (see `watchparty_core::rights`).
//!
//! The key travels as a subprotocol token `k.<key>` next to [`PROTOCOL`] (browsers cannot set
//! other headers on a WebSocket; a query parameter would land in access logs). The server
//! answers with [`PROTOCOL`] only. A client without a (valid) key gets a random id for that
//! connection: it can watch and, in an open room, control, but cannot be a host and its
//! removal lasts only that connection.

use sha2::{Digest, Sha256};
use watchparty_core::rights::{is_valid_key, Kid};

/// Prefix of the key token among the offered subprotocols.
pub use watchparty_core::protocol::KEY_PROTOCOL_PREFIX as KEY_PREFIX;
/// The subprotocol the server speaks (the browser's and `early.js`'s, from the same constant).
pub use watchparty_core::protocol::SUBPROTOCOL as PROTOCOL;

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The public id of a private key: the first 128 bits of its SHA-256, hex.
pub fn kid_of(key: &str) -> Kid {
    let digest = Sha256::digest(key.as_bytes());
    // 32 lowercase hex digits always parse.
    Kid::parse(&hex(&digest[..16])).unwrap_or_else(|_| random_kid())
}

/// A fresh random private key (a host secret): 32 hex digits (128 bits).
pub fn random_key() -> String {
    hex(&rand::random::<[u8; 16]>())
}

/// A random public id for a connection that presented no key.
pub fn random_kid() -> Kid {
    kid_of(&random_key())
}

/// The key among the offered subprotocols (`Sec-WebSocket-Protocol: wp1, k.<key>`), if valid.
pub fn key_from_protocols(header: Option<&str>) -> Option<&str> {
    header?
        .split(',')
        .map(str::trim)
        .filter_map(|t| t.strip_prefix(KEY_PREFIX))
        .find(|k| is_valid_key(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_are_stable_and_distinct() {
        let a = random_key();
        assert_eq!(a.len(), 32);
        assert!(is_valid_key(&a));
        assert_eq!(kid_of(&a), kid_of(&a));
        assert_ne!(kid_of(&a), kid_of(&random_key()));
        // SHA-256("abc") starts with ba7816bf8f01cfea414140de5dae2223.
        assert_eq!(kid_of("abc").as_str(), "ba7816bf8f01cfea414140de5dae2223");
    }

    #[test]
    fn the_key_is_found_among_the_protocols() {
        let k = "0123456789abcdef0123456789abcdef";
        assert_eq!(key_from_protocols(Some(&format!("wp1, k.{k}"))), Some(k));
        assert_eq!(key_from_protocols(Some("wp1")), None);
        assert_eq!(key_from_protocols(Some("wp1, k.short")), None);
        assert_eq!(key_from_protocols(None), None);
    }
}
