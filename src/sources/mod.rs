//! The five AWS sources of findings, and the three the baseline reads (`cloudtrail`, `s3`,
//! `organizations`). The five sources: for each, how to read a page of findings and how to map one finding,
//! exactly as AWS sent it, to a [`Finding`](crate::domain::Finding).
//!
//! Normalisers work on the raw JSON of each finding (the same bytes Sightline stores), so what
//! a page shows and what the raw view shows can never disagree. They are pure and are tested
//! on the real response bodies in `fixtures/aws/`.

pub mod accessanalyzer;
pub mod cloudtrail;
pub mod guardduty;
pub mod inspector;
pub mod macie;
pub mod members;
pub mod organizations;
pub mod s3;
pub mod securityhub;

use aws_config::SdkConfig;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::{AccountId, Region};
use crate::poller::clients::Clients;
use crate::poller::errors::{CallError, FailureKind};
use crate::poller::sink::Normalised;

/// One poll target as a source reads it.
pub struct TargetCtx<'a> {
    pub clients: &'a Clients,
    /// Credentials of the account's role, in the target's region.
    pub sdk: SdkConfig,
    pub account: AccountId,
    pub region: Region,
    /// Read what changed since then; `None` reads everything (a full sweep).
    pub since: Option<DateTime<Utc>>,
    /// When this poll started: every finding read is "seen" at this time.
    pub seen_at: DateTime<Utc>,
    /// `account` is the delegated administrator: read every member's findings through it.
    pub delegated_admin: bool,
}

impl TargetCtx<'_> {
    /// Waits for the rate limit of `operation` in this account and region.
    pub async fn pace(&self, operation: &str, pace: crate::poller::clients::Pace) {
        self.clients
            .pace(&self.account, self.region.as_str(), operation, pace)
            .await;
    }
}

/// What a source's own status call said about it in this account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enabled {
    Yes,
    No(String),
    /// An answer that is neither: recorded as `unknown` coverage, not a crash.
    Unknown(String),
}

impl Enabled {
    /// The coverage state it is recorded as, with its message.
    pub fn coverage(self) -> (&'static str, String) {
        match self {
            Enabled::Yes => ("enabled", String::new()),
            Enabled::No(m) => ("not_enabled", m),
            Enabled::Unknown(m) => ("unknown", m),
        }
    }
}

/// A status call's failure that means "not enabled" is an answer, not an error.
fn not_enabled_or(err: CallError) -> Result<Enabled, CallError> {
    if err.kind == FailureKind::NotEnabled {
        Ok(Enabled::No(err.message))
    } else {
        Err(err)
    }
}

/// Normalises every finding of a raw page array, keeping the failures raw.
fn normalise_all(
    items: Option<&Vec<Value>>,
    f: impl Fn(&Value) -> Result<crate::domain::Finding, NormaliseError>,
) -> Vec<Normalised> {
    items
        .into_iter()
        .flatten()
        .map(|raw| f(raw).map_err(|e| (raw.clone(), e.0)))
        .collect()
}

/// The token of the next page: a listing ends with no token, or (GuardDuty) an empty one.
fn next_page(token: Option<&str>) -> Option<String> {
    token.filter(|t| !t.is_empty()).map(str::to_owned)
}

/// ISO-8601 as the services' filters take it.
fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A finding that could not be mapped: kept raw and counted, never dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NormaliseError(pub String);

/// A required string at a JSON pointer (`/Severity/Label`).
fn text<'a>(raw: &'a Value, pointer: &str) -> Result<&'a str, NormaliseError> {
    raw.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            NormaliseError(format!(
                "missing {}",
                pointer.trim_start_matches('/').replace('/', ".")
            ))
        })
}

/// An optional non-empty string at a JSON pointer.
fn opt_text(raw: &Value, pointer: &str) -> Option<String> {
    raw.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn account(raw: &Value, pointer: &str) -> Result<AccountId, NormaliseError> {
    let s = text(raw, pointer)?;
    s.parse()
        .map_err(|e: crate::domain::ParseError| NormaliseError(e.0))
}

fn region(s: &str) -> Result<Region, NormaliseError> {
    s.parse()
        .map_err(|e: crate::domain::ParseError| NormaliseError(e.0))
}

/// A timestamp as the services send it: an ISO-8601 string (Security Hub, GuardDuty, Macie,
/// Access Analyzer) or epoch seconds as a JSON number, possibly in exponent notation
/// (Inspector, CloudTrail).
fn time(raw: &Value, pointer: &str) -> Result<DateTime<Utc>, NormaliseError> {
    let name = || pointer.trim_start_matches('/').replace('/', ".");
    match raw.pointer(pointer) {
        Some(Value::String(s)) => parse_time(s)
            .ok_or_else(|| NormaliseError(format!("{}: {s:?} is not a timestamp", name()))),
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(|secs| DateTime::from_timestamp_millis((secs * 1000.0).round() as i64))
            .ok_or_else(|| NormaliseError(format!("{}: {n} is not a timestamp", name()))),
        _ => Err(NormaliseError(format!("missing {}", name()))),
    }
}

/// ISO-8601 with or without fractional seconds or offset (`2020-09-30T11:56:49Z`,
/// `2018-05-11T14:56:39.976Z`, `2024-01-01T10:00:00+02:00`).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// The region inside an ARN (`arn:aws:inspector2:eu-central-1:…`).
fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

#[cfg(test)]
pub(crate) mod fixtures {
    use serde_json::Value;

    pub fn load(name: &str) -> Value {
        let path = format!("{}/fixtures/aws/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_ends_on_a_missing_or_empty_token() {
        assert_eq!(next_page(Some("abc")), Some("abc".to_owned()));
        assert_eq!(next_page(Some("")), None);
        assert_eq!(next_page(None), None);
    }

    #[test]
    fn timestamps_in_every_wire_form() {
        let v = serde_json::json!({"a": "2020-09-30T11:56:49Z", "b": "2018-05-11T14:56:39.976Z", "c": 1694200050.366, "d": 1.454022144869E9, "e": "soon", "f": "2024-01-01T10:00:00+02:00"});
        assert_eq!(
            time(&v, "/a").unwrap().to_rfc3339(),
            "2020-09-30T11:56:49+00:00"
        );
        assert_eq!(
            time(&v, "/b").unwrap().timestamp_millis(),
            1_526_050_599_976
        );
        assert_eq!(
            time(&v, "/c").unwrap().timestamp_millis(),
            1_694_200_050_366
        );
        assert_eq!(
            time(&v, "/d").unwrap().timestamp_millis(),
            1_454_022_144_869
        );
        assert_eq!(
            time(&v, "/e").unwrap_err().0,
            "e: \"soon\" is not a timestamp"
        );
        assert_eq!(
            time(&v, "/f").unwrap().to_rfc3339(),
            "2024-01-01T08:00:00+00:00"
        );
        assert_eq!(time(&v, "/x/y").unwrap_err().0, "missing x.y");
    }
}
