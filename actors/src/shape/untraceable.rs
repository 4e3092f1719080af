//! Why a type's shape could not be traced.

use serde::de;

/// Why a type's shape could not be read from its `Deserialize`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Untraceable {
    /// It asks for a self-describing format (`deserialize_any`).
    #[error("the type decodes whatever it finds (deserialize_any)")]
    Any,
    /// It refers to itself in a way no pass could cut.
    #[error("the type refers to itself where it cannot be cut")]
    Recursion,
    /// Its `Deserialize` refused a placeholder value.
    #[error("the type refused a placeholder: {0}")]
    Refused(String),
}

impl de::Error for Untraceable {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Untraceable::Refused(msg.to_string())
    }
}
