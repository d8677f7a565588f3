//! The text fields of a task, built only by validation: a [`NewTask`] or a
//! [`TaskPatch`] cannot hold a title or a description the API would refuse.
//!
//! [`NewTask`]: super::NewTask
//! [`TaskPatch`]: super::TaskPatch

use std::ops::Deref;

use super::{DESCRIPTION_MAX_CHARS, TITLE_MAX_CHARS};

/// A task's title: not blank, at most [`TITLE_MAX_CHARS`] characters as sent,
/// no NUL; kept trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    /// Checks a title as sent; the error says what is wrong with it.
    pub fn parse(sent: &str) -> Result<Self, String> {
        // The length counts what was sent (as the published schema's
        // maxLength does); blankness what remains after trimming.
        if sent.trim().is_empty() {
            Err("must not be blank".into())
        } else if sent.chars().count() > TITLE_MAX_CHARS {
            Err(format!("must be at most {TITLE_MAX_CHARS} characters"))
        } else if sent.contains('\0') {
            Err("must not contain NUL characters".into())
        } else {
            Ok(Self(sent.trim().to_string()))
        }
    }
}

/// A task's description: at most [`DESCRIPTION_MAX_CHARS`] characters, no
/// NUL; kept exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    /// Checks a description as sent; the error says what is wrong with it.
    pub fn parse(sent: String) -> Result<Self, String> {
        if sent.chars().count() > DESCRIPTION_MAX_CHARS {
            Err(format!(
                "must be at most {DESCRIPTION_MAX_CHARS} characters"
            ))
        } else if sent.contains('\0') {
            Err("must not contain NUL characters".into())
        } else {
            Ok(Self(sent))
        }
    }
}

impl Deref for Title {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Deref for Description {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<&str> for Title {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_trimmed_and_a_description_kept_as_sent() {
        assert_eq!(Title::parse("  Buy milk \n").unwrap(), "Buy milk");
        assert_eq!(&*Description::parse(" x ".into()).unwrap(), " x ");
    }

    #[test]
    fn each_refusal_says_why() {
        assert_eq!(Title::parse(" \t").unwrap_err(), "must not be blank");
        assert_eq!(
            Title::parse("a\0b").unwrap_err(),
            "must not contain NUL characters"
        );
        assert_eq!(
            Description::parse("d".repeat(DESCRIPTION_MAX_CHARS + 1)).unwrap_err(),
            "must be at most 10000 characters"
        );
    }
}
