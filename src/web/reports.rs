//! `/reports/monthly?month=YYYY-MM`: one month of trends on a printable page (the print
//! stylesheet drops the navigation and breaks pages between sections), with the month's
//! headline numbers first. The sections are the trends page's.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::{Datelike, Months, NaiveDate, Utc};

use super::error::PageError;
use super::format::Count;
use super::trends::{self, TrendQuery, TrendSections};
use super::{AppState, Chrome, Viewer, render};

/// A calendar month, from `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    pub first: NaiveDate,
}

impl Month {
    pub fn parse(s: &str) -> Option<Self> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let first = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)?;
        Some(Self { first })
    }

    /// The last full month before `today`'s.
    pub fn last_full(today: NaiveDate) -> Self {
        let this = today.with_day(1).unwrap_or(today);
        Self {
            first: this - Months::new(1),
        }
    }

    pub fn last(self) -> NaiveDate {
        (self.first + Months::new(1))
            .pred_opt()
            .unwrap_or(self.first)
    }

    pub fn key(self) -> String {
        self.first.format("%Y-%m").to_string()
    }

    pub fn name(self) -> String {
        self.first.format("%B %Y").to_string()
    }
}

/// Reads `?month=`: absent means the last full month; a later month than today's is refused.
pub fn parse_month(query: &str, today: NaiveDate) -> Result<Month, PageError> {
    let mut month = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim();
        match key.as_ref() {
            "month" if value.is_empty() => {}
            "month" => {
                let m = Month::parse(value).ok_or_else(|| {
                    PageError::BadRequest(format!(
                        "month: {value:?} is not a month: expected YYYY-MM, e.g. {}",
                        Month::last_full(today).key()
                    ))
                })?;
                if m.first > today {
                    return Err(PageError::BadRequest(format!(
                        "month: {} has not started yet",
                        m.key()
                    )));
                }
                month = Some(m);
            }
            other => {
                return Err(PageError::BadRequest(format!(
                    "{other}: not a parameter of this page: expected month"
                )));
            }
        }
    }
    Ok(month.unwrap_or_else(|| Month::last_full(today)))
}

/// A headline number; `None` when no rollup covers the day.
pub struct Headline {
    pub label: &'static str,
    pub key: &'static str,
    pub value: Option<Count>,
    pub note: String,
}

#[derive(Template)]
#[template(path = "report_monthly.html")]
struct MonthlyReport {
    chrome: Chrome,
    month: String,
    from: String,
    to: String,
    partial: bool,
    prev: String,
    next: Option<String>,
    headlines: Vec<Headline>,
    t: TrendSections,
    generated: String,
}

pub async fn show_monthly_report(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let now = Utc::now();
    let today = now.date_naive();
    let month = parse_month(query.as_deref().unwrap_or(""), today)?;
    let (from, to) = (month.first, month.last().min(today));
    let q = TrendQuery::parse(&format!("from={from}&to={to}"), today)?;
    let data = trends::load(&state, from, to, &q.filter()).await?;

    let open = trends::pivot_open(&data.open);
    let at = |d: NaiveDate| {
        open.iter()
            .find(|(day, _)| *day == d)
            .map(|(_, t)| Count(t.total()))
    };
    let open_end = at(to).or_else(|| open.last().map(|(_, t)| Count(t.total())));
    let past_sla = data.sla.last().map(|p| Count(p.past_sla));
    let past_sla_note = data
        .sla
        .last()
        .map(|p| {
            format!(
                "{} of {} open on {}",
                trends::percent(trends::share(p.past_sla, p.open)),
                Count(p.open),
                trends::long_date(p.date)
            )
        })
        .unwrap_or_default();

    // Counts of a past month have no findings list to link to: the list shows today.
    let scope = (to == today)
        .then(|| q.findings_scope(&data.accounts))
        .flatten();
    let t = TrendSections::build(&q, data, &state.site.sla, scope.as_deref(), q.to_query());
    let headlines = vec![
        Headline {
            label: "Open at month start",
            key: "open-start",
            value: at(from),
            note: trends::long_date(from),
        },
        Headline {
            label: "Open at month end",
            key: "open-end",
            value: open_end,
            note: trends::long_date(to),
        },
        Headline {
            label: "New",
            key: "new",
            value: Some(t.flow_new),
            note: format!("{} reopened", t.flow_reopened),
        },
        Headline {
            label: "Resolved",
            key: "resolved",
            value: Some(t.flow_resolved),
            note: String::new(),
        },
        Headline {
            label: "Past SLA",
            key: "past-sla",
            value: past_sla,
            note: past_sla_note,
        },
    ];
    let next = month.first + Months::new(1);
    render(&MonthlyReport {
        chrome: Chrome::for_viewer("trends", viewer),
        month: month.name(),
        from: trends::long_date(from),
        to: trends::long_date(to),
        partial: to < month.last(),
        prev: Month {
            first: month.first - Months::new(1),
        }
        .key(),
        next: (next <= today).then(|| Month { first: next }.key()),
        headlines,
        t,
        generated: now.format("%Y-%m-%d %H:%M UTC").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn months_parse_and_default_to_the_last_full_one() {
        let today = day("2026-03-15");
        assert_eq!(parse_month("", today).unwrap().key(), "2026-02");
        assert_eq!(
            parse_month("month=2026-02", today).unwrap().last(),
            day("2026-02-28")
        );
        assert_eq!(Month::last_full(day("2026-01-01")).key(), "2025-12");
        assert_eq!(
            parse_month("month=2026-03", today).unwrap().key(),
            "2026-03"
        );
        for bad in [
            "month=2026-13",
            "month=2026-4",
            "month=march",
            "month=2026-04",
            "x=1",
        ] {
            assert!(
                matches!(parse_month(bad, today), Err(PageError::BadRequest(_))),
                "{bad}"
            );
        }
    }
}
