//! The trends page, its CSV downloads and the monthly report through `Router::oneshot`, on
//! rollups inserted for known days: the numbers shown, the movers' order, the 400s, and the
//! plain "no rollups yet" state.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Datelike, Days, Months, NaiveDate, Utc};
use http_body_util::BodyExt;
use sightline::web::{AppState, Site};
use sqlx::PgPool;
use tower::ServiceExt;

use crate::support::data_count;

const PAYMENTS: &str = "111111111111";
const DATA: &str = "222222222222";
const QUIET: &str = "333333333333";

async fn get(pool: &PgPool, uri: &str) -> (StatusCode, String, String) {
    let response = sightline::web::router(AppState::new(pool.clone(), Site::default()))
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let ctype = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, ctype, String::from_utf8(body.to_vec()).unwrap())
}

async fn page(pool: &PgPool, uri: &str) -> String {
    let (status, _, body) = get(pool, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}:\n{body}");
    body
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

async fn account(pool: &PgPool, id: &str, name: &str, env: &str, owner: &str) {
    sqlx::query("INSERT INTO accounts (id, name, environment, owner) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(name)
        .bind(env)
        .bind(owner)
        .execute(pool)
        .await
        .unwrap();
}

#[allow(clippy::too_many_arguments)]
async fn rollup(
    pool: &PgPool,
    day: NaiveDate,
    acct: &str,
    source: &str,
    severity: &str,
    open: i32,
    new: i32,
    resolved: i32,
    past_sla: i32,
) {
    sqlx::query(
        "INSERT INTO daily_rollups (day, account_id, region, source, severity, open_count, new_count, resolved_count, past_sla_count)
         VALUES ($1, $2, 'us-east-1', $3::finding_source, $4::severity, $5, $6, $7, $8)",
    )
    .bind(day)
    .bind(acct)
    .bind(source)
    .bind(severity)
    .bind(open)
    .bind(new)
    .bind(resolved)
    .bind(past_sla)
    .execute(pool)
    .await
    .unwrap();
}

/// Three accounts over the last 30 days, rollups on its first and last day:
///
/// | account | first day (today − 29) | today |
/// |---|---|---|
/// | payments (prod, team-a) | 10 critical (4 past SLA) | 2 critical (1 past SLA), 3 high; 5 new, 13 resolved today |
/// | data (dev, team-b) | 1 low | 9 low (GuardDuty) |
/// | quiet (dev, team-b) | 4 medium | 4 medium |
async fn estate(pool: &PgPool) -> NaiveDate {
    account(pool, PAYMENTS, "prod-payments", "prod", "team-a").await;
    account(pool, DATA, "dev-data", "dev", "team-b").await;
    account(pool, QUIET, "dev-quiet", "dev", "team-b").await;
    let first = today() - Days::new(29);
    rollup(
        pool,
        first,
        PAYMENTS,
        "securityhub",
        "critical",
        10,
        0,
        0,
        4,
    )
    .await;
    rollup(pool, first, DATA, "guardduty", "low", 1, 0, 0, 0).await;
    rollup(pool, first, QUIET, "securityhub", "medium", 4, 0, 0, 0).await;
    let t = today();
    rollup(pool, t, PAYMENTS, "securityhub", "critical", 2, 0, 8, 1).await;
    rollup(pool, t, PAYMENTS, "securityhub", "high", 3, 5, 5, 0).await;
    rollup(pool, t, DATA, "guardduty", "low", 9, 0, 0, 0).await;
    rollup(pool, t, QUIET, "securityhub", "medium", 4, 0, 0, 0).await;
    first
}

/// The rows of `<table id="{id}">`'s body, as the text of their cells.
fn table(body: &str, id: &str) -> Vec<Vec<String>> {
    let start = body
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no table {id}"));
    let rest = &body[start..];
    let rest = &rest[rest.find("<tbody>").unwrap()..rest.find("</tbody>").unwrap()];
    rest.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let cell = &cell[cell.find('>').unwrap() + 1..];
                    let cell = &cell[..cell.find("</td>").unwrap()];
                    strip_tags(cell).trim().to_owned()
                })
                .collect()
        })
        .collect()
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in s.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn trends_show_the_rollups_numbers(pool: PgPool) {
    let first = estate(&pool).await;
    let body = page(&pool, "/trends?days=30").await;
    assert!(!body.contains("no-data"), "{body}");
    assert!(body.contains(r#"<svg class="chart area""#));
    assert!(body.contains(r#"<svg class="chart bars""#));
    assert!(body.contains(r#"<svg class="chart line""#));
    assert!(!body.contains("style="), "the CSP forbids inline styles");

    // Open per day and severity: the first and the last day.
    let open = table(&body, "open-data");
    assert_eq!(open.len(), 30);
    assert_eq!(
        open[0],
        [&first.to_string(), "10", "0", "4", "1", "0", "15"]
    );
    assert_eq!(
        open[29],
        [&today().to_string(), "2", "3", "4", "9", "0", "18"]
    );
    // Today's counts link to the findings they count.
    assert_eq!(data_count(&body, "open-now"), "18");
    assert!(body.contains(
        r#"<a data-count="open-now-critical" href="/findings?status=open&#38;severity=critical">2</a>"#
    ));

    assert_eq!(data_count(&body, "flow-new"), "5");
    assert_eq!(data_count(&body, "flow-resolved"), "13");
    // SLA: 4 of 15 (26.7%) on the first day, 1 of 18 (5.6%) today.
    assert_eq!(data_count(&body, "sla-share"), "5.6%");
    assert!(body.contains("down 21.1 points since"), "{body}");

    // Movers: payments fell by 5, data rose by 8, quiet did not move.
    let improved = table(&body, "improved-list");
    assert_eq!(improved.len(), 1);
    assert!(improved[0][0].starts_with("prod-payments"));
    assert_eq!(improved[0][1..], ["10", "5", "−5"]);
    let worsened = table(&body, "worsened-list");
    assert_eq!(worsened.len(), 1);
    assert!(worsened[0][0].starts_with("dev-data"));
    assert!(body.contains(&format!(r#"<a href="/accounts/{DATA}">dev-data</a>"#)));
    assert!(!body.contains(&format!("/accounts/{QUIET}\">")));

    // CSV links carry the page's query.
    assert!(body.contains(r#"href="/trends/open.csv?days=30""#));

    // A year is charted per week, each point dated by its Monday; the counts above the chart
    // are today's all the same, and say so.
    let year = page(&pool, "/trends?days=365").await;
    assert_eq!(data_count(&year, "open-now"), "18");
    let on_today = format!("On {}: <a", today().format("%-d %b %Y"));
    assert!(year.contains(&on_today), "{on_today} not in the page");
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn filters_narrow_every_section(pool: PgPool) {
    estate(&pool).await;
    let body = page(&pool, "/trends?days=30&owner=team-b").await;
    let open = table(&body, "open-data");
    assert_eq!(open[29][1..], ["0", "0", "4", "9", "0", "13"]);
    // The findings list has no owner filter: the owner's accounts stand in for it.
    assert!(
        body.contains(&format!(
            r#"data-count="open-now" href="/findings?status=open&#38;account={DATA}%2C{QUIET}""#
        )),
        "{body}"
    );
    let body = page(&pool, "/trends?days=30&source=guardduty&environment=dev").await;
    assert_eq!(table(&body, "open-data")[29][7 - 1], "9");
    assert!(body.contains(r#"<option value="dev" selected>dev</option>"#));
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn csv_downloads_carry_the_charts_numbers(pool: PgPool) {
    let first = estate(&pool).await;
    let (status, ctype, csv) = get(&pool, "/trends/open.csv?days=30").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "date,critical,high,medium,low,informational,total"
    );
    assert_eq!(lines[1], format!("{first},10,0,4,1,0,15"));
    assert_eq!(lines[30], format!("{},2,3,4,9,0,18", today()));

    let (_, _, csv) = get(&pool, "/trends/flow.csv?days=30&account=111111111111").await;
    let total: i64 = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse::<i64>().unwrap())
        .sum();
    assert!(csv.starts_with("date,new,resolved,reopened\n"));
    assert_eq!(total, 13);

    let (_, _, csv) = get(&pool, "/trends/sla.csv?days=30").await;
    assert!(csv.contains(&format!("{first},15,4,26.7\n")), "{csv}");
    assert!(csv.ends_with(&format!("{},18,1,5.6\n", today())), "{csv}");

    let (status, _, csv) = get(&pool, "/trends/mttr.csv?days=30").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv, "severity,resolved,mean_days,median_days\n");
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn bad_parameters_answer_400_naming_them(pool: PgPool) {
    for (uri, param) in [
        ("/trends?days=abc", "days:"),
        ("/trends?from=2026-01-01", "to:"),
        ("/trends?from=2026-02-30&to=2026-03-01", "from:"),
        ("/trends?account=nope", "account:"),
        ("/trends?source=cloudtrail", "source:"),
        ("/trends?colour=red", "colour:"),
        ("/trends/open.csv?days=-1", "days:"),
        ("/reports/monthly?month=2026-13", "month:"),
        ("/reports/monthly?month=june", "month:"),
        ("/reports/monthly?month=2999-01", "month:"),
    ] {
        let (status, _, body) = get(&pool, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(body.contains(param), "{uri}: {body}");
    }
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn without_rollups_the_pages_say_so(pool: PgPool) {
    let body = page(&pool, "/trends").await;
    assert!(body.contains(r#"id="no-data""#));
    assert!(body.contains("Rollups are written at the end of each poll cycle"));
    assert!(!body.contains("<svg class=\"chart"));
    let body = page(&pool, "/reports/monthly").await;
    assert!(body.contains(r#"id="no-data""#));
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn the_monthly_report_has_the_months_headlines(pool: PgPool) {
    account(&pool, PAYMENTS, "prod-payments", "prod", "team-a").await;
    let month = (today().with_day(1).unwrap()) - Months::new(2);
    let last = (month + Months::new(1)).pred_opt().unwrap();
    rollup(&pool, month, PAYMENTS, "securityhub", "high", 7, 7, 0, 0).await;
    rollup(
        &pool,
        month + Days::new(10),
        PAYMENTS,
        "securityhub",
        "high",
        9,
        3,
        1,
        0,
    )
    .await;
    rollup(&pool, last, PAYMENTS, "securityhub", "high", 4, 0, 5, 2).await;
    let key = month.format("%Y-%m").to_string();
    let body = page(&pool, &format!("/reports/monthly?month={key}")).await;
    assert!(body.contains(&format!("Security posture, {}", month.format("%B %Y"))));
    assert_eq!(data_count(&body, "open-start"), "7");
    assert_eq!(data_count(&body, "open-end"), "4");
    assert_eq!(data_count(&body, "new"), "10");
    assert_eq!(data_count(&body, "resolved"), "6");
    assert_eq!(data_count(&body, "past-sla"), "2");
    // A past month's counts link to no list: the findings list shows today.
    assert!(!body.contains(r#"data-count="open-now""#));
    // Its overdue list is the month's last day's (no finding is stored here: none).
    let on = last.format("%-d %b %Y");
    assert!(body.contains(&format!("Most overdue open findings on {on}</h2>")));
    assert!(body.contains(&format!(
        "No finding open at the end of {on} was past its SLA."
    )));
    let improved = table(&body, "improved-list");
    assert_eq!(improved[0][1..], ["7", "4", "−3"]);
    // The default is the last full month.
    let body = page(&pool, "/reports/monthly").await;
    let prev = (today().with_day(1).unwrap() - Months::new(1)).format("%B %Y");
    assert!(body.contains(&format!("Security posture, {prev}")));
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn account_and_region_pages_chart_their_last_90_days(pool: PgPool) {
    estate(&pool).await;
    // An account without rollups has no chart (and no empty frame).
    account(&pool, "999999999999", "new-account", "dev", "team-c").await;
    let body = page(&pool, "/accounts/999999999999").await;
    assert!(!body.contains("Open findings, last 90 days"));
    let body = page(&pool, &format!("/accounts/{PAYMENTS}")).await;
    assert!(body.contains("Open findings, last 90 days"), "{body}");
    assert!(body.contains(&format!("href=\"/trends?account={PAYMENTS}\"")));
    assert!(body.contains("<svg"), "the chart");
    // The chart is of this account only: 10 critical on its first day, 5 open today.
    assert!(body.contains("Critical"));
    // (The region page draws the same chart through the same function, `scope_trend`.)
}
