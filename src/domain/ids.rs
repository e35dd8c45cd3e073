//! AWS account ids and region codes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ParseError;

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AccountId {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError(format!(
                "{s:?} is not a 12-digit AWS account id"
            )))
        }
    }
}

impl TryFrom<String> for AccountId {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        s.parse()
    }
}

impl From<AccountId> for String {
    fn from(id: AccountId) -> String {
        id.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An AWS region code such as `us-east-1`, `eu-central-2`, `us-gov-west-1` or `cn-north-1`.
///
/// Checked by shape (`<area>-[<partition>-]<direction>-<n>`), not against a fixed list, so a
/// region AWS opens next year needs no release of Sightline.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Region {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let parts: Vec<&str> = s.split('-').collect();
        let lower = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
        let ok = (3..=4).contains(&parts.len())
            && parts[0].len() == 2
            && lower(parts[0])
            && parts[1..parts.len() - 1].iter().all(|p| lower(p))
            && parts.last().is_some_and(|n| {
                !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit())
            });
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError(format!(
                "{s:?} is not an AWS region code (like \"us-east-1\")"
            )))
        }
    }
}

impl TryFrom<String> for Region {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        s.parse()
    }
}

impl From<Region> for String {
    fn from(r: Region) -> String {
        r.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids() {
        assert_eq!(
            "111111111111".parse::<AccountId>().unwrap().as_str(),
            "111111111111"
        );
        for bad in [
            "12345",
            "1111111111111",
            "11111111111a",
            "",
            " 111111111111",
        ] {
            let err = bad.parse::<AccountId>().unwrap_err();
            assert!(err.0.contains("is not a 12-digit AWS account id"), "{err}");
        }
        let err = "12345".parse::<AccountId>().unwrap_err();
        assert_eq!(err.0, r#""12345" is not a 12-digit AWS account id"#);
    }

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "ap-southeast-5",
            "us-gov-west-1",
            "cn-north-1",
            "il-central-1",
        ] {
            assert_eq!(ok.parse::<Region>().unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "useast1",
            "us-east-100",
            "us--1",
            "u-east-1",
            "us-east-1 ",
        ] {
            assert!(bad.parse::<Region>().is_err(), "{bad} should not parse");
        }
    }
}
