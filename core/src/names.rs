//! Display names: a friendly generated one on first visit ("Calm Otter"), editable, validated
//! the same way by the browser (instant feedback) and the server (the check that counts).
//!
//! A valid name is 1..=[`MAX_NAME_CHARS`] characters after trimming, with runs of whitespace
//! collapsed to one space, and no control or bidirectional-override characters (which could
//! hide or reorder text around the name). Names are always rendered as text, never as HTML.

/// Default longest name, in characters (the server's `max_name_chars` setting).
pub const MAX_NAME_CHARS: usize = 32;

const ADJECTIVES: &[&str] = &[
    "Calm", "Brave", "Bright", "Clever", "Cosy", "Curious", "Eager", "Gentle", "Happy", "Jolly",
    "Kind", "Lively", "Lucky", "Merry", "Mellow", "Nimble", "Patient", "Quick", "Quiet", "Sunny",
    "Swift", "Witty", "Zesty", "Bold",
];
const ANIMALS: &[&str] = &[
    "Otter", "Fox", "Panda", "Heron", "Lynx", "Koala", "Puffin", "Badger", "Falcon", "Gecko",
    "Marten", "Beaver", "Robin", "Walrus", "Moose", "Hedgehog", "Owl", "Seal", "Tapir", "Wombat",
    "Yak", "Zebra", "Lemur", "Ibis",
];

/// Why a name was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing but whitespace.
    #[error("A name cannot be empty.")]
    Empty,
    /// Longer than the limit.
    #[error("A name can be at most {0} characters long.")]
    TooLong(usize),
    /// Control or bidirectional-override characters.
    #[error("A name cannot contain control characters.")]
    Control,
}

fn forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

/// Validates and normalises a name (trimmed, inner whitespace collapsed), at most `max_chars`.
pub fn validate_name(raw: &str, max_chars: usize) -> Result<String, NameError> {
    if raw
        .chars()
        .any(|c| forbidden(c) && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(NameError::Control);
    }
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > max_chars {
        return Err(NameError::TooLong(max_chars));
    }
    Ok(name)
}

/// A friendly name from random bits, e.g. "Calm Otter".
pub fn generate_name(random: u64) -> String {
    let a = ADJECTIVES[(random % ADJECTIVES.len() as u64) as usize];
    let b = ANIMALS[((random / ADJECTIVES.len() as u64) % ANIMALS.len() as u64) as usize];
    format!("{a} {b}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(validate_name("  Ana  ", 32), Ok("Ana".into()));
        assert_eq!(validate_name("Ana \t Maria", 32), Ok("Ana Maria".into()));
        assert_eq!(validate_name("   ", 32), Err(NameError::Empty));
        assert_eq!(validate_name("a\u{0}b", 32), Err(NameError::Control));
        assert_eq!(validate_name("a\u{202E}b", 32), Err(NameError::Control));
        assert_eq!(validate_name("a\u{7}", 32), Err(NameError::Control));
        assert_eq!(
            validate_name(&"x".repeat(33), 32),
            Err(NameError::TooLong(32))
        );
        assert_eq!(
            validate_name(&"é".repeat(32), 32).map(|n| n.chars().count()),
            Ok(32)
        );
        // Markup is just text (rendered as text everywhere).
        assert_eq!(validate_name("<b>Ben</b>", 32), Ok("<b>Ben</b>".into()));
        assert_eq!(generate_name(0), "Calm Otter");
    }

    proptest! {
        #[test]
        fn generated_names_are_valid(r: u64) {
            let n = generate_name(r);
            prop_assert_eq!(validate_name(&n, MAX_NAME_CHARS), Ok(n.clone()));
        }

        #[test]
        fn valid_names_are_normal_and_bounded(raw in "\\PC{0,60}", max in 1usize..40) {
            if let Ok(n) = validate_name(&raw, max) {
                prop_assert!(!n.is_empty() && n.chars().count() <= max);
                prop_assert!(!n.chars().any(forbidden));
                prop_assert_eq!(n.trim(), n.as_str());
                prop_assert_eq!(validate_name(&n, max), Ok(n.clone()));
            }
        }
    }
}
