//! The normalised model every source maps into: pure types, no I/O.
//!
//! Each type can only hold a valid value; parsing is the one way in, so a bad account id or
//! severity dies at the edge (config, query string, AWS answer) with a message that says why.

pub mod console;
pub mod filter;
mod finding;
mod ids;
mod severity;
mod source;
mod status;

pub use finding::{CanonicalKey, Finding};
pub use ids::{AccountId, Region};
pub use severity::Severity;
pub use source::Source;
pub use status::Status;

/// A value that failed to parse, with a message fit to show the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);
