//! Amazon Inspector (v2): `ListFindings`. Timestamps arrive as epoch seconds; `UNTRIAGED` is
//! informational; `CLOSED` is resolved.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use aws_sdk_inspector2::types::{
    DateFilter, FilterCriteria, Status as AccountStatus, StringComparison, StringFilter,
};

use super::{
    Enabled, NormaliseError, TargetCtx, account, arn_region, next_page, normalise_all,
    not_enabled_or, opt_text, region, text, time,
};
use crate::domain::{AccountId, CanonicalKey, Finding, Severity, Source, Status};
use crate::poller::capture::RawCapture;
use crate::poller::clients::Pace;
use crate::poller::errors::{CallError, classify};
use crate::poller::sink::{PageSink, Stop};

/// Reads the target: `BatchGetAccountStatus` for coverage, then `ListFindings` pages of 100 of
/// this account's findings (a delegated administrator's: every member's) updated since `since`. Inspector cannot sort by update time, so the
/// watermark moves when the listing ends.
pub async fn poll(t: &TargetCtx<'_>, sink: &mut PageSink<'_>) -> Result<Enabled, Stop> {
    let client = aws_sdk_inspector2::Client::new(&t.sdk);
    t.pace("BatchGetAccountStatus", Pace::Default).await;
    let status = match client
        .batch_get_account_status()
        .account_ids(t.account.as_str())
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return Ok(not_enabled_or(classify(&e))?),
    };
    let state = status
        .accounts()
        .first()
        .and_then(|a| a.state())
        .map(|s| s.status().clone());
    match state.map(|s| status_enabled(&s, t)) {
        Some(Enabled::Yes) => {}
        Some(other) => return Ok(other),
        None => {
            return Ok(Enabled::Unknown(
                "BatchGetAccountStatus returned no state for this account".into(),
            ));
        }
    }
    let mut criteria = FilterCriteria::builder();
    // The delegated administrator reads every member's findings; an account only its own.
    if !t.delegated_admin {
        let account_filter = StringFilter::builder()
            .comparison(StringComparison::Equals)
            .value(t.account.as_str())
            .build()
            .map_err(|e| CallError::other(e.to_string()))?;
        criteria = criteria.aws_account_id(account_filter);
    }
    if let Some(since) = t.since {
        let end = chrono::Utc::now() + chrono::Duration::days(1);
        criteria = criteria.updated_at(
            DateFilter::builder()
                .start_inclusive(aws_smithy_types::DateTime::from_millis(
                    since.timestamp_millis(),
                ))
                .end_inclusive(aws_smithy_types::DateTime::from_millis(
                    end.timestamp_millis(),
                ))
                .build(),
        );
    }
    let criteria = criteria.build();
    let mut token: Option<String> = None;
    loop {
        t.pace("ListFindings", Pace::Default).await;
        let capture = RawCapture::default();
        let out = client
            .list_findings()
            .filter_criteria(criteria.clone())
            .max_results(100)
            .set_next_token(token.take())
            .customize()
            .interceptor(capture.clone())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let raw = capture.json();
        sink.page(
            normalise_all(raw["findings"].as_array(), |f| normalise(f, t.seen_at)),
            false,
        )
        .await?;
        token = next_page(out.next_token());
        if token.is_none() {
            return Ok(Enabled::Yes);
        }
    }
}

/// Maps one finding of a `ListFindings` answer.
pub fn normalise(raw: &Value, seen_at: DateTime<Utc>) -> Result<Finding, NormaliseError> {
    let arn = text(raw, "/findingArn")?;
    let label = text(raw, "/severity")?;
    let severity = Severity::from_aws_label(label)
        .ok_or_else(|| NormaliseError(format!("severity: unknown label {label:?}")))?;
    let status = match text(raw, "/status")? {
        "ACTIVE" => Status::Open,
        "SUPPRESSED" => Status::Suppressed,
        "CLOSED" => Status::Resolved,
        other => return Err(NormaliseError(format!("status: unknown value {other:?}"))),
    };
    // The resource's region, else the finding ARN's.
    let region_code = opt_text(raw, "/resources/0/region")
        .or_else(|| arn_region(arn).map(str::to_owned))
        .ok_or_else(|| NormaliseError("no region in resources.0.region or findingArn".into()))?;
    let updated_at = time(raw, "/updatedAt")?;
    Ok(Finding {
        key: CanonicalKey::inspector(arn),
        source: Source::Inspector,
        via: Source::Inspector,
        native_id: arn.to_owned(),
        account_id: account(raw, "/awsAccountId")?,
        region: region(&region_code)?,
        severity,
        status,
        title: text(raw, "/title")?.to_owned(),
        finding_type: text(raw, "/type")?.to_owned(),
        resource_type: opt_text(raw, "/resources/0/type"),
        resource_id: opt_text(raw, "/resources/0/id"),
        control_id: None,
        first_observed_at: time(raw, "/firstObservedAt").unwrap_or(updated_at),
        updated_at,
        seen_at,
        raw: raw.clone(),
    })
}

/// `BatchGetAccountStatus` takes at most 10 account ids.
const MEMBER_BATCH: usize = 10;

/// What an account's Inspector status says of its coverage in the target's region.
fn status_enabled(status: &AccountStatus, t: &TargetCtx<'_>) -> Enabled {
    match status {
        AccountStatus::Enabled | AccountStatus::Enabling => Enabled::Yes,
        AccountStatus::Disabled | AccountStatus::Disabling => {
            Enabled::No(format!("Inspector is disabled in {}", t.region))
        }
        other => Enabled::Unknown(format!("Inspector account status {}", other.as_str())),
    }
}

/// `BatchGetAccountStatus` of the accounts, 10 at a time: the administrator reads its
/// members' status; an account it cannot read is `unknown`, with Inspector's reason.
pub async fn member_coverage(
    t: &TargetCtx<'_>,
    accounts: &[AccountId],
) -> Result<Vec<(AccountId, Enabled)>, CallError> {
    let client = aws_sdk_inspector2::Client::new(&t.sdk);
    let mut states: HashMap<String, Enabled> = HashMap::new();
    for chunk in accounts.chunks(MEMBER_BATCH) {
        t.pace("BatchGetAccountStatus", Pace::Default).await;
        let out = client
            .batch_get_account_status()
            .set_account_ids(Some(chunk.iter().map(|a| a.to_string()).collect()))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        for a in out.accounts() {
            let state = match a.state() {
                Some(s) => status_enabled(s.status(), t),
                None => Enabled::Unknown("BatchGetAccountStatus returned no state".into()),
            };
            states.insert(a.account_id().to_owned(), state);
        }
        for f in out.failed_accounts() {
            states.insert(
                f.account_id().to_owned(),
                Enabled::Unknown(format!(
                    "{}: {}",
                    f.error_code().as_str(),
                    f.error_message()
                )),
            );
        }
    }
    Ok(accounts
        .iter()
        .map(|a| {
            let state = states.remove(a.as_str()).unwrap_or_else(|| {
                Enabled::Unknown("BatchGetAccountStatus did not answer for this account".into())
            });
            (a.clone(), state)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::fixtures;

    #[test]
    fn real_findings() {
        let doc = fixtures::load("inspector2-list-findings.json");
        let found: Vec<Finding> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| normalise(f, Utc::now()).unwrap())
            .collect();
        let f = &found[0];
        assert_eq!(
            f.key,
            CanonicalKey::inspector(
                "arn:aws:inspector2:eu-central-1:111111111111:finding/bfb33634cadfb4eb500aa9db13dcdbfc"
            )
        );
        assert_eq!((f.severity, f.status), (Severity::High, Status::Open));
        assert_eq!(f.region.as_str(), "eu-central-1");
        assert_eq!(f.title, "CVE-2020-13988 - open-iscsi");
        assert_eq!(
            (f.resource_type.as_deref(), f.resource_id.as_deref()),
            (Some("AWS_EC2_INSTANCE"), Some("i-07b035550fa86717d"))
        );
        assert_eq!(f.updated_at.timestamp_millis(), 1_694_200_050_366);
    }

    #[test]
    fn statuses_and_untriaged() {
        let mut f = fixtures::load("inspector2-list-findings.json")["findings"][0].clone();
        f["status"] = "CLOSED".into();
        f["severity"] = "UNTRIAGED".into();
        let n = normalise(&f, Utc::now()).unwrap();
        assert_eq!(
            (n.status, n.severity),
            (Status::Resolved, Severity::Informational)
        );
        f["status"] = "SUPPRESSED".into();
        assert_eq!(
            normalise(&f, Utc::now()).unwrap().status,
            Status::Suppressed
        );
        f["status"] = "GONE".into();
        assert_eq!(
            normalise(&f, Utc::now()).unwrap_err().0,
            "status: unknown value \"GONE\""
        );
    }
}
