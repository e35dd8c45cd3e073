//! The findings list (`db::findings_list`), its page, its exports and the finding page, on
//! fixture data in a fresh database: the numbers a user sees, keyset walks, escaping, 4xx.

use std::collections::HashSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use http_body_util::BodyExt;
use sightline::db::{findings, findings_list};
use sightline::domain::filter::{ListRules, Sort, parse_list_request};
use sightline::domain::{Finding, Status};
use sightline::sim::samples;
use sqlx::PgPool;
use tower::ServiceExt;

/// 240 control findings over 20 accounts and 4 regions: 80 low, 80 medium, 40 high,
/// 40 critical; the first 12 resolved, one with a hostile title.
pub async fn seed(pool: &PgPool) -> Vec<Finding> {
    let mut batch = samples::control_findings(0, 240, Utc::now());
    for f in batch.iter_mut().take(12) {
        f.status = Status::Resolved;
    }
    batch[30].title = "<script>alert(1)</script> bucket \"x\" & co".into();
    let mut conn = pool.acquire().await.unwrap();
    findings::upsert_batch(&mut conn, &batch).await.unwrap();
    // Counts (overview, facets, stats) are as of the poller's last refresh.
    sightline::db::counts::refresh(pool).await.unwrap();
    batch
}

pub async fn get(pool: &PgPool, uri: &str) -> (StatusCode, String, String) {
    crate::support::oneshot_get(pool, uri).await
}

/// HTML text with the entities askama writes turned back into characters.
fn unescape(html: &str) -> String {
    html.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
}

/// The number in `data-count="NAME"`, commas removed.
fn data_count(html: &str, name: &str) -> i64 {
    let at = html
        .find(&format!("data-count=\"{name}\""))
        .unwrap_or_else(|| panic!("no data-count={name} in {html}"));
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = start + rest[start..].find('<').unwrap();
    rest[start..end].replace(',', "").trim().parse().unwrap()
}

const RULES: ListRules = ListRules {
    default_sort: Sort::Severity,
    default_limit: 7,
    max_limit: 1000,
    extra: &[],
};

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn keyset_walks_return_every_match_once_in_every_order(pool: PgPool) {
    seed(&pool).await;
    for (query, expected) in [
        ("", 240),
        ("status=open", 228),
        ("severity=critical", 40),
        ("severity=critical,high&status=open", 76),
        ("region=eu-west-1", 60),
        ("account=100000000003", 12),
        ("q=IMDSV2", 239),
        ("q=%3Cscript%3E", 1),
        ("q=100%25", 0),
    ] {
        for sort in ["severity", "updated", "id"] {
            let mut request = parse_list_request(&format!("{query}&sort={sort}"), RULES).unwrap();
            let facets = findings_list::facets(&pool, &request.filter).await.unwrap();
            assert_eq!(facets.total, expected, "total of {query}");
            let mut seen = HashSet::new();
            let mut previous: Option<(String, chrono::DateTime<Utc>)> = None;
            loop {
                let page = findings_list::list(&pool, &request).await.unwrap();
                for f in &page.items {
                    assert!(seen.insert(f.id), "{query} sort={sort}: {} twice", f.id);
                    if sort == "severity"
                        && let Some((sev, _)) = &previous
                    {
                        let rank = |s: &str| {
                            ["informational", "low", "medium", "high", "critical"]
                                .iter()
                                .position(|x| *x == s)
                        };
                        assert!(rank(sev) >= rank(&f.severity), "severity order broken");
                    }
                    previous = Some((f.severity.clone(), f.updated_at));
                }
                match page.next {
                    Some(c) => request.cursor = Some(c),
                    None => break,
                }
            }
            assert_eq!(seen.len() as i64, expected, "{query} sort={sort}");
        }
    }
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn facets_split_the_total_by_each_dimension(pool: PgPool) {
    seed(&pool).await;
    let request = parse_list_request("status=open", RULES).unwrap();
    let facets = findings_list::facets(&pool, &request.filter).await.unwrap();
    assert_eq!(facets.total, 228);
    let sum = |v: &[(String, i64)]| v.iter().map(|(_, n)| n).sum::<i64>();
    assert_eq!(sum(&facets.severity), 228);
    assert_eq!(sum(&facets.region), 228);
    assert_eq!(sum(&facets.account), 228);
    assert_eq!(facets.status, vec![("open".to_owned(), 228)]);
    // Most severe first.
    assert_eq!(facets.severity[0].0, "critical");
    // The resolved ones were i = 0..12: severities L M M H C L L M M H C L.
    let critical = facets
        .severity
        .iter()
        .find(|(s, _)| s == "critical")
        .unwrap()
        .1;
    assert_eq!(critical, 38);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn findings_page_shows_the_filtered_count_and_pages_through_every_row(pool: PgPool) {
    seed(&pool).await;
    let (status, _, html) = get(&pool, "/findings?status=open&severity=critical").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(data_count(&html, "findings-total"), 38);
    assert_eq!(html.matches("data-finding-id=").count(), 38);
    assert!(
        !html.contains("rel=\"next\""),
        "38 rows fit on one page of 50"
    );

    let mut uri = "/findings?status=open".to_owned();
    let mut rows = HashSet::new();
    loop {
        let (status, _, html) = get(&pool, &uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(data_count(&html, "findings-total"), 228);
        for piece in html.split("data-finding-id=\"").skip(1) {
            assert!(
                rows.insert(piece[..36].to_owned()),
                "{uri}: {} twice",
                &piece[..36]
            );
        }
        let Some(at) = html.find("rel=\"next\" href=\"") else {
            break;
        };
        let rest = &html[at + 17..];
        uri = unescape(&rest[..rest.find('"').unwrap()]);
    }
    assert_eq!(rows.len(), 228);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn titles_from_aws_are_rendered_inert(pool: PgPool) {
    let batch = seed(&pool).await;
    let (_, _, list) = get(&pool, "/findings?q=alert").await;
    assert_eq!(data_count(&list, "findings-total"), 1);
    assert!(
        !list.contains("<script>alert(1)"),
        "raw script tag in the list"
    );
    assert!(
        list.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || list.contains("&lt;script&gt;alert(1)"),
        "{list}"
    );
    let id = batch[30].key.finding_id();
    let (status, _, page) = get(&pool, &format!("/findings/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !page.contains("<script>alert(1)"),
        "raw script tag on the finding page"
    );
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn finding_page_shows_fields_provenance_events_and_raw_json(pool: PgPool) {
    let batch = seed(&pool).await;
    let f = &batch[17];
    let id = f.key.finding_id();
    let (status, _, html) = get(&pool, &format!("/findings/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("\"AwsAccountId\""), "raw JSON is escaped");
    let text = unescape(&html);
    assert!(text.contains(&f.native_id), "native id shown");
    assert!(text.contains("first seen, open and low"), "the 'new' event");
    assert!(
        text.contains("\"AwsAccountId\": \"100000000017\""),
        "raw JSON, pretty-printed"
    );
    assert!(text.contains("https://eu-west-1.console.aws.amazon.com/securityhub/home?region=eu-west-1#/findings?search=Id"), "console link");
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn bad_input_answers_4xx_pages_that_say_why(pool: PgPool) {
    seed(&pool).await;
    let (status, _, html) = get(&pool, "/findings?severity=bogus").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("severity: expected one of critical, high, medium, low, informational"),
        "{html}"
    );
    let (status, _, html) = get(&pool, "/findings?account=12").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("account:"), "{html}");
    let (status, _, _) = get(&pool, "/findings?cursor=zz").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = get(&pool, "/findings?q=%27%3B%20drop%20table%20findings%3B--").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = get(&pool, "/findings/does-not-exist").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&pool, &format!("/findings/{}", uuid::Uuid::nil())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        findings::count(&pool).await.unwrap(),
        240,
        "nothing dropped"
    );
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn exports_hold_every_row_of_the_filter(pool: PgPool) {
    // More than one export batch (2,000 rows).
    let mut batch = samples::control_findings(0, 4_500, Utc::now());
    batch[1].title = "=HYPERLINK(\"http://evil\")".into();
    let mut conn = pool.acquire().await.unwrap();
    for chunk in batch.chunks(1_000) {
        findings::upsert_batch(&mut conn, chunk).await.unwrap();
    }
    drop(conn);
    let (status, content_type, csv) = get(&pool, "/findings.csv?severity=medium").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1_500, "every medium finding (4,500 / 6 × 2)");
    assert!(rows.iter().all(|r| &r[1] == "medium"));
    let ids: HashSet<&str> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(ids.len(), 1_500);
    assert!(csv.contains("'=HYPERLINK"), "formula defused");

    let (status, _, json) = get(&pool, "/findings.json?region=eu-west-1&sort=updated").await;
    assert_eq!(status, StatusCode::OK);
    let items: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(items.len(), 1_125);
    assert!(items.iter().all(|i| i["region"] == "eu-west-1"));

    let (status, _, _) = get(&pool, "/findings.csv?severity=nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn counts_are_as_of_the_last_refresh_and_rows_are_live(pool: PgPool) {
    seed(&pool).await;
    let before = sightline::db::counts::refreshed_at(&pool).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    findings::upsert_batch(&mut conn, &samples::control_findings(1_000, 60, Utc::now()))
        .await
        .unwrap();
    drop(conn);
    let (_, _, html) = get(&pool, "/findings?status=open").await;
    assert_eq!(
        data_count(&html, "findings-total"),
        228,
        "the counts wait for a refresh"
    );
    assert!(
        html.contains("Counts as of"),
        "and the page says how old they are"
    );
    assert_eq!(html.matches("data-finding-id=").count(), 50);
    // Free text is counted live.
    let (_, _, html) = get(&pool, "/findings?status=open&q=imdsv2").await;
    assert_eq!(data_count(&html, "findings-total"), 227 + 60);
    sightline::db::counts::refresh(&pool).await.unwrap();
    assert!(sightline::db::counts::refreshed_at(&pool).await.unwrap() >= before);
    let (_, _, html) = get(&pool, "/findings?status=open").await;
    assert_eq!(data_count(&html, "findings-total"), 288);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn one_server_computes_counts_once_per_refresh(pool: PgPool) {
    seed(&pool).await;
    // One server (one cache) for every request.
    let app = sightline::web::router(sightline::web::AppState::new(
        pool.clone(),
        Default::default(),
    ));
    let total = |app: axum::Router| async move {
        let response = app
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        data_count(std::str::from_utf8(&body).unwrap(), "open-total")
    };
    assert_eq!(total(app.clone()).await, 228);
    let mut conn = pool.acquire().await.unwrap();
    findings::upsert_batch(&mut conn, &samples::control_findings(1_000, 60, Utc::now()))
        .await
        .unwrap();
    drop(conn);
    // Computed for the last refresh: the same until the next one, however the data moved.
    sqlx::query("REFRESH MATERIALIZED VIEW finding_counts")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        total(app.clone()).await,
        228,
        "cached for the same refresh time"
    );
    sightline::db::counts::refresh(&pool).await.unwrap();
    assert_eq!(
        total(app.clone()).await,
        288,
        "a new refresh is seen at once"
    );
}

/// The count a facet shows for `label` (`79`, or `12+` when capped), as written.
fn facet_count<'a>(html: &'a str, label: &str) -> &'a str {
    let marker = format!(">{label}</a><span class=\"n\">");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no facet {label} in {html}"));
    let rest = &html[at + marker.len()..];
    &rest[..rest.find('<').unwrap()]
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn free_text_counts_are_exact_below_the_cap(pool: PgPool) {
    seed(&pool).await;
    // Every seeded title says IMDSv2 but the hostile one, i = 30: low, eu-central-1,
    // account 100000000010, open.
    let request = parse_list_request("q=imdsv2", RULES).unwrap();
    let facets = findings_list::facets(&pool, &request.filter).await.unwrap();
    assert_eq!(facets.total, 239);
    assert!(!facets.capped);
    assert_eq!(facets.as_of, None, "counted live");
    let pairs = |v: &[(&str, i64)]| {
        v.iter()
            .map(|(k, n)| ((*k).to_owned(), *n))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        facets.severity,
        pairs(&[("critical", 40), ("high", 40), ("medium", 80), ("low", 79)])
    );
    assert_eq!(facets.status, pairs(&[("open", 227), ("resolved", 12)]));
    assert_eq!(facets.source, pairs(&[("securityhub", 239)]));
    assert_eq!(
        facets.region,
        pairs(&[
            ("ap-southeast-2", 60),
            ("eu-west-1", 60),
            ("us-east-1", 60),
            ("eu-central-1", 59)
        ])
    );
    assert_eq!(facets.account.len(), 20);
    assert!(facets.account.contains(&("100000000010".to_owned(), 11)));
    assert!(facets.account.contains(&("100000000000".to_owned(), 12)));
    assert_eq!(
        facets.resource_type,
        vec![(Some("AwsEc2Instance".to_owned()), 239)]
    );
    // The same numbers as counting the findings themselves, with another filter too.
    let request = parse_list_request("q=imdsv2&status=open&region=eu-central-1", RULES).unwrap();
    let facets = findings_list::facets(&pool, &request.filter).await.unwrap();
    let truth: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM findings WHERE search_text LIKE '%imdsv2%' AND status = 'open' \
         AND region = 'eu-central-1'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((facets.total, facets.capped), (truth, false));
    assert_eq!(truth, 56);

    let (status, _, html) = get(&pool, "/findings?q=imdsv2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(data_count(&html, "findings-total"), 239);
    assert_eq!(facet_count(&html, "low"), "79");
    assert_eq!(facet_count(&html, "resolved"), "12");
    assert_eq!(facet_count(&html, "eu-central-1"), "59");
    assert!(html.contains("of 239"));
    assert!(!html.contains("data-facets-capped"));
    assert!(!html.contains("data-count-at-least"));
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn a_common_word_inside_an_account_is_matched_row_by_row_with_the_same_answers(pool: PgPool) {
    use sightline::db::findings_list::{TextMatch, text_match};
    seed(&pool).await;
    // The planner's row estimates need statistics; a poller's database has them.
    sqlx::query("ANALYZE finding_search")
        .execute(&pool)
        .await
        .unwrap();
    let choice = |q: &str| {
        let pool = pool.clone();
        let filter = parse_list_request(q, RULES).unwrap().filter;
        async move { text_match(&pool, &filter).await.unwrap() }
    };
    // imdsv2 is in 239 of 240 titles, more than 10 times an account's 12 findings: row by
    // row. Three accounts hold 36, a rare word few: the trigram index; so without an account.
    assert_eq!(
        choice("q=imdsv2&account=100000000010").await,
        TextMatch::Recheck
    );
    assert_eq!(
        choice("q=imdsv2&account=100000000010,100000000011,100000000012").await,
        TextMatch::Index
    );
    assert_eq!(choice("q=imdsv2").await, TextMatch::Index);
    assert_eq!(
        choice("q=alert(1)&account=100000000010").await,
        TextMatch::Index
    );

    // The answers are those of the plain filter: account 100000000010's 11 matches (its
    // hostile title does not say IMDSv2).
    let request = parse_list_request("q=imdsv2&account=100000000010", RULES).unwrap();
    let facets = findings_list::facets(&pool, &request.filter).await.unwrap();
    assert_eq!((facets.total, facets.capped), (11, false));
    assert_eq!(facets.account, vec![("100000000010".to_owned(), 11)]);
    let request = parse_list_request("q=imdsv2&account=100000000010&limit=50", RULES).unwrap();
    let page = findings_list::list(&pool, &request).await.unwrap();
    let truth: Vec<String> = sqlx::query_scalar(
        "SELECT id::text FROM findings WHERE search_text LIKE '%imdsv2%' \
         AND account_id = '100000000010' ORDER BY severity DESC, updated_at DESC, id DESC",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(truth.len(), 11);
    assert_eq!(
        page.items
            .iter()
            .map(|f| f.id.to_string())
            .collect::<Vec<_>>(),
        truth
    );
    let (status, _, html) = get(&pool, "/findings?q=imdsv2&account=100000000010").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(data_count(&html, "findings-total"), 11);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn free_text_counts_stop_at_the_cap_and_say_so(pool: PgPool) {
    seed(&pool).await;
    // 1,001 findings, 1,000 of which match: exactly the cap is still exact.
    let mut conn = pool.acquire().await.unwrap();
    findings::upsert_batch(&mut conn, &samples::control_findings(240, 761, Utc::now()))
        .await
        .unwrap();
    let request = parse_list_request("q=imdsv2", RULES).unwrap();
    let facets = findings_list::facets(&pool, &request.filter).await.unwrap();
    assert_eq!((facets.total, facets.capped), (1_000, false));
    let (_, _, html) = get(&pool, "/findings?q=imdsv2").await;
    assert_eq!(data_count(&html, "findings-total"), 1_000);
    assert!(!html.contains("data-facets-capped"));

    // One more: the total is the cap, labelled as a lower bound, and so is every count.
    findings::upsert_batch(&mut conn, &samples::control_findings(1_001, 1, Utc::now()))
        .await
        .unwrap();
    drop(conn);
    let facets = findings_list::facets(&pool, &request.filter).await.unwrap();
    assert_eq!((facets.total, facets.capped), (1_000, true));
    let sum = |v: &[(String, i64)]| v.iter().map(|(_, n)| n).sum::<i64>();
    for (dimension, counts) in [
        ("severity", &facets.severity),
        ("status", &facets.status),
        ("region", &facets.region),
        ("account", &facets.account),
    ] {
        assert_eq!(sum(counts), 1_000, "{dimension}: the first 1,000 matches");
    }
    assert_eq!(
        facets.resource_type.iter().map(|(_, n)| n).sum::<i64>(),
        1_000
    );

    let (status, _, html) = get(&pool, "/findings?q=imdsv2").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !html.contains("data-count=\"findings-total\""),
        "no exact-looking total"
    );
    assert!(html.contains("data-count-at-least=\"findings-total\""));
    assert!(html.contains(">1,000+</strong>"));
    assert!(html.contains("of 1,000+"));
    assert!(html.contains("data-facets-capped"));
    assert!(html.contains("The counts below are of the first 1,000 found"));
    for label in ["low", "open", "us-east-1", "AwsEc2Instance"] {
        assert!(
            facet_count(&html, label).ends_with('+'),
            "{label}: {} is a lower bound",
            facet_count(&html, label)
        );
    }
    assert_eq!(facet_count(&html, "AwsEc2Instance"), "1,000+");
    assert_eq!(
        html.matches("data-finding-id=").count(),
        50,
        "rows as usual"
    );

    // Once the planner knows the word is in every finding, the first matches are read from
    // the narrow copy instead of through the trigram index: the same cap and labels.
    sqlx::query("ANALYZE finding_search")
        .execute(&pool)
        .await
        .unwrap();
    let from_copy = findings_list::facets(&pool, &request.filter).await.unwrap();
    assert_eq!((from_copy.total, from_copy.capped), (1_000, true));
    assert_eq!(sum(&from_copy.severity), 1_000);
    assert_eq!(sum(&from_copy.account), 1_000);

    // A search with few matches stays exact beside it.
    let (_, _, html) = get(&pool, "/findings?q=%3Cscript%3E").await;
    assert_eq!(data_count(&html, "findings-total"), 1);
    // So does `updated_since`, counted from the findings themselves, up to the same cap.
    let request = parse_list_request("updated_since=2000-01-01T00:00:00Z", RULES).unwrap();
    let facets = findings_list::facets(&pool, &request.filter).await.unwrap();
    assert_eq!((facets.total, facets.capped), (1_000, true));
    let since = (Utc::now() - chrono::Duration::minutes(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let request = parse_list_request(&format!("updated_since={since}"), RULES).unwrap();
    let facets = findings_list::facets(&pool, &request.filter).await.unwrap();
    let truth: i64 = sqlx::query_scalar("SELECT count(*) FROM findings WHERE updated_at >= $1")
        .bind(request.filter.updated_since.unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(truth > 0 && truth < 1_000, "{truth}");
    assert_eq!((facets.total, facets.capped), (truth, false));
}

/// What the free-text counts read: the columns of `finding_search` as `findings` has them.
async fn search_copy_differs(pool: &PgPool) -> (i64, i64) {
    let cols =
        "id, search_text, severity, status, source, region, account_id, resource_type, updated_at";
    let count = |sql: String| async move {
        sqlx::query_scalar::<_, i64>(&sql)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    (
        count(format!(
            "SELECT count(*) FROM (SELECT {cols} FROM findings EXCEPT SELECT {cols} FROM finding_search) d"
        ))
        .await,
        count(format!(
            "SELECT count(*) FROM (SELECT {cols} FROM finding_search EXCEPT SELECT {cols} FROM findings) d"
        ))
        .await,
    )
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn the_search_copy_follows_every_write(pool: PgPool) {
    let batch = seed(&pool).await;
    let copied: i64 = sqlx::query_scalar("SELECT count(*) FROM finding_search")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(copied, 240);
    assert_eq!(search_copy_differs(&pool).await, (0, 0), "after inserts");

    // upsert_batch changing title, severity and status; one unchanged report.
    let mut changed = batch[..20].to_vec();
    for (i, f) in changed.iter_mut().enumerate() {
        f.title = format!("Renamed {i}");
        f.severity = sightline::domain::Severity::Critical;
        f.status = Status::Suppressed;
        f.updated_at += chrono::Duration::seconds(1);
    }
    let mut conn = pool.acquire().await.unwrap();
    findings::upsert_batch(&mut conn, &changed).await.unwrap();
    findings::upsert_batch(&mut conn, &batch[20..21])
        .await
        .unwrap();
    assert_eq!(search_copy_differs(&pool).await, (0, 0), "after updates");
    let request = parse_list_request("q=renamed", RULES).unwrap();
    let facets = findings_list::facets(&pool, &request.filter).await.unwrap();
    assert_eq!(facets.total, 20);
    assert_eq!(facets.status, vec![("suppressed".to_owned(), 20)]);

    // resolve_unseen (a plain UPDATE), a DELETE, a TRUNCATE.
    let resolved = findings::resolve_unseen(
        &mut conn,
        &["100000000004".to_owned()],
        "us-east-1",
        "securityhub",
        &[],
        Utc::now(),
    )
    .await
    .unwrap();
    assert!(resolved > 0);
    assert_eq!(search_copy_differs(&pool).await, (0, 0), "after resolving");
    sqlx::query("DELETE FROM findings WHERE account_id = '100000000002'")
        .execute(&mut *conn)
        .await
        .unwrap();
    assert_eq!(search_copy_differs(&pool).await, (0, 0), "after a delete");
    sqlx::query("TRUNCATE findings CASCADE")
        .execute(&mut *conn)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM finding_search")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "after a truncate");
}
