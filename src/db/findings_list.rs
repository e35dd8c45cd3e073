//! The findings list behind `/findings`, its exports and `/api/v1/findings`: one filter, three
//! keyset orders, and the total and facet counts of the current filter.
//!
//! The WHERE clause is built from the filter (`sqlx::QueryBuilder`, every value bound) rather
//! than written as one static query with `$1 IS NULL OR …` arms: the planner then sees only the
//! predicates in use and picks the index each combination needs. The column list and the order
//! are fixed here, and tests in `tests/it/findings_list.rs` run every filter against Postgres.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::filter::{Cursor, FindingFilter, ListRequest, Sort};

/// One row of the list: what a table, a CSV line or an API item shows.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedFinding {
    pub id: Uuid,
    pub account_id: String,
    pub account_name: Option<String>,
    pub region: String,
    pub source: String,
    pub severity: String,
    pub status: String,
    pub title: String,
    pub finding_type: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub control_id: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The services that reported it (`guardduty`, `securityhub`, …), sorted.
    pub reported_by: Vec<String>,
}

/// A page of the list and where the next one starts.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<ListedFinding>,
    pub next: Option<Cursor>,
}

const COLUMNS: &str = "SELECT f.id, f.account_id, a.name AS account_name, f.region, \
     f.source::text AS source, f.severity::text AS severity, f.status::text AS status, f.title, \
     f.finding_type, f.resource_type, f.resource_id, f.control_id, f.first_seen_at, \
     f.last_seen_at, f.updated_at, \
     ARRAY(SELECT jsonb_object_keys(f.provenance) ORDER BY 1) AS reported_by \
     FROM findings f LEFT JOIN accounts a ON a.id = f.account_id";

/// One finding as a list row, `None` when there is no such finding.
pub async fn one(pool: &PgPool, id: Uuid) -> Result<Option<ListedFinding>, sqlx::Error> {
    let mut qb = QueryBuilder::<Postgres>::new(COLUMNS);
    qb.push(" WHERE f.id = ").push_bind(id);
    qb.build_query_as().fetch_optional(pool).await
}

/// One page of findings matching the request, in its order, starting after its cursor.
pub async fn list(pool: &PgPool, request: &ListRequest) -> Result<ListPage, sqlx::Error> {
    let text = text_match(pool, &request.filter).await?;
    let mut qb = QueryBuilder::<Postgres>::new(COLUMNS);
    push_filter_with(&mut qb, &request.filter, text);
    if let Some(c) = &request.cursor {
        match request.sort {
            Sort::Severity => {
                qb.push(" AND (f.severity, f.updated_at, f.id) < (CAST(")
                    .push_bind(c.severity.as_str())
                    .push(" AS severity), ")
                    .push_bind(c.updated_at)
                    .push(", ")
                    .push_bind(c.id)
                    .push(")");
            }
            Sort::Updated => {
                qb.push(" AND (f.updated_at, f.id) < (")
                    .push_bind(c.updated_at)
                    .push(", ")
                    .push_bind(c.id)
                    .push(")");
            }
            Sort::Id => {
                qb.push(" AND f.id > ").push_bind(c.id);
            }
        }
    }
    qb.push(match request.sort {
        Sort::Severity => " ORDER BY f.severity DESC, f.updated_at DESC, f.id DESC",
        Sort::Updated => " ORDER BY f.updated_at DESC, f.id DESC",
        Sort::Id => " ORDER BY f.id",
    });
    qb.push(" LIMIT ").push_bind(i64::from(request.limit) + 1);
    let mut items: Vec<ListedFinding> = qb.build_query_as().fetch_all(pool).await?;
    let more = items.len() > request.limit as usize;
    items.truncate(request.limit as usize);
    let next = match items.last() {
        Some(last) if more => Some(Cursor {
            sort: request.sort,
            severity: last
                .severity
                .parse()
                .map_err(|e: crate::domain::ParseError| sqlx::Error::Decode(e.0.into()))?,
            updated_at: last.updated_at,
            id: last.id,
        }),
        _ => None,
    };
    Ok(ListPage { items, next })
}

/// How many findings match, and how they split by each dimension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    pub total: i64,
    pub severity: Vec<(String, i64)>,
    pub status: Vec<(String, i64)>,
    pub source: Vec<(String, i64)>,
    pub region: Vec<(String, i64)>,
    /// (account id, count), most findings first.
    pub account: Vec<(String, i64)>,
    /// Resource types, most findings first; `None` for findings without one.
    pub resource_type: Vec<(Option<String>, i64)>,
    /// When the counts come from `finding_counts`: its last refresh. `None`: counted live.
    pub as_of: Option<DateTime<Utc>>,
    /// Counted live and more than [`LIVE_COUNT_CAP`] findings match: `total` is the cap and
    /// every count is that of the first `LIVE_COUNT_CAP` matches found, a lower bound.
    pub capped: bool,
}

/// Live counts (free text, `updated_since`) stop at this many matches. Counting a common
/// word's 60,000 matches at a million findings took 250–500 ms a view; the first 1,000 take
/// 1–20 ms (BENCHMARKS.md, "Pages and API at 1,000,000 findings").
pub const LIVE_COUNT_CAP: i64 = 1_000;

#[derive(sqlx::FromRow)]
struct FacetRow {
    dimension: String,
    value: Option<String>,
    count: i64,
    /// The rows read (at most the cap and one more): tells whether the cap was reached.
    matched: i64,
}

/// The total and the facet counts of a filter, in one pass. A filter on dimensions only
/// (account, region, source, severity, status, resource type, environment) is summed from
/// `finding_counts`, as of its last refresh (`Facets::as_of`); free text and `updated_since`
/// need the findings themselves, counted live up to [`LIVE_COUNT_CAP`] (`Facets::capped`).
pub async fn facets(pool: &PgPool, filter: &FindingFilter) -> Result<Facets, sqlx::Error> {
    let from_counts = filter.q.is_none() && filter.updated_since.is_none();
    let grouping = "SELECT CASE \
           WHEN GROUPING(f.severity) = 0 THEN 'severity' \
           WHEN GROUPING(f.status) = 0 THEN 'status' \
           WHEN GROUPING(f.source) = 0 THEN 'source' \
           WHEN GROUPING(f.region) = 0 THEN 'region' \
           WHEN GROUPING(f.account_id) = 0 THEN 'account' \
           WHEN GROUPING(f.resource_type) = 0 THEN 'resource_type' \
           ELSE 'total' END AS dimension, \
         coalesce(f.severity::text, f.status::text, f.source::text, f.region, f.account_id, nullif(f.resource_type, '')) AS value, ";
    let mut qb = QueryBuilder::<Postgres>::new(grouping);
    if from_counts {
        qb.push(
            "coalesce(sum(f.n), 0)::bigint AS count, 0::bigint AS matched FROM finding_counts f",
        );
        push_filter(&mut qb, filter);
    } else {
        // The first matches found (numbered), and one more if there is one.
        let text = text_match(pool, filter).await?;
        let from =
            if text == TextMatch::Index && filter.q.is_some() && is_common(pool, filter).await? {
                "finding_search f"
            } else {
                "findings f"
            };
        qb.push("count(*) FILTER (WHERE f.n <= ")
            .push_bind(LIVE_COUNT_CAP)
            .push(") AS count, coalesce(max(f.n), 0) AS matched FROM (SELECT f.severity, f.status, f.source, f.region, f.account_id, f.resource_type, row_number() OVER () AS n FROM ")
            .push(from);
        push_filter_with(&mut qb, filter, text);
        qb.push(" LIMIT ").push_bind(LIVE_COUNT_CAP + 1).push(") f");
    }
    qb.push(
        " GROUP BY GROUPING SETS ((f.severity), (f.status), (f.source), (f.region), (f.account_id), (f.resource_type), ())",
    );
    let rows: Vec<FacetRow> = qb.build_query_as().fetch_all(pool).await?;
    let mut facets = Facets::default();
    if from_counts {
        facets.as_of = Some(super::counts::refreshed_at(pool).await?);
    }
    for row in rows {
        let value = row.value;
        match row.dimension.as_str() {
            "total" => {
                facets.total = row.count;
                facets.capped = row.matched > LIVE_COUNT_CAP;
            }
            // A value seen only past the cap.
            _ if row.count == 0 => {}
            "severity" => facets.severity.push((value.unwrap_or_default(), row.count)),
            "status" => facets.status.push((value.unwrap_or_default(), row.count)),
            "source" => facets.source.push((value.unwrap_or_default(), row.count)),
            "region" => facets.region.push((value.unwrap_or_default(), row.count)),
            "account" => facets.account.push((value.unwrap_or_default(), row.count)),
            _ => facets.resource_type.push((value, row.count)),
        }
    }
    // Severity from most to least severe; the rest by count, then name.
    let rank = |s: &str| {
        crate::domain::Severity::ALL
            .iter()
            .position(|v| v.as_str() == s)
            .unwrap_or(usize::MAX)
    };
    facets.severity.sort_by_key(|(s, _)| rank(s));
    for list in [
        &mut facets.status,
        &mut facets.source,
        &mut facets.region,
        &mut facets.account,
    ] {
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    facets
        .resource_type
        .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(facets)
}

/// Whether the planner expects a free-text filter to match at least 1 finding in 50 (and more
/// than the cap): then its first matches are counted from `finding_search`, read in order until
/// the cap (~650 of its pages for a word in 6% of a million findings: 8–10 ms). The planner
/// would take the trigram index on `findings` for it, which builds the bitmap of every match
/// first (25–37 ms); for a rarer filter that index is the fast way (1–16 ms), where a scan in
/// order would read most of the table. Only speed depends on the choice, not the counts.
async fn is_common(pool: &PgPool, filter: &FindingFilter) -> Result<bool, sqlx::Error> {
    let (expected, rows) = expected_matches(pool, filter).await?;
    Ok(expected > LIVE_COUNT_CAP as f64 && expected * 50.0 >= rows && rows > 0.0)
}

/// How many findings the planner expects `filter` to match in `finding_search`, and how many
/// rows it holds (-1 until the table is first analyzed).
async fn expected_matches(
    pool: &PgPool,
    filter: &FindingFilter,
) -> Result<(f64, f64), sqlx::Error> {
    let mut qb =
        QueryBuilder::<Postgres>::new("EXPLAIN (FORMAT JSON) SELECT 1 FROM finding_search f");
    push_filter(&mut qb, filter);
    let plan: serde_json::Value = qb.build_query_scalar().fetch_one(pool).await?;
    let expected = plan[0]["Plan"]["Plan Rows"].as_f64().unwrap_or(0.0);
    let rows: f32 =
        sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'finding_search'::regclass")
            .fetch_one(pool)
            .await?;
    Ok((expected, f64::from(rows)))
}

/// How the free text of a filter is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextMatch {
    /// As the planner likes: through the trigram index on `findings`, or row by row.
    Index,
    /// Row by row, the trigram index hidden from the planner.
    Recheck,
}

/// `Recheck` for a word found more than 10 times as often as the findings of the filter's
/// accounts: the trigram index builds the bitmap of every finding with the word first (0.36 µs
/// each: 600,820 at 10 million findings took 218 ms), where reading the accounts' own
/// findings through `findings_account_idx` and matching each costs about 3.6 µs a finding
/// (37,493: 136 ms for the page, 68 ms for the capped count; BENCHMARKS.md, "Pages and API at
/// 10,000,000 findings"). Below that ratio (a rare word, or a million findings where the word
/// is in 60,000 and the account has 18,700) the index is the faster. Both are estimated by the
/// planner. Only speed depends on the choice, not the answers.
pub async fn text_match(pool: &PgPool, filter: &FindingFilter) -> Result<TextMatch, sqlx::Error> {
    if filter.q.is_none() || filter.accounts.is_empty() {
        return Ok(TextMatch::Index);
    }
    let word = FindingFilter {
        q: filter.q.clone(),
        ..FindingFilter::default()
    };
    let accounts = FindingFilter {
        accounts: filter.accounts.clone(),
        ..FindingFilter::default()
    };
    let (with_word, rows) = expected_matches(pool, &word).await?;
    let (in_accounts, _) = expected_matches(pool, &accounts).await?;
    Ok(if rows > 0.0 && with_word > 10.0 * in_accounts {
        TextMatch::Recheck
    } else {
        TextMatch::Index
    })
}

/// Appends ` WHERE …` for the filter (always a WHERE, so callers can append ` AND …`).
fn push_filter(qb: &mut QueryBuilder<'_, Postgres>, filter: &FindingFilter) {
    push_filter_with(qb, filter, TextMatch::Index);
}

/// `push_filter`, with the free text matched as `text` says.
fn push_filter_with(qb: &mut QueryBuilder<'_, Postgres>, filter: &FindingFilter, text: TextMatch) {
    qb.push(" WHERE true");
    if !filter.accounts.is_empty() {
        let ids: Vec<String> = filter.accounts.iter().map(|a| a.to_string()).collect();
        qb.push(" AND f.account_id = ANY(").push_bind(ids).push(")");
    }
    if !filter.regions.is_empty() {
        let regions: Vec<String> = filter.regions.iter().map(|r| r.to_string()).collect();
        qb.push(" AND f.region = ANY(").push_bind(regions).push(")");
    }
    if !filter.sources.is_empty() {
        let v: Vec<String> = filter.sources.iter().map(|s| s.to_string()).collect();
        qb.push(" AND f.source = ANY(CAST(")
            .push_bind(v)
            .push(" AS finding_source[]))");
    }
    if !filter.severities.is_empty() {
        let v: Vec<String> = filter.severities.iter().map(|s| s.to_string()).collect();
        qb.push(" AND f.severity = ANY(CAST(")
            .push_bind(v)
            .push(" AS severity[]))");
    }
    if !filter.statuses.is_empty() {
        let v: Vec<String> = filter.statuses.iter().map(|s| s.to_string()).collect();
        qb.push(" AND f.status = ANY(CAST(")
            .push_bind(v)
            .push(" AS finding_status[]))");
    }
    if !filter.resource_types.is_empty() {
        qb.push(" AND f.resource_type = ANY(")
            .push_bind(filter.resource_types.clone())
            .push(")");
    }
    if !filter.environments.is_empty() {
        qb.push(" AND f.account_id IN (SELECT id FROM accounts WHERE environment = ANY(")
            .push_bind(filter.environments.clone())
            .push("))");
    }
    if let Some(q) = &filter.q {
        // search_text is lower-cased; LIKE metacharacters in the input match themselves.
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
        qb.push(match text {
            TextMatch::Index => " AND f.search_text LIKE ",
            // The same test; the expression hides the trigram index.
            TextMatch::Recheck => " AND (f.search_text || '') LIKE ",
        })
        .push_bind(pattern);
    }
    if let Some(since) = filter.updated_since {
        qb.push(" AND f.updated_at >= ").push_bind(since);
    }
}

/// Escapes `%`, `_` and `\` so they match literally in a LIKE pattern (default escape `\`).
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_metacharacters_match_literally() {
        assert_eq!(escape_like("100%_a\\b"), "100\\%\\_a\\\\b");
        assert_eq!(escape_like("plain"), "plain");
    }
}
