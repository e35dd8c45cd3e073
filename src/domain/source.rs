//! The five AWS services Sightline reads findings from.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ParseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    SecurityHub,
    GuardDuty,
    Inspector,
    Macie,
    AccessAnalyzer,
}

impl Source {
    pub const ALL: [Source; 5] = [
        Source::SecurityHub,
        Source::GuardDuty,
        Source::Inspector,
        Source::Macie,
        Source::AccessAnalyzer,
    ];

    /// The name used in config files, URLs, the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::SecurityHub => "securityhub",
            Source::GuardDuty => "guardduty",
            Source::Inspector => "inspector",
            Source::Macie => "macie",
            Source::AccessAnalyzer => "accessanalyzer",
        }
    }

    /// The name people know the service by, for pages.
    pub fn display_name(self) -> &'static str {
        match self {
            Source::SecurityHub => "Security Hub",
            Source::GuardDuty => "GuardDuty",
            Source::Inspector => "Inspector",
            Source::Macie => "Macie",
            Source::AccessAnalyzer => "IAM Access Analyzer",
        }
    }
}

impl FromStr for Source {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        Source::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| {
            ParseError(format!(
                "{s:?} is not a source: expected one of securityhub, guardduty, inspector, macie, accessanalyzer"
            ))
        })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in Source::ALL {
            assert_eq!(s.as_str().parse::<Source>().unwrap(), s);
        }
        assert!(
            "security-hub"
                .parse::<Source>()
                .unwrap_err()
                .0
                .contains("expected one of")
        );
    }
}
