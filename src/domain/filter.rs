//! What a findings list is asked for, parsed once from a query string and shared by the pages,
//! the CSV/JSON export and the API: the filter, the sort, the keyset cursor and the page size.
//!
//! Every value is checked here, so a bad one answers a 400 that names the parameter and the
//! allowed values. A parameter may repeat (`severity=high&severity=critical`) or list values
//! with commas (`severity=high,critical`); empty values (an untouched form field) are ignored.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{AccountId, Region, Severity, Source, Status};

/// A query parameter that could not be accepted, with a message fit for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct FilterError {
    pub param: String,
    pub message: String,
}

impl FilterError {
    fn new(param: &str, message: impl Into<String>) -> Self {
        Self {
            param: param.to_owned(),
            message: message.into(),
        }
    }
}

/// Which findings to show. An empty list means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingFilter {
    pub accounts: Vec<AccountId>,
    pub regions: Vec<Region>,
    pub sources: Vec<Source>,
    pub severities: Vec<Severity>,
    pub statuses: Vec<Status>,
    pub resource_types: Vec<String>,
    pub environments: Vec<String>,
    /// Free text, matched case-insensitively against title, resource and type.
    pub q: Option<String>,
    /// Only findings the source changed at or after this instant.
    pub updated_since: Option<DateTime<Utc>>,
}

impl FindingFilter {
    /// The filter as query-string pairs, in a fixed order (for links and cursors' pages).
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        fn join<T: fmt::Display>(items: &[T]) -> String {
            items
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        }
        let mut pairs = vec![
            ("account", join(&self.accounts)),
            ("region", join(&self.regions)),
            ("source", join(&self.sources)),
            ("severity", join(&self.severities)),
            ("status", join(&self.statuses)),
            ("resource_type", self.resource_types.join(",")),
            ("environment", self.environments.join(",")),
            ("q", self.q.clone().unwrap_or_default()),
        ];
        if let Some(t) = self.updated_since {
            pairs.push((
                "updated_since",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ));
        }
        pairs.retain(|(_, v)| !v.is_empty());
        pairs
    }

    /// True when nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.to_pairs().is_empty()
    }
}

/// The order of a findings list. Each is a total order that ends in the id, so keyset
/// pagination never skips or repeats a row that does not change while it is walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Most severe first, then most recently changed (the pages' default).
    #[default]
    Severity,
    /// Most recently changed first.
    Updated,
    /// By id: an order no update can change, for consumers that walk everything (the API's
    /// default), so each finding is returned exactly once even while the poller writes.
    Id,
}

impl Sort {
    pub const NAMES: &'static str = "severity, updated, id";

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Severity => "severity",
            Sort::Updated => "updated",
            Sort::Id => "id",
        }
    }

    fn parse(s: &str) -> Result<Self, FilterError> {
        match s {
            "severity" => Ok(Sort::Severity),
            "updated" => Ok(Sort::Updated),
            "id" => Ok(Sort::Id),
            _ => Err(FilterError::new(
                "sort",
                format!("{s:?} is not a sort order: expected one of {}", Sort::NAMES),
            )),
        }
    }
}

/// Where the next page starts: the sort key of the last row shown. Opaque to clients (hex of a
/// versioned text form); anything that does not decode to a valid key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub sort: Sort,
    pub severity: Severity,
    pub updated_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        hex::encode(format!(
            "v1|{}|{}|{}|{}",
            self.sort.as_str(),
            self.severity,
            self.updated_at.timestamp_micros(),
            self.id
        ))
    }

    pub fn decode(s: &str) -> Result<Self, FilterError> {
        let bad = || {
            FilterError::new(
                "cursor",
                "not a cursor this server issued: pass next_cursor back unchanged",
            )
        };
        let bytes = hex::decode(s).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let parts: Vec<&str> = text.split('|').collect();
        let [version, sort, severity, micros, id] = parts.as_slice() else {
            return Err(bad());
        };
        if *version != "v1" {
            return Err(bad());
        }
        Ok(Self {
            sort: Sort::parse(sort).map_err(|_| bad())?,
            severity: severity.parse().map_err(|_| bad())?,
            updated_at: micros
                .parse::<i64>()
                .ok()
                .and_then(DateTime::from_timestamp_micros)
                .ok_or_else(bad)?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

/// A findings list request: filter, order, where to start, how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub filter: FindingFilter,
    pub sort: Sort,
    pub cursor: Option<Cursor>,
    pub limit: u32,
}

/// What a caller accepts beyond the filter: the default sort, the default and largest page.
#[derive(Debug, Clone, Copy)]
pub struct ListRules {
    pub default_sort: Sort,
    pub default_limit: u32,
    pub max_limit: u32,
    /// Extra parameters the caller handles itself (e.g. `include`); accepted, not parsed here.
    pub extra: &'static [&'static str],
}

const PARAMS: &str = "account, region, source, severity, status, resource_type, environment, q, updated_since, sort, cursor, limit";

/// Refuses text a person cannot have meant and Postgres cannot store: control characters
/// (a NUL byte in a query string would otherwise reach the database and fail there).
pub fn check_text(param: &str, value: &str) -> Result<(), FilterError> {
    if value.chars().any(char::is_control) {
        return Err(FilterError::new(
            param,
            "contains a control character; expected printable text",
        ));
    }
    Ok(())
}

/// Parses a raw query string (without the `?`).
pub fn parse_list_request(query: &str, rules: ListRules) -> Result<ListRequest, FilterError> {
    let mut filter = FindingFilter::default();
    let mut sort = None;
    let mut cursor = None;
    let mut limit = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        check_text(&key, value)?;
        let values = || value.split(',').map(str::trim).filter(|v| !v.is_empty());
        match key.as_ref() {
            "account" => {
                for v in values() {
                    filter.accounts.push(
                        v.parse()
                            .map_err(|e: super::ParseError| FilterError::new("account", e.0))?,
                    );
                }
            }
            "region" => {
                for v in values() {
                    filter.regions.push(
                        v.parse()
                            .map_err(|e: super::ParseError| FilterError::new("region", e.0))?,
                    );
                }
            }
            "source" => {
                for v in values() {
                    filter.sources.push(v.parse().map_err(|_| {
                        FilterError::new(
                            "source",
                            format!("{v:?}: expected one of securityhub, guardduty, inspector, macie, accessanalyzer"),
                        )
                    })?);
                }
            }
            "severity" => {
                for v in values() {
                    filter.severities.push(v.parse().map_err(|_| {
                        FilterError::new(
                            "severity",
                            "expected one of critical, high, medium, low, informational",
                        )
                    })?);
                }
            }
            "status" => {
                for v in values() {
                    filter.statuses.push(v.parse().map_err(|_| {
                        FilterError::new("status", "expected one of open, suppressed, resolved")
                    })?);
                }
            }
            "resource_type" => filter.resource_types.extend(values().map(str::to_owned)),
            "environment" => filter.environments.extend(values().map(str::to_owned)),
            "q" => {
                if value.chars().count() > 200 {
                    return Err(FilterError::new("q", "at most 200 characters"));
                }
                filter.q = Some(value.to_owned());
            }
            "updated_since" => filter.updated_since = Some(parse_instant(value)?),
            "sort" => sort = Some(Sort::parse(value)?),
            "cursor" => cursor = Some(Cursor::decode(value)?),
            "limit" => {
                let n: u32 = value.parse().map_err(|_| {
                    FilterError::new(
                        "limit",
                        format!("expected a whole number from 1 to {}", rules.max_limit),
                    )
                })?;
                if n == 0 || n > rules.max_limit {
                    return Err(FilterError::new(
                        "limit",
                        format!("expected a whole number from 1 to {}", rules.max_limit),
                    ));
                }
                limit = Some(n);
            }
            other if rules.extra.contains(&other) => {}
            other => {
                return Err(FilterError::new(
                    other,
                    format!("unknown parameter: expected one of {PARAMS}"),
                ));
            }
        }
    }
    let sort = sort.unwrap_or(rules.default_sort);
    if let Some(c) = cursor
        && c.sort != sort
    {
        return Err(FilterError::new(
            "cursor",
            format!(
                "this cursor continues a list sorted by {}, not by {}",
                c.sort.as_str(),
                sort.as_str()
            ),
        ));
    }
    Ok(ListRequest {
        filter,
        sort,
        cursor,
        limit: limit.unwrap_or(rules.default_limit),
    })
}

/// An instant: RFC 3339 (`2026-11-27T09:00:00Z`) or a date (`2026-11-27`, midnight UTC).
fn parse_instant(value: &str) -> Result<DateTime<Utc>, FilterError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    Err(FilterError::new(
        "updated_since",
        format!(
            "{value:?}: expected an RFC 3339 time (2026-11-27T09:00:00Z) or a date (2026-11-27)"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: ListRules = ListRules {
        default_sort: Sort::Severity,
        default_limit: 50,
        max_limit: 500,
        extra: &[],
    };

    #[test]
    fn parses_every_filter() {
        let r = parse_list_request(
            "account=111111111111,222222222222&region=eu-west-1&source=guardduty&severity=high&severity=critical&status=open&resource_type=AwsS3Bucket&environment=prod&q=public+bucket&updated_since=2026-11-01",
            PAGE,
        )
        .unwrap();
        assert_eq!(r.filter.accounts.len(), 2);
        assert_eq!(
            r.filter.severities,
            vec![Severity::High, Severity::Critical]
        );
        assert_eq!(r.filter.statuses, vec![Status::Open]);
        assert_eq!(r.filter.q.as_deref(), Some("public bucket"));
        assert_eq!(
            r.filter.updated_since.unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(r.sort, Sort::Severity);
        assert_eq!(r.limit, 50);
    }

    #[test]
    fn empty_values_are_ignored() {
        let r = parse_list_request("account=&q=&severity=&status=open", PAGE).unwrap();
        assert_eq!(r.filter.to_pairs(), vec![("status", "open".to_owned())]);
    }

    #[test]
    fn errors_name_the_parameter_and_the_allowed_values() {
        let e = parse_list_request("severity=bogus", PAGE).unwrap_err();
        assert_eq!(
            e.to_string(),
            "severity: expected one of critical, high, medium, low, informational"
        );
        assert_eq!(
            parse_list_request("account=12", PAGE).unwrap_err().param,
            "account"
        );
        assert_eq!(
            parse_list_request("limit=501", PAGE).unwrap_err().param,
            "limit"
        );
        assert_eq!(
            parse_list_request("limit=0", PAGE).unwrap_err().param,
            "limit"
        );
        assert_eq!(
            parse_list_request("sevrity=high", PAGE).unwrap_err().param,
            "sevrity"
        );
        assert_eq!(
            parse_list_request("updated_since=yesterday", PAGE)
                .unwrap_err()
                .param,
            "updated_since"
        );
    }

    #[test]
    fn cursors_round_trip_and_tampering_is_refused() {
        let c = Cursor {
            sort: Sort::Severity,
            severity: Severity::High,
            updated_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: Uuid::nil(),
        };
        let r = parse_list_request(&format!("cursor={}", c.encode()), PAGE).unwrap();
        assert_eq!(r.cursor, Some(c));
        for bad in [
            "zz",
            "00",
            &c.encode()[2..],
            &hex::encode("v2|severity|high|1|x"),
        ] {
            assert_eq!(
                parse_list_request(&format!("cursor={bad}"), PAGE)
                    .unwrap_err()
                    .param,
                "cursor"
            );
        }
        // A cursor continues only the order it came from.
        let e = parse_list_request(&format!("sort=id&cursor={}", c.encode()), PAGE).unwrap_err();
        assert_eq!(e.param, "cursor");
    }

    #[test]
    fn pairs_round_trip() {
        let r =
            parse_list_request("severity=critical,high&region=us-east-1&q=x%26y", PAGE).unwrap();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(r.filter.to_pairs())
            .finish();
        assert_eq!(parse_list_request(&query, PAGE).unwrap().filter, r.filter);
    }
}
