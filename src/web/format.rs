//! Display helpers for templates: counts with thousands separators, ages, and URLs that carry a
//! filter. Formatting lives here, not in templates, so every page writes numbers the same way.

use std::fmt;

use chrono::{DateTime, Utc};

/// A count shown to people: `12,345`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Count(pub i64);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.unsigned_abs().to_string();
        if self.0 < 0 {
            f.write_str("-")?;
        }
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                f.write_str(",")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// A count that may be a lower bound: `1,000+` when counting stopped at the cap (see
/// `db::findings_list::LIVE_COUNT_CAP`), `1,000` when it is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AtLeast {
    pub n: i64,
    /// More were not counted: the true count is `n` or more.
    pub capped: bool,
}

impl fmt::Display for AtLeast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Count(self.n), if self.capped { "+" } else { "" })
    }
}

/// How long ago, for people: `just now`, `5 min ago`, `3 h ago`, `2 days ago`.
pub fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    match secs {
        s if s < 60 => "just now".to_owned(),
        s if s < 3_600 => format!("{} min ago", s / 60),
        s if s < 172_800 => format!("{} h ago", s / 3_600),
        s => format!("{} days ago", s / 86_400),
    }
}

/// A timestamp for tables: `2026-11-27 04:39 UTC`.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `/findings?…` with the given filter pairs, percent-encoded; empty values are left out.
pub fn findings_url(pairs: &[(&str, &str)]) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        url.append_pair(k, v);
    }
    let query = url.finish();
    if query.is_empty() {
        "/findings".to_owned()
    } else {
        format!("/findings?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(Count(0).to_string(), "0");
        assert_eq!(Count(999).to_string(), "999");
        assert_eq!(Count(1_000).to_string(), "1,000");
        assert_eq!(Count(1_234_567).to_string(), "1,234,567");
        assert_eq!(Count(-12_345).to_string(), "-12,345");
    }

    #[test]
    fn capped_counts_say_so() {
        let n = |n, capped| AtLeast { n, capped }.to_string();
        assert_eq!(n(1_000, true), "1,000+");
        assert_eq!(n(1_000, false), "1,000");
        assert_eq!(n(12, true), "12+");
    }

    #[test]
    fn ages_read_naturally() {
        let now = Utc::now();
        assert_eq!(ago(now, now), "just now");
        assert_eq!(ago(now - chrono::Duration::minutes(5), now), "5 min ago");
        assert_eq!(ago(now - chrono::Duration::hours(3), now), "3 h ago");
        assert_eq!(ago(now - chrono::Duration::days(4), now), "4 days ago");
    }

    #[test]
    fn findings_urls_encode_and_skip_empty_values() {
        assert_eq!(findings_url(&[]), "/findings");
        assert_eq!(
            findings_url(&[("status", "open"), ("q", "a&b c"), ("region", "")]),
            "/findings?status=open&q=a%26b+c"
        );
    }
}
