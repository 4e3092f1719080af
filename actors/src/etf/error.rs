//! The error of converting between values and terms.

/// Why a value and a term did not fit each other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TermError(String);

impl TermError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        TermError(message.into())
    }
}

impl serde::ser::Error for TermError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        TermError(msg.to_string())
    }
}

impl serde::de::Error for TermError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        TermError(msg.to_string())
    }
}
