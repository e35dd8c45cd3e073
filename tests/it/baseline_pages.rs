//! The baseline's pages through `Router::oneshot` on results stored with `db::baseline::store`:
//! the grid's cells and totals on `/baseline`, its filters and their 400s, the account's
//! checklist (evidence, why, fix) and its changes of result, the overview's failing checks, the
//! advisory marking, escaping of evidence, and the plain "not read yet" state.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use sightline::baseline::{Check, CheckResult, Outcome};
use sightline::config::AccountConfig;
use sightline::db;
use sqlx::PgPool;

use crate::support::{data_count, oneshot_get};

const PAYMENTS: &str = "111111111111";
const SANDBOX: &str = "222222222222";
const DATA: &str = "333333333333";
/// Configured, never read.
const STAGING: &str = "444444444444";
const SCRIPT: &str = "<script>alert(1)</script>";

/// Text as askama writes it in HTML.
fn html(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

async fn get(pool: &PgPool, uri: &str) -> (StatusCode, String) {
    let (status, _, body) = oneshot_get(pool, uri).await;
    assert!(
        !body.contains(SCRIPT),
        "{uri} writes a raw <script> from the data:\n{body}"
    );
    (status, body)
}

async fn page(pool: &PgPool, uri: &str) -> String {
    let (status, body) = get(pool, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}:\n{body}");
    body
}

/// The markup from `start` to the first `end` after it.
fn section<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let at = body
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not on the page"));
    let len = body[at..].find(end).unwrap() + end.len();
    &body[at..at + len]
}

/// The labels of the result cells in a grid row or a checklist: `(class, label)`.
fn marks(markup: &str) -> Vec<(String, String)> {
    markup
        .split(r#"class="state "#)
        .skip(1)
        .map(|s| {
            let class = &s[..s.find('"').unwrap()];
            let label = &s[s.find('>').unwrap() + 1..s.find('<').unwrap()];
            (class.to_owned(), label.to_owned())
        })
        .collect()
}

/// The accounts of the grid, in the order shown.
fn grid_accounts(body: &str) -> Vec<&str> {
    body.split(r#"<tr data-account=""#)
        .skip(1)
        .map(|s| &s[..12])
        .collect()
}

fn results(outcomes: &[(Check, Outcome, &str)], advisory: &[Check]) -> Vec<CheckResult> {
    Check::ALL
        .iter()
        .map(|&c| {
            let (outcome, evidence) = outcomes.iter().find(|(o, _, _)| *o == c).map_or(
                (Outcome::Pass, format!("{} holds", c.name())),
                |(_, o, e)| (*o, (*e).to_owned()),
            );
            CheckResult {
                check: c,
                outcome,
                evidence,
                required: !advisory.contains(&c),
            }
        })
        .collect()
}

fn three_days_ago() -> DateTime<Utc> {
    Utc::now() - Duration::days(3)
}

/// The estate every test reads, all read three days ago:
///
/// | account | env | results |
/// |---|---|---|
/// | prod-payments | prod | trail fails (evidence with `<script>`), KMS unknown, data events fail |
/// | dev-sandbox | dev | trail fails; data events fail, advisory |
/// | prod-data | prod | all pass |
/// | staging-web | staging | not read |
///
/// Required failures: 3 (trail ×2, data events ×1) in 2 accounts; 1 unknown in 1 account;
/// 1 account passes every required check.
async fn estate(pool: &PgPool) {
    let account = |id: &str, name: &str, env: &str| AccountConfig {
        id: id.parse().unwrap(),
        name: name.into(),
        environment: env.into(),
        owner: "team".into(),
        role_arn: None,
    };
    db::accounts::sync(
        pool,
        &[
            account(PAYMENTS, "prod-payments", "prod"),
            account(SANDBOX, "dev-sandbox", "dev"),
            account(DATA, "prod-data", "prod"),
            account(STAGING, "staging-web", "staging"),
        ],
    )
    .await
    .unwrap();
    let at = three_days_ago();
    let payments = results(
        &[
            (
                Check::CloudtrailMultiRegion,
                Outcome::Fail,
                "no multi-region trail is logging; trail \"audit\" <script>alert(1)</script> is stopped",
            ),
            (
                Check::TrailKmsEncryption,
                Outcome::Unknown,
                "AccessDenied: cloudtrail:DescribeTrails",
            ),
            (
                Check::DataEventsS3Lambda,
                Outcome::Fail,
                "no S3 or Lambda data event selector",
            ),
        ],
        &[],
    );
    let sandbox = results(
        &[
            (
                Check::CloudtrailMultiRegion,
                Outcome::Fail,
                "no trail at all",
            ),
            (
                Check::DataEventsS3Lambda,
                Outcome::Fail,
                "no S3 or Lambda data event selector",
            ),
        ],
        &[Check::DataEventsS3Lambda],
    );
    for (id, r) in [
        (PAYMENTS, payments),
        (SANDBOX, sandbox),
        (DATA, results(&[], &[])),
    ] {
        assert_eq!(db::baseline::store(pool, id, &r, at).await.unwrap(), 10);
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn grid_shows_every_result_and_counts_required_ones(pool: PgPool) {
    estate(&pool).await;
    let body = page(&pool, "/baseline").await;

    assert_eq!(data_count(&body, "baseline-accounts"), "3");
    assert_eq!(data_count(&body, "baseline-failing-checks"), "3");
    assert_eq!(data_count(&body, "baseline-failing-accounts"), "2");
    assert_eq!(data_count(&body, "baseline-unknown-checks"), "1");
    assert_eq!(data_count(&body, "baseline-unknown-accounts"), "1");
    assert_eq!(data_count(&body, "baseline-passing-accounts"), "1");
    assert!(body.contains(
        r#"<a data-count="baseline-failing-accounts" href="/baseline?result=fail">2</a>"#
    ));
    assert!(body.contains("Read 3 days ago"), "{body}");

    // Rows by name; the unread account is named below, not a row.
    assert_eq!(grid_accounts(&body), [SANDBOX, DATA, PAYMENTS]);
    let unread = section(&body, r#"data-baseline="unread""#, "</p>");
    assert!(unread.contains(r#"<a href="/accounts/444444444444">staging-web</a>"#));

    // The headings: the short name, the question as its title, in the checks' order.
    for c in Check::ALL {
        assert!(body.contains(&format!(
            r#"<th title="{}">{}</th>"#,
            html(c.title()),
            c.short()
        )));
    }

    // Every cell: its label and colour, linking to the account's checklist.
    let row = section(&body, r#"<tr data-account="111111111111">"#, "</tr>");
    assert!(row.contains(r#"<a href="/accounts/111111111111#baseline">prod-payments</a>"#));
    let labels: Vec<String> = marks(row).into_iter().map(|(_, l)| l).collect();
    assert_eq!(
        labels,
        [
            "fail", "pass", "unknown", "pass", "pass", "fail", "pass", "pass", "pass", "pass"
        ]
    );
    assert!(row.contains(
        r#"<a class="state fail" href="/accounts/111111111111#check-cloudtrail_multi_region">fail</a>"#
    ));
    assert!(row.contains(
        r#"<a class="state unknown" href="/accounts/111111111111#check-trail_kms_encryption">unknown</a>"#
    ));
    // Advisory: marked in words and muted, not counted.
    let row = section(&body, r#"<tr data-account="222222222222">"#, "</tr>");
    assert!(row.contains(
        r#"<a class="state fail advisory" href="/accounts/222222222222#check-data_events_s3_lambda">fail (advisory)</a>"#
    ));
    let row = section(&body, r#"<tr data-account="333333333333">"#, "</tr>");
    assert_eq!(
        marks(row),
        vec![("pass".to_owned(), "pass".to_owned()); 10],
        "{row}"
    );

    // The footer: accounts failing each check (required), each linking to exactly those.
    let footer = section(&body, "<tfoot>", "</tfoot>");
    assert!(footer.contains(
        r#"<td class="res" data-failing="cloudtrail_multi_region"><a href="/baseline?result=fail&#38;check=cloudtrail_multi_region">2</a></td>"#
    ), "{footer}");
    assert!(footer.contains(
        r#"<td class="res" data-failing="data_events_s3_lambda"><a href="/baseline?result=fail&#38;check=data_events_s3_lambda">1</a><div class="muted small">+1 advisory</div></td>"#
    ), "{footer}");
    assert!(footer.contains(
        r#"<td class="res" data-failing="trail_kms_encryption"><a href="/baseline?result=fail&#38;check=trail_kms_encryption" class="zero">0</a></td>"#
    ), "{footer}");

    // The legend says what each result means.
    let legend = section(&body, r#"<ul class="legend baseline-legend""#, "</ul>");
    for label in ["pass", "fail", "unknown", "fail (advisory)", "not read"] {
        assert!(legend.contains(&format!(">{label}</span>")), "{label}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn filters_show_exactly_what_their_counts_count(pool: PgPool) {
    estate(&pool).await;

    let body = page(&pool, "/baseline?result=fail").await;
    assert_eq!(grid_accounts(&body), [SANDBOX, PAYMENTS]);
    assert_eq!(data_count(&body, "baseline-shown"), "2");
    // Totals stay those of the whole scope; the footer counts the rows shown, unlinked.
    assert_eq!(data_count(&body, "baseline-accounts"), "3");
    assert!(body.contains(r#"data-failing="cloudtrail_multi_region">2<"#));
    assert!(body.contains(r#"<option value="fail" selected>fail</option>"#));

    let body = page(&pool, "/baseline?result=fail&check=data_events_s3_lambda").await;
    assert_eq!(
        grid_accounts(&body),
        [PAYMENTS],
        "advisory failures are not matched"
    );
    assert!(
        body.contains(r#"<th title="#) && body.contains(r#"class="selected">Data events</th>"#)
    );

    let body = page(&pool, "/baseline?result=unknown").await;
    assert_eq!(grid_accounts(&body), [PAYMENTS]);
    let body = page(&pool, "/baseline?result=pass").await;
    assert_eq!(grid_accounts(&body), [DATA]);

    // An environment narrows the totals too, and the links keep it.
    let body = page(&pool, "/baseline?environment=prod").await;
    assert_eq!(grid_accounts(&body), [DATA, PAYMENTS]);
    assert_eq!(data_count(&body, "baseline-accounts"), "2");
    assert_eq!(data_count(&body, "baseline-failing-checks"), "2");
    assert_eq!(data_count(&body, "baseline-failing-accounts"), "1");
    assert!(body.contains(r#"href="/baseline?environment=prod&#38;result=fail&#38;check=cloudtrail_multi_region">1</a>"#));
    assert!(
        !body.contains(r#"data-baseline="unread""#),
        "staging is not prod"
    );
    // A form's "any" is no filter.
    let body = page(&pool, "/baseline?environment=&result=&check=").await;
    assert_eq!(grid_accounts(&body).len(), 3);
    // An environment with no result yet is known: no row, no error.
    let body = page(&pool, "/baseline?environment=staging").await;
    assert!(body.contains("No account matches."));
    assert_eq!(data_count(&body, "baseline-accounts"), "0");

    for (uri, names) in [
        (
            "/baseline?result=failing",
            "result: \"failing\" is not a result",
        ),
        (
            "/baseline?check=cloudtrail",
            "check: \"cloudtrail\" is not a check",
        ),
        (
            "/baseline?environment=prd",
            "environment: no account is in \"prd\"",
        ),
        ("/baseline?sort=name", "sort: unknown parameter"),
    ] {
        let (status, body) = get(&pool, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(body.contains(&html(names)), "{uri}:\n{body}");
    }
    let (_, body) = get(&pool, "/baseline?environment=prd").await;
    assert!(body.contains("dev, prod, staging"), "{body}");
}

#[sqlx::test(migrations = "./migrations")]
async fn checklist_shows_evidence_why_and_fix(pool: PgPool) {
    estate(&pool).await;
    let body = page(&pool, "/accounts/111111111111").await;

    let baseline = section(&body, r#"<section id="baseline">"#, "</section>");
    assert_eq!(data_count(baseline, "baseline-failing-checks"), "2");
    assert_eq!(data_count(baseline, "baseline-unknown-checks"), "1");
    assert!(body.contains(r##"<a href="#baseline">2 required checks fail, 1 unknown</a>"##));

    // Ten checks in order, each with its anchor and title.
    let mut last = 0;
    for c in Check::ALL {
        let at = baseline
            .find(&format!(r#"<tbody id="check-{}">"#, c.name()))
            .unwrap_or_else(|| panic!("no check-{}", c.name()));
        assert!(at > last, "{} out of order", c.name());
        last = at;
        let item = section(baseline, &format!(r#"id="check-{}""#, c.name()), "</tbody>");
        assert!(item.contains(&html(c.title())), "{}", c.name());
        assert!(item.contains("since <span title="), "{}", c.name());
        assert!(item.contains("3 days ago"), "{}", c.name());
    }

    // A failure: its result, its evidence (escaped), why it matters and the fix.
    let trail = section(
        baseline,
        r#"id="check-cloudtrail_multi_region""#,
        "</tbody>",
    );
    assert_eq!(marks(trail), [("fail".to_owned(), "fail".to_owned())]);
    assert!(trail.contains(&html(
        "no multi-region trail is logging; trail \"audit\" <script>alert(1)</script> is stopped"
    )));
    assert!(trail.contains(&html(Check::CloudtrailMultiRegion.why())));
    assert!(trail.contains(&format!(
        r#"<pre class="fix"><code>{}</code></pre>"#,
        html(Check::CloudtrailMultiRegion.fix())
    )));
    // Unknown: explained too, with the evidence saying why it could not be read.
    let kms = section(baseline, r#"id="check-trail_kms_encryption""#, "</tbody>");
    assert_eq!(marks(kms), [("unknown".to_owned(), "unknown".to_owned())]);
    assert!(kms.contains("AccessDenied: cloudtrail:DescribeTrails"));
    assert!(kms.contains(&html(Check::TrailKmsEncryption.fix())));
    // A pass: no why, no fix.
    let validation = section(baseline, r#"id="check-log_file_validation""#, "</tbody>");
    assert!(validation.contains("log_file_validation holds"));
    assert!(!validation.contains("Why it matters"));
    assert!(!validation.contains("pre class=\"fix\""));

    // The advisory failure of another account: marked, and still explained.
    let body = page(&pool, "/accounts/222222222222").await;
    let data = section(&body, r#"id="check-data_events_s3_lambda""#, "</tbody>");
    assert_eq!(
        marks(data),
        [("fail advisory".to_owned(), "fail (advisory)".to_owned())]
    );
    assert!(data.contains(&html(Check::DataEventsS3Lambda.fix())));
    assert!(body.contains(r##"<a href="#baseline">1 required check fails, 0 unknown</a>"##));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_change_of_result_is_listed_and_dates_the_result(pool: PgPool) {
    estate(&pool).await;
    let later = Utc::now() - Duration::hours(2);
    let fixed = results(
        &[
            (
                Check::TrailKmsEncryption,
                Outcome::Unknown,
                "AccessDenied: cloudtrail:DescribeTrails",
            ),
            (
                Check::DataEventsS3Lambda,
                Outcome::Fail,
                "no S3 or Lambda data event selector",
            ),
        ],
        &[],
    );
    assert_eq!(
        db::baseline::store(&pool, PAYMENTS, &fixed, later)
            .await
            .unwrap(),
        1
    );
    let body = page(&pool, "/accounts/111111111111").await;
    let baseline = section(&body, r#"<section id="baseline">"#, "</section>");

    // The trail now passes, since the second read; the rest keep their first date.
    let trail = section(
        baseline,
        r#"id="check-cloudtrail_multi_region""#,
        "</tbody>",
    );
    assert_eq!(marks(trail), [("pass".to_owned(), "pass".to_owned())]);
    assert!(trail.contains("since <span title=") && trail.contains(">2 h ago</span></div>"));
    assert!(!trail.contains("Why it matters"));
    let kms = section(baseline, r#"id="check-trail_kms_encryption""#, "</tbody>");
    assert!(kms.contains(">3 days ago</span></div>"), "{kms}");
    assert!(kms.contains("read <span"), "{kms}");
    assert_eq!(data_count(baseline, "baseline-failing-checks"), "1");

    // The changes: the newest first (fail → pass), then nine of the ten first reads.
    let changes = section(baseline, r#"<table class="baseline-changes">"#, "</table>");
    let rows: Vec<&str> = changes.split("<tr><td").skip(1).collect();
    assert_eq!(rows.len(), 10, "{changes}");
    assert!(rows[0].contains(r##"<a href="#check-cloudtrail_multi_region""##));
    assert!(rows[0].contains(
        r#"<span class="state fail">fail</span> → <span class="state pass">pass</span>"#
    ));
    assert!(rows[0].contains("2 h ago"));
    for r in &rows[1..] {
        assert!(r.contains("first read:"), "{r}");
        assert!(r.contains("3 days ago"), "{r}");
    }

    // And the grid: one required failure fewer, read at two times.
    let body = page(&pool, "/baseline").await;
    assert_eq!(data_count(&body, "baseline-failing-checks"), "2");
    assert!(body.contains(r#"data-failing="cloudtrail_multi_region"><a href="/baseline?result=fail&#38;check=cloudtrail_multi_region">1</a>"#));
    assert!(body.contains("Read 2 h ago"));
    assert!(body.contains("the oldest result shown was read 3 days ago"));
}

#[sqlx::test(migrations = "./migrations")]
async fn overview_lists_failing_checks_most_failing_first(pool: PgPool) {
    estate(&pool).await;
    let body = page(&pool, "/").await;
    let brief = section(&body, "<h2>Baseline checks failing</h2>", "</section>");

    assert!(
        brief.contains(
            r#"<a href="/baseline?result=fail">2</a> of 3 accounts fail a required check"#
        ),
        "{brief}"
    );
    assert!(brief.contains(r#"<a href="/baseline?result=unknown">1</a> has a check that could not be read (1 unknown result)"#), "{brief}");
    let failing: Vec<&str> = brief
        .split(r#"data-failing=""#)
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(
        failing,
        ["cloudtrail_multi_region", "data_events_s3_lambda"]
    );
    assert!(brief.contains(r#"<td class="num" data-failing="cloudtrail_multi_region"><a href="/baseline?result=fail&#38;check=cloudtrail_multi_region">2</a></td>"#));
    assert!(brief.contains(r#"<td class="num" data-failing="data_events_s3_lambda"><a href="/baseline?result=fail&#38;check=data_events_s3_lambda">1</a></td>"#), "the advisory failure is not counted");
    assert!(!brief.contains("not built"));
}

#[sqlx::test(migrations = "./migrations")]
async fn pages_say_plainly_when_no_baseline_is_read(pool: PgPool) {
    let not_read = "No baseline has been read yet: it is read at the end of each poll cycle";
    let body = page(&pool, "/baseline").await;
    assert!(body.contains(not_read), "{body}");
    assert!(!body.contains("data-count"));
    assert!(!body.contains("<table"));
    // The checks it will read are listed.
    for c in Check::ALL {
        assert!(body.contains(&html(c.title())), "{}", c.name());
    }
    let body = page(&pool, "/").await;
    let brief = section(&body, "<h2>Baseline checks failing</h2>", "</section>");
    assert!(brief.contains(not_read));
    assert!(!brief.contains("not built"));

    // An account without results yet.
    db::accounts::sync(
        &pool,
        &[AccountConfig {
            id: STAGING.parse().unwrap(),
            name: "staging-web".into(),
            environment: "staging".into(),
            owner: "team".into(),
            role_arn: None,
        }],
    )
    .await
    .unwrap();
    let (status, body) = get(&pool, "/accounts/444444444444").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("No baseline result for this account yet"));
    assert!(body.contains(r##"<a href="#baseline">not read yet</a>"##));
    // Its environment is known, so the filter is not a 400.
    let body = page(&pool, "/baseline?environment=staging").await;
    assert!(body.contains(not_read));
}

#[sqlx::test(migrations = "./migrations")]
async fn an_account_known_only_by_its_results_has_a_page(pool: PgPool) {
    let r = results(&[], &[]);
    db::baseline::store(&pool, "555555555555", &r, three_days_ago())
        .await
        .unwrap();
    let body = page(&pool, "/accounts/555555555555").await;
    assert!(body.contains(r#"<tbody id="check-cloudtrail_multi_region">"#));
    let body = page(&pool, "/baseline").await;
    // No name: the id stands in.
    assert!(body.contains(r#"<a href="/accounts/555555555555#baseline">555555555555</a>"#));
}
