//! Severity: one five-step scale that every source's own scale maps onto.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ParseError;

/// Ordered from least to most severe, so `max()` and sorting mean "worst".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Most severe first: the order pages and reports list them in.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// GuardDuty's 0–10 score: ≥ 9 critical, ≥ 7 high, ≥ 4 medium, else low (DESIGN.md).
    pub fn from_guardduty_score(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            _ => Severity::Low,
        }
    }

    /// A label as the AWS services spell it (`CRITICAL`, `High`, `UNTRIAGED`, …).
    /// Inspector's `UNTRIAGED` is informational; an unknown label is `None`.
    pub fn from_aws_label(label: &str) -> Option<Severity> {
        match label.to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "high" => Some(Severity::High),
            "medium" => Some(Severity::Medium),
            "low" => Some(Severity::Low),
            "informational" | "untriaged" => Some(Severity::Informational),
            _ => None,
        }
    }
}

impl FromStr for Severity {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                ParseError("expected one of critical, high, medium, low, informational".into())
            })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guardduty_scale() {
        let cases = [
            (10.0, Severity::Critical),
            (9.0, Severity::Critical),
            (8.9, Severity::High),
            (7.0, Severity::High),
            (6.9, Severity::Medium),
            (4.0, Severity::Medium),
            (3.9, Severity::Low),
            (0.0, Severity::Low),
        ];
        for (score, want) in cases {
            assert_eq!(Severity::from_guardduty_score(score), want, "score {score}");
        }
    }

    #[test]
    fn parse_and_order() {
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), s);
        }
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Informational);
        assert_eq!(
            "bogus".parse::<Severity>().unwrap_err().0,
            "expected one of critical, high, medium, low, informational"
        );
        assert_eq!(
            Severity::from_aws_label("UNTRIAGED"),
            Some(Severity::Informational)
        );
        assert_eq!(Severity::from_aws_label("High"), Some(Severity::High));
        assert_eq!(Severity::from_aws_label("FATAL"), None);
    }
}
