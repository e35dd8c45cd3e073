//! A finding's status, common to every source.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ParseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Needs attention.
    Open,
    /// Accepted or archived by someone: still true, deliberately not acted on.
    Suppressed,
    /// Fixed, passed, closed, or gone from the source.
    Resolved,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Open, Status::Suppressed, Status::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Suppressed => "suppressed",
            Status::Resolved => "resolved",
        }
    }
}

impl FromStr for Status {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        Status::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| ParseError("expected one of open, suppressed, resolved".into()))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
        assert!("closed".parse::<Status>().is_err());
    }
}
