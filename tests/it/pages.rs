//! The posture pages through `Router::oneshot`: the numbers each page shows for fixture data in
//! the database, the links behind them, escaping of what AWS and the config supply, and the
//! 404 and 400 pages.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use http_body_util::BodyExt;
use sightline::config::AccountConfig;
use sightline::db::{accounts, coverage, findings, poll};
use sightline::domain::{Finding, Severity, Source, Status};
use sightline::sim::samples;
use sightline::web::format::findings_url;
use sightline::web::{AppState, Site};
use sqlx::PgPool;
use tower::ServiceExt;

const PAYMENTS: &str = "111111111111";
const EVIL: &str = "222222222222";
const QUIET: &str = "333333333333";
/// Has findings but is not in the config.
const STRAY: &str = "444444444444";
const SCRIPT: &str = "<script>alert(1)</script>";
const SCRIPT_ESCAPED: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";

fn site() -> Site {
    Site {
        regions: ["us-east-1", "eu-west-1", "ap-south-1"]
            .map(|r| r.parse().unwrap())
            .to_vec(),
        approved_regions: ["us-east-1", "eu-west-1"]
            .map(|r| r.parse().unwrap())
            .to_vec(),
        ..Site::default()
    }
}

async fn get(pool: &PgPool, uri: &str) -> (StatusCode, String) {
    let response = sightline::web::router(AppState::new(pool.clone(), site()))
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        !body.contains(SCRIPT),
        "{uri} writes a raw <script> from the data:\n{body}"
    );
    (status, body)
}

/// The page at `uri`, which must answer 200.
async fn page(pool: &PgPool, uri: &str) -> String {
    let (status, body) = get(pool, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}:\n{body}");
    body
}

/// An attribute value as askama writes it.
fn esc(s: &str) -> String {
    s.replace('&', "&#38;")
}

/// The link a page writes for a count of `n` findings filtered by `pairs`.
fn count_link(pairs: &[(&str, &str)], n: &str) -> String {
    let zero = if n == "0" { r#" class="zero""# } else { "" };
    format!(r#"<a href="{}"{zero}>{n}</a>"#, esc(&findings_url(pairs)))
}

/// The number in `<a data-count="{name}" …>N</a>`.
fn data_count(body: &str, name: &str) -> String {
    let at = body
        .find(&format!(r#"data-count="{name}""#))
        .unwrap_or_else(|| panic!("no data-count={name}"));
    let rest = &body[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest.find("</a>").unwrap();
    rest[start..end].to_owned()
}

/// Where `needle` first appears; it must appear.
fn pos(body: &str, needle: &str) -> usize {
    body.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not on the page"))
}

/// A finding numbered `i` (its identity), with the given place, severity and status.
fn finding(
    i: usize,
    account: &str,
    region: &str,
    source: Source,
    severity: Severity,
    status: Status,
    title: &str,
) -> Finding {
    let mut f = samples::control_findings(i, 1, Utc::now()).pop().unwrap();
    f.account_id = account.parse().unwrap();
    f.region = region.parse().unwrap();
    f.source = source;
    f.via = source;
    f.severity = severity;
    f.status = status;
    f.title = title.to_owned();
    // Security Hub findings are controls, one per title; the others have a type per title.
    f.control_id = (source == Source::SecurityHub)
        .then(|| format!("X.{}", title.bytes().map(u32::from).sum::<u32>()));
    f.finding_type = format!("Type/{}", title.len());
    f
}

/// The organisation every test reads:
///
/// | account | region | open findings |
/// |---|---|---|
/// | payments | us-east-1 | 2 critical, 3 high (Security Hub) |
/// | payments | eu-west-1 | 1 medium (GuardDuty) |
/// | payments | ap-south-1 (watched, unapproved) | 1 low (Inspector) |
/// | evil | us-east-1 | 1 high titled `<script>…`, 4 informational; 1 critical resolved |
/// | stray (not configured) | sa-east-1 (unwatched, unapproved) | 1 critical (Macie) |
///
/// Open: 3 critical, 4 high, 1 medium, 1 low, 4 informational = 13. Targets: the three
/// configured accounts × three watched regions × Security Hub and GuardDuty = 18; coverage for
/// 8 of them.
async fn organisation(pool: &PgPool) {
    let account = |id: &str, name: &str, env: &str, owner: &str| AccountConfig {
        id: id.parse().unwrap(),
        name: name.into(),
        environment: env.into(),
        owner: owner.into(),
        role_arn: None,
    };
    accounts::sync(
        pool,
        &[
            account(PAYMENTS, "prod-payments", "prod", "payments"),
            account(EVIL, SCRIPT, "dev", "mallory"),
            account(QUIET, "quiet", "staging", "nobody"),
        ],
    )
    .await
    .unwrap();

    use Severity::*;
    use Source::*;
    let mut batch = Vec::new();
    let mut i = 0;
    let mut add = |n: usize, account: &str, region: &str, source, severity, status, title: &str| {
        for _ in 0..n {
            batch.push(finding(i, account, region, source, severity, status, title));
            i += 1;
        }
    };
    add(
        2,
        PAYMENTS,
        "us-east-1",
        SecurityHub,
        Critical,
        Status::Open,
        "Root account has no MFA",
    );
    add(
        3,
        PAYMENTS,
        "us-east-1",
        SecurityHub,
        High,
        Status::Open,
        "S3 bucket is public",
    );
    add(
        1,
        PAYMENTS,
        "eu-west-1",
        GuardDuty,
        Medium,
        Status::Open,
        "Port probe",
    );
    add(
        1,
        PAYMENTS,
        "ap-south-1",
        Inspector,
        Low,
        Status::Open,
        "CVE-2024-0001 - openssl",
    );
    add(
        1,
        EVIL,
        "us-east-1",
        SecurityHub,
        High,
        Status::Open,
        SCRIPT,
    );
    add(
        4,
        EVIL,
        "us-east-1",
        SecurityHub,
        Informational,
        Status::Open,
        "Passed control",
    );
    add(
        1,
        EVIL,
        "us-east-1",
        SecurityHub,
        Critical,
        Status::Resolved,
        "Fixed long ago",
    );
    add(
        1,
        STRAY,
        "sa-east-1",
        Macie,
        Critical,
        Status::Open,
        "Credit card numbers in S3",
    );
    let mut conn = pool.acquire().await.unwrap();
    findings::upsert_batch(&mut conn, &batch).await.unwrap();
    drop(conn);
    // The pages' counts are as of the poller's last refresh.
    sightline::db::counts::refresh(pool).await.unwrap();

    let ids = [PAYMENTS, EVIL, QUIET].map(String::from);
    let regions = ["us-east-1", "eu-west-1", "ap-south-1"].map(String::from);
    let sources = ["securityhub", "guardduty"].map(String::from);
    poll::ensure_targets(pool, &ids, &regions, &sources)
        .await
        .unwrap();
    for (account, region, source, state, message) in [
        (PAYMENTS, "us-east-1", "securityhub", "enabled", ""),
        (
            PAYMENTS,
            "us-east-1",
            "guardduty",
            "not_enabled",
            "no GuardDuty detector in us-east-1",
        ),
        (PAYMENTS, "eu-west-1", "guardduty", "enabled", ""),
        (
            PAYMENTS,
            "ap-south-1",
            "securityhub",
            "error",
            "ServiceUnavailable: try later",
        ),
        (
            EVIL,
            "us-east-1",
            "securityhub",
            "access_denied",
            "AssumeRole denied: <b>no</b>",
        ),
        (
            EVIL,
            "us-east-1",
            "guardduty",
            "access_denied",
            "AssumeRole denied: <b>no</b>",
        ),
        (
            EVIL,
            "eu-west-1",
            "securityhub",
            "access_denied",
            "AssumeRole denied: <b>no</b>",
        ),
        (
            EVIL,
            "eu-west-1",
            "guardduty",
            "access_denied",
            "AssumeRole denied: <b>no</b>",
        ),
    ] {
        coverage::record(pool, account, region, source, state, message)
            .await
            .unwrap();
    }
    sqlx::query(
        "UPDATE poll_targets SET last_polled_at = now() - interval '5 minutes', \
         last_success_at = now() - interval '5 minutes' - (length(region) || ' minutes')::interval \
         WHERE account_id = $1",
    )
    .bind(PAYMENTS)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn overview_counts_open_findings_and_links_each_number(pool: PgPool) {
    organisation(&pool).await;
    let body = page(&pool, "/").await;

    assert_eq!(data_count(&body, "open-total"), "13");
    for (severity, n) in [
        ("critical", "3"),
        ("high", "4"),
        ("medium", "1"),
        ("low", "1"),
        ("informational", "4"),
    ] {
        assert_eq!(data_count(&body, &format!("open-severity-{severity}")), n);
        // The markup contract of the browser test.
        assert!(body.contains(&format!(
            r#"<a data-count="open-severity-{severity}" href="/findings?status=open&#38;severity={severity}">{n}</a>"#
        )));
    }
    assert!(body.contains(r#"<a data-count="open-total" href="/findings?status=open">13</a>"#));

    // By source: Security Hub has 2 critical, 4 high, 4 informational; Macie 1 critical.
    assert!(body.contains(&count_link(
        &[
            ("status", "open"),
            ("source", "securityhub"),
            ("severity", "high")
        ],
        "4"
    )));
    assert!(body.contains(&count_link(
        &[("status", "open"), ("source", "securityhub")],
        "10"
    )));
    assert!(body.contains(&count_link(
        &[
            ("status", "open"),
            ("source", "macie"),
            ("severity", "critical")
        ],
        "1"
    )));

    // Ranking: payments (2 critical), then stray (1 critical), then evil (0 critical, 1 high),
    // though evil has more open findings than stray.
    assert!(body.contains("ranked by open critical findings, then high"));
    let top = &body[pos(&body, "Accounts with the most severe open findings")..];
    let (p, s, e) = (
        pos(top, &format!("/accounts/{PAYMENTS}\"")),
        pos(top, &format!("/accounts/{STRAY}\"")),
        pos(top, &format!("/accounts/{EVIL}\"")),
    );
    assert!(p < s && s < e, "{p} {s} {e}");
    assert!(!top[..pos(top, "Coverage gaps")].contains(&format!("/accounts/{QUIET}\"")));
    assert!(top.contains(&count_link(
        &[
            ("status", "open"),
            ("account", EVIL),
            ("severity", "informational")
        ],
        "4"
    )));
    assert!(body.contains(SCRIPT_ESCAPED), "the account name, escaped");

    // Coverage gaps: 1 not enabled, 4 denied, 1 error, 10 targets never polled, of 18.
    let gaps = &body[pos(&body, "Coverage gaps")..];
    assert!(
        gaps.contains("16 of 18 account × region × service targets"),
        "{gaps}"
    );
    for (state, n) in [
        ("not_enabled", 1),
        ("access_denied", 4),
        ("error", 1),
        ("not_polled", 10),
    ] {
        assert!(
            gaps.contains(&format!(r#"<a href="/coverage?state={state}">{n}</a>"#)),
            "{state} {n}"
        );
    }
    assert!(body.contains("No baseline has been read yet") && body.contains(r#"href="/baseline""#));

    // Freshness: the enabled targets (payments us-east-1 Security Hub, eu-west-1 GuardDuty).
    assert!(body.contains("2 account × region × service"), "{body}");
    assert_eq!(body.matches("14 min ago").count(), 2, "oldest and newest");

    // No rollups yet: a note instead of a trend.
    assert!(body.contains("once daily rollups are recorded"));
    assert!(!body.contains("<polyline"));
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn overview_draws_the_trend_from_daily_rollups(pool: PgPool) {
    for (days_ago, n) in [(2, 10), (1, 15), (0, 12)] {
        for (severity, share) in [("high", n), ("low", 1)] {
            sqlx::query(
                "INSERT INTO daily_rollups (day, account_id, region, source, severity, open_count) \
                 VALUES (current_date - $1, $2, 'us-east-1', 'guardduty', $3::severity, $4)",
            )
            .bind(days_ago)
            .bind(PAYMENTS)
            .bind(severity)
            .bind(share)
            .execute(&pool)
            .await
            .unwrap();
        }
    }
    // One outside the 30 days, not drawn.
    sqlx::query(
        "INSERT INTO daily_rollups (day, account_id, region, source, severity, open_count) \
         VALUES (current_date - 40, $1, 'us-east-1', 'guardduty', 'high', 999)",
    )
    .bind(PAYMENTS)
    .execute(&pool)
    .await
    .unwrap();
    let body = page(&pool, "/").await;
    assert!(body.contains("<polyline"), "{body}");
    assert!(body.contains("13 open on"), "{body}");
    assert!(body.contains("low 11, high 16"), "{body}");
    assert!(body.contains("3 days with data"));
    assert!(!body.contains("once daily rollups are recorded"));
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn accounts_table_counts_sorts_and_refuses_bad_sorts(pool: PgPool) {
    organisation(&pool).await;
    let body = page(&pool, "/accounts").await;
    assert!(
        body.contains("4 accounts"),
        "three configured and one stray"
    );
    for (pairs, n) in [
        (vec![("account", PAYMENTS), ("severity", "critical")], "2"),
        (vec![("account", PAYMENTS), ("severity", "high")], "3"),
        (vec![("account", PAYMENTS)], "7"),
        (vec![("account", EVIL), ("severity", "critical")], "0"),
        (vec![("account", EVIL)], "5"),
        (vec![("account", STRAY), ("severity", "critical")], "1"),
        (vec![("account", QUIET)], "0"),
    ] {
        let mut all = vec![("status", "open")];
        all.extend(pairs);
        assert!(body.contains(&count_link(&all, n)), "{all:?} = {n}");
    }
    // Coverage: payments has 6 targets, 2 enabled; evil none enabled; quiet never polled.
    assert!(body.contains(">2 of 6 enabled<"));
    assert!(body.contains(">0 of 6 enabled<"));
    assert!(body.contains(SCRIPT_ESCAPED));
    assert!(body.contains("not in config"), "the stray account");
    // Default: by name. The escaped "<script…" sorts before letters.
    let order = |body: &str| {
        let mut ids = [PAYMENTS, EVIL, QUIET, STRAY];
        ids.sort_by_key(|id| pos(body, &format!("<a href=\"/accounts/{id}\">")));
        ids
    };
    assert_eq!(order(&body), [STRAY, EVIL, PAYMENTS, QUIET]);
    let body = page(&pool, "/accounts?sort=critical&dir=desc").await;
    assert_eq!(order(&body), [PAYMENTS, STRAY, EVIL, QUIET]);
    assert!(body.contains(r#"aria-sort="descending""#));
    assert!(body.contains(r#"href="/accounts?sort=critical&#38;dir=asc""#));
    let body = page(&pool, "/accounts?sort=open&dir=asc").await;
    assert_eq!(order(&body), [QUIET, STRAY, EVIL, PAYMENTS]);
    let body = page(&pool, "/accounts?sort=id").await;
    assert_eq!(order(&body), [PAYMENTS, EVIL, QUIET, STRAY]);

    for (uri, names) in [
        ("/accounts?sort=severity", ["sort", "last_polled"]),
        ("/accounts?sort=name&dir=sideways", ["dir", "asc or desc"]),
        ("/accounts?page=2", ["page", "unknown parameter"]),
    ] {
        let (status, body) = get(&pool, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        for n in names {
            assert!(body.contains(n), "{uri}: {n} in {body}");
        }
    }
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn account_page_shows_its_posture_coverage_and_events(pool: PgPool) {
    organisation(&pool).await;
    let body = page(&pool, &format!("/accounts/{PAYMENTS}")).await;
    assert!(body.contains("prod-payments") && body.contains("payments"));
    let open = |pairs: &[(&str, &str)], n: &str| {
        let mut all = vec![("status", "open"), ("account", PAYMENTS)];
        all.extend_from_slice(pairs);
        count_link(&all, n)
    };
    assert!(body.contains(&open(&[], "7")));
    assert!(body.contains(&open(&[("severity", "critical")], "2")));
    // By region, and the unapproved one marked.
    assert!(body.contains(&open(&[("region", "us-east-1"), ("severity", "high")], "3")));
    assert!(body.contains(&open(&[("region", "ap-south-1")], "1")));
    let region_table =
        &body[pos(&body, "Open findings by region")..pos(&body, "Open findings by source")];
    assert!(region_table.contains(
        r#"<a href="/regions/ap-south-1">ap-south-1</a> <span class="tag unapproved">unapproved</span>"#
    ));
    assert!(!region_table.contains(r#"us-east-1</a> <span class="tag unapproved">"#));
    // By source.
    assert!(body.contains(&open(
        &[("source", "guardduty"), ("severity", "medium")],
        "1"
    )));
    assert!(body.contains(&open(&[("source", "inspector")], "1")));
    // Kinds: the 3 public buckets come first.
    let kinds = &body[pos(&body, "Most frequent open findings")..pos(&body, "<h2>Coverage")];
    assert!(
        pos(kinds, "S3 bucket is public") < pos(kinds, "Root account has no MFA"),
        "{kinds}"
    );
    assert!(kinds.contains(&open(
        &[("source", "securityhub"), ("q", "S3 bucket is public")],
        "3"
    )));
    // Coverage: a state per cell, with the message on hover and in text.
    assert!(body.contains(
        r#"<span class="state not_enabled" title="no GuardDuty detector in us-east-1">not enabled</span>"#
    ));
    assert!(body.contains(r#"<td class="wrap small">no GuardDuty detector in us-east-1</td>"#));
    assert!(body.contains(
        r#"<span class="state error" title="ServiceUnavailable: try later">error</span>"#
    ));
    assert!(body.contains(r#"<span class="state not_polled">not polled yet</span>"#));
    assert!(body.contains("2 of 6 region × service targets enabled"));
    // Events: one "new" per finding, each linking to it.
    let f = finding(
        0,
        PAYMENTS,
        "us-east-1",
        Source::SecurityHub,
        Severity::Critical,
        Status::Open,
        "",
    );
    assert!(body.contains(&format!(
        r#"<a href="/findings/{}">Root account has no MFA</a>"#,
        f.key.finding_id()
    )));
    assert_eq!(body.matches("<strong>new</strong>").count(), 7);

    // The evil account: its name and its finding's title, escaped.
    let body = page(&pool, &format!("/accounts/{EVIL}")).await;
    assert!(body.contains(&format!("<h1>{SCRIPT_ESCAPED}")));
    assert!(
        body.contains(&format!(">{SCRIPT_ESCAPED}</a>")),
        "the event's title"
    );
    assert!(body.contains("AssumeRole denied: &#60;b&#62;no&#60;/b&#62;"));
    assert!(body.contains("first seen resolved"));

    // Not configured but with findings: shown, and said so.
    let body = page(&pool, &format!("/accounts/{STRAY}")).await;
    assert!(body.contains("not in config"));
    assert!(body.contains(&count_link(&[("status", "open"), ("account", STRAY)], "1")));
    // Configured, no finding: shown with zeros.
    let body = page(&pool, &format!("/accounts/{QUIET}")).await;
    assert!(body.contains(&count_link(&[("status", "open"), ("account", QUIET)], "0")));

    for uri in [
        "/accounts/999999999999",
        "/accounts/12",
        "/accounts/abc",
        "/accounts/1111111111111",
        "/accounts/%3Cscript%3E",
    ] {
        let (status, body) = get(&pool, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
        assert!(body.contains("Not found"));
    }
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn regions_mark_unapproved_activity(pool: PgPool) {
    organisation(&pool).await;
    let body = page(&pool, "/regions").await;
    let notice = &body[pos(&body, "Activity in unapproved regions")..pos(&body, "<table")];
    // ap-south-1 (watched, unapproved) has one finding; sa-east-1 (not watched) has one.
    assert!(
        notice.contains(r#"<a href="/regions/ap-south-1">ap-south-1</a>: 1 open finding</li>"#),
        "{notice}"
    );
    assert!(notice.contains(r#"<a href="/regions/sa-east-1">sa-east-1</a>: 1 open finding</li>"#));
    assert!(!notice.contains("us-east-1"));
    assert!(body.contains(r#"sa-east-1</a> <span class="tag unapproved">unapproved</span> <span class="tag">not watched</span>"#));
    let open = |pairs: &[(&str, &str)], n: &str| {
        let mut all = vec![("status", "open")];
        all.extend_from_slice(pairs);
        count_link(&all, n)
    };
    assert!(body.contains(&open(
        &[("region", "us-east-1"), ("severity", "critical")],
        "2"
    )));
    assert!(body.contains(&open(&[("region", "us-east-1")], "10")));
    assert!(body.contains(&open(
        &[("region", "eu-west-1"), ("severity", "medium")],
        "1"
    )));
    // Accounts with open findings in us-east-1: payments and evil.
    assert!(body.contains(r#"<a href="/regions/us-east-1">2</a>"#));
    // Coverage: us-east-1 has 6 targets, 1 enabled.
    assert!(body.contains(r#"<a href="/coverage?region=us-east-1">1 of 6 enabled</a>"#));

    let body = page(&pool, "/regions/us-east-1").await;
    assert!(!body.contains("unapproved region"));
    assert!(body.contains(&open(
        &[
            ("region", "us-east-1"),
            ("account", EVIL),
            ("severity", "high")
        ],
        "1"
    )));
    assert!(body.contains(&open(
        &[("region", "us-east-1"), ("source", "securityhub")],
        "10"
    )));
    assert!(body.contains(SCRIPT_ESCAPED));
    assert!(body.contains(r#"<span class="state access_denied" title="AssumeRole denied: &#60;b&#62;no&#60;/b&#62;">access denied</span>"#));
    assert!(body.contains("2 of 3 accounts have open findings here"));

    let body = page(&pool, "/regions/ap-south-1").await;
    assert!(body.contains("Activity in an unapproved region"));
    assert!(body.contains(&open(
        &[
            ("region", "ap-south-1"),
            ("account", PAYMENTS),
            ("severity", "low")
        ],
        "1"
    )));
    let body = page(&pool, "/regions/sa-east-1").await;
    assert!(body.contains("not in the regions the config watches"));
    assert!(body.contains(&open(&[("region", "sa-east-1"), ("source", "macie")], "1")));

    for uri in [
        "/regions/eu-north-1",
        "/regions/mars",
        "/regions/US-EAST-1",
        "/regions/us-east-1x",
    ] {
        let (status, body) = get(&pool, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
    }
}

/// 120 accounts (`acct-000` …), Security Hub read in us-east-1 in each: enabled in the first 10,
/// not enabled in the other 110.
async fn many_accounts(pool: &PgPool) {
    let configs: Vec<AccountConfig> = (0..120)
        .map(|k| AccountConfig {
            id: format!("{:012}", 500_000_000_000u64 + k).parse().unwrap(),
            name: format!("acct-{k:03}"),
            environment: "prod".into(),
            owner: "team".into(),
            role_arn: None,
        })
        .collect();
    accounts::sync(pool, &configs).await.unwrap();
    for (k, a) in configs.iter().enumerate() {
        let (state, message) = if k < 10 {
            ("enabled", "")
        } else {
            ("not_enabled", "Security Hub is not subscribed")
        };
        coverage::record(
            pool,
            a.id.as_str(),
            "us-east-1",
            "securityhub",
            state,
            message,
        )
        .await
        .unwrap();
    }
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn coverage_pages_through_many_accounts_and_counts_them_all(pool: PgPool) {
    many_accounts(&pool).await;
    let account_rows = |body: &str| body.matches(r#"<td class="acct" rowspan="#).count();

    let body = page(&pool, "/coverage").await;
    // The counts are of every account, not of the page: 120 × 3 regions × 1 source.
    for (state, n) in [("enabled", 10), ("not_enabled", 110), ("not_polled", 240)] {
        assert!(
            body.contains(&format!(r#"<a href="/coverage?state={state}">{n}</a>"#)),
            "{state} {n}"
        );
    }
    assert!(body.contains("360 account × region × service targets"));
    assert!(body.contains("Accounts 1–50 of 120"), "{body}");
    assert!(body.contains(r#"<a rel="next" href="/coverage?page=2">Next 50 »</a>"#));
    assert!(!body.contains(r#"rel="prev""#));
    assert_eq!(account_rows(&body), 50);
    assert!(body.contains(">acct-049</a>") && !body.contains(">acct-050</a>"));
    // The reasons are those of the page's accounts: 40 of acct-010 … acct-049.
    assert_eq!(
        body.matches("Security Hub is not subscribed</td>").count(),
        40
    );

    let body = page(&pool, "/coverage?page=3").await;
    assert!(body.contains("Accounts 101–120 of 120"), "{body}");
    assert!(body.contains(r#"<a rel="prev" href="/coverage?page=2">« Previous 50</a>"#));
    assert!(!body.contains(r#"rel="next""#));
    assert_eq!(account_rows(&body), 20);
    assert!(body.contains(">acct-119</a>") && !body.contains(">acct-099</a>"));

    // Narrowed to a state, the pages are of the accounts with such a row.
    let body = page(&pool, "/coverage?state=not_enabled&page=3").await;
    assert!(body.contains("Accounts 101–110 of 110"), "{body}");
    assert!(
        body.contains(r#"href="/coverage?state=not_enabled&#38;page=2""#),
        "{body}"
    );
    assert_eq!(account_rows(&body), 10);

    for uri in [
        "/coverage?page=4",
        "/coverage?page=0",
        "/coverage?state=enabled&page=2",
    ] {
        let (status, body) = get(&pool, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(body.contains("page: "), "{body}");
    }
    let (_, body) = get(&pool, "/coverage?page=4").await;
    assert!(body.contains("there are 3 pages of accounts"), "{body}");
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn a_region_of_many_accounts_lists_the_first_hundred(pool: PgPool) {
    many_accounts(&pool).await;
    let body = page(&pool, "/regions/us-east-1").await;
    assert!(
        body.contains(
            "0 of 120 accounts have open findings here; most severe first, the first 100 shown"
        ),
        "{body}"
    );
    assert!(body.contains(r#"<a href="/coverage?region=us-east-1">coverage in us-east-1</a>"#));
    // No findings: by name. The accounts table lists acct-000 … acct-099; the services not
    // reporting (acct-010 …) stop at 100 of 110.
    for (name, n) in [
        ("acct-005", 1),
        ("acct-050", 2),
        ("acct-100", 1),
        ("acct-119", 0),
    ] {
        assert_eq!(body.matches(&format!(">{name}</a>")).count(), n, "{name}");
    }
    assert_eq!(
        body.matches("Security Hub is not subscribed</td>").count(),
        100
    );
    assert!(body.contains("The first 100 of 110;"), "{body}");
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn coverage_shows_every_target_and_why(pool: PgPool) {
    organisation(&pool).await;
    let body = page(&pool, "/coverage").await;
    for (state, n) in [
        ("enabled", 2),
        ("not_enabled", 1),
        ("access_denied", 4),
        ("error", 1),
        ("unknown", 0),
        ("not_polled", 10),
    ] {
        let class = if n == 0 { r#" class="zero""# } else { "" };
        assert!(
            body.contains(&format!(
                r#"<a href="/coverage?state={state}"{class}>{n}</a>"#
            )),
            "{state} {n}"
        );
    }
    assert!(body.contains("18 account × region × service targets"));
    // 3 accounts × 3 regions, 2 sources each.
    assert_eq!(
        body.matches("<td class=\"nowrap\"><span class=\"state")
            .count(),
        18
    );
    assert!(body.contains(r#"<span class="state enabled">enabled</span>"#));
    // Messages in text, grouped: evil's four denied targets are one line.
    assert!(
        body.contains(
            r#">4</td><td class="small">GuardDuty, Security Hub in eu-west-1, us-east-1</td>"#
        ),
        "{body}"
    );
    assert_eq!(
        body.matches("AssumeRole denied: &#60;b&#62;no&#60;/b&#62;</td>")
            .count(),
        1
    );
    assert!(body.contains(r#"<td class="wrap small">no GuardDuty detector in us-east-1</td>"#));

    let body = page(&pool, "/coverage?state=access_denied").await;
    assert!(body.contains(&format!(
        r#"<a href="/accounts/{EVIL}">{SCRIPT_ESCAPED}</a>"#
    )));
    assert!(!body.contains(&format!(
        r#"<a href="/accounts/{PAYMENTS}">prod-payments</a><div"#
    )));
    let body = page(&pool, &format!("/coverage?account={PAYMENTS}")).await;
    assert_eq!(
        body.matches("<td class=\"nowrap\"><span class=\"state")
            .count(),
        6
    );
    let body = page(&pool, "/coverage?region=eu-west-1").await;
    assert_eq!(
        body.matches("<td class=\"nowrap\"><span class=\"state")
            .count(),
        6
    );

    for (uri, param) in [
        ("/coverage?state=off", "state"),
        ("/coverage?account=1", "account"),
        ("/coverage?region=moon", "region"),
    ] {
        let (status, body) = get(&pool, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(body.contains(&format!("{param}: ")), "{body}");
    }
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn status_sums_up_cycles_and_lists_failures(pool: PgPool) {
    organisation(&pool).await;
    let body = page(&pool, "/status").await;
    assert!(body.contains("No poll cycle has run yet"));

    let now = Utc::now();
    let old = uuid::Uuid::new_v4();
    let new = uuid::Uuid::new_v4();
    let run = |cycle,
               account: Option<&str>,
               region: Option<&str>,
               source: Option<&str>,
               start: i64,
               secs: i64,
               seen: i32,
               changed: i32,
               throttles: i32,
               error: Option<&str>| {
        let pool = pool.clone();
        let (account, region, source, error) = (
            account.map(String::from),
            region.map(String::from),
            source.map(String::from),
            error.map(String::from),
        );
        async move {
            sqlx::query(
                "INSERT INTO poll_runs (cycle_id, account_id, region, source, started_at, ended_at, \
                 pages, findings_seen, findings_changed, throttles, retries, error) \
                 VALUES ($1, $2, $3, $4::finding_source, $5, $6, 1, $7, $8, $9, $9, $10)",
            )
            .bind(cycle)
            .bind(account)
            .bind(region)
            .bind(source)
            .bind(now - Duration::minutes(start))
            .bind(now - Duration::minutes(start) + Duration::seconds(secs))
            .bind(seen)
            .bind(changed)
            .bind(throttles)
            .bind(error)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    run(old, None, None, None, 20, 30, 0, 0, 0, None).await;
    run(
        old,
        Some(PAYMENTS),
        Some("us-east-1"),
        Some("securityhub"),
        20,
        10,
        100,
        100,
        0,
        None,
    )
    .await;
    run(new, None, None, None, 5, 75, 0, 0, 0, None).await;
    run(
        new,
        Some(PAYMENTS),
        Some("us-east-1"),
        Some("securityhub"),
        5,
        10,
        40,
        3,
        7,
        None,
    )
    .await;
    run(
        new,
        Some(PAYMENTS),
        Some("eu-west-1"),
        Some("guardduty"),
        5,
        10,
        2,
        1,
        0,
        None,
    )
    .await;
    for (region, source) in [
        ("us-east-1", "securityhub"),
        ("eu-west-1", "securityhub"),
        ("us-east-1", "guardduty"),
    ] {
        run(
            new,
            Some(EVIL),
            Some(region),
            Some(source),
            5,
            1,
            0,
            0,
            0,
            Some("AssumeRole denied"),
        )
        .await;
    }
    sqlx::query(
        "INSERT INTO unparseable_findings (account_id, region, via, error, raw) \
         VALUES ($1, 'us-east-1', 'securityhub', 'missing Id', '{}')",
    )
    .bind(PAYMENTS)
    .execute(&pool)
    .await
    .unwrap();

    let body = page(&pool, "/status").await;
    let cycles = &body[pos(&body, "Recent cycles")..pos(&body, "Errors in the latest cycle")];
    // Newest first: 5 targets, 1 min 15 s, 42 seen, 4 changed, 3 errors, 7 throttles.
    assert!(
        cycles.contains(r#"<td class="num">1 min 15 s</td><td class="num">1</td><td class="num">5</td><td class="num">0</td><td class="num">5</td><td class="num">42</td><td class="num">4</td><td class="num">0</td><td class="num"><strong class="bad-text">3</strong></td><td class="num">7</td><td class="num">7</td>"#),
        "{cycles}"
    );
    assert!(
        cycles
            .contains(r#"<td class="num">30.0 s</td><td class="num">1</td><td class="num">1</td>"#)
    );
    assert!(pos(cycles, "1 min 15 s") < pos(cycles, "30.0 s"));
    let errors = &body
        [pos(&body, "Errors in the latest cycle")..pos(&body, "Throttling in the latest cycle")];
    assert!(errors.contains(&format!(r#"<a href="/accounts/{EVIL}">{SCRIPT_ESCAPED}</a></td><td class="num">3</td><td class="small">GuardDuty in us-east-1; Security Hub in eu-west-1, us-east-1</td><td class="wrap small">AssumeRole denied</td>"#)), "{errors}");
    let throttled =
        &body[pos(&body, "Throttling in the latest cycle")..pos(&body, "Data age per source")];
    assert!(throttled.contains(r#"prod-payments</a></td><td class="nowrap">us-east-1</td><td class="nowrap">Security Hub</td><td class="num">7</td>"#), "{throttled}");
    assert!(!throttled.contains("eu-west-1"));
    // Data age: payments' enabled targets succeeded 14 (us-east-1) and 14 (eu-west-1) min ago.
    assert!(
        body.contains("<td>Security Hub</td><td class=\"num\">14 min"),
        "{body}"
    );
    assert!(body.contains("<td>GuardDuty</td><td class=\"num\">14 min"));
    assert!(body.contains(r#"<div class="label">Poll targets</div><div class="value">18</div>"#));
    assert!(
        body.contains(r#"<div class="label">Unparseable findings</div><div class="value">1</div>"#)
    );
    assert!(body.contains("missing Id"));
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn empty_database_pages_render(pool: PgPool) {
    let body = page(&pool, "/").await;
    assert_eq!(data_count(&body, "open-total"), "0");
    assert!(body.contains("No account has an open finding"));
    assert!(body.contains("No enabled service has been polled yet"));
    for uri in [
        "/accounts",
        "/regions",
        "/regions/us-east-1",
        "/coverage",
        "/status",
    ] {
        page(&pool, uri).await;
    }
}
