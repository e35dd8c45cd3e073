//! Delegated-administrator mode: what the administrator account says of its members, per
//! service and region. Findings of every member come from the administrator's own reads (each
//! source's `poll`); this module tells which accounts those reads cover, for their coverage:
//! Security Hub, GuardDuty and Macie `ListMembers` (associated members only), Inspector
//! `BatchGetAccountStatus` of the watched accounts, and Access Analyzer's organisation
//! analyzers, whose zone of trust is every account of the organisation.

use std::collections::HashMap;

use aws_sdk_accessanalyzer::types::{AnalyzerStatus, Type as AnalyzerType};
use aws_sdk_inspector2::types::Status as InspectorStatus;
use aws_sdk_macie2::types::RelationshipStatus;

use super::{Enabled, TargetCtx, next_page};
use crate::domain::{AccountId, Source};
use crate::poller::clients::Pace;
use crate::poller::errors::{CallError, classify};

/// `BatchGetAccountStatus` takes at most 10 account ids.
const INSPECTOR_BATCH: usize = 10;

/// The coverage of each of `accounts` (the watched accounts other than the administrator) by
/// `source` as the administrator `t.account` sees it in `t.region`.
pub async fn coverage(
    t: &TargetCtx<'_>,
    source: Source,
    accounts: &[AccountId],
) -> Result<Vec<(AccountId, Enabled)>, CallError> {
    let not_member = |what: &str| {
        Enabled::No(format!(
            "not an enabled member of {what} of the delegated administrator {} in {}",
            t.account, t.region
        ))
    };
    let members: HashMap<String, Enabled> = match source {
        Source::SecurityHub => security_hub(t).await?,
        Source::GuardDuty => guardduty(t).await?,
        Source::Macie => macie(t).await?,
        Source::Inspector => return inspector(t, accounts).await,
        Source::AccessAnalyzer => return access_analyzer(t, accounts).await,
    };
    let name = source.display_name();
    Ok(accounts
        .iter()
        .map(|a| {
            let state = members
                .get(a.as_str())
                .cloned()
                .unwrap_or_else(|| not_member(name));
            (a.clone(), state)
        })
        .collect())
}

/// `ListMembers` (associated only): `ENABLED` members are covered.
async fn security_hub(t: &TargetCtx<'_>) -> Result<HashMap<String, Enabled>, CallError> {
    let client = aws_sdk_securityhub::Client::new(&t.sdk);
    let mut out = HashMap::new();
    let mut token = None;
    loop {
        t.pace("ListMembers", Pace::Default).await;
        let page = client
            .list_members()
            .only_associated(true)
            .max_results(50)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        for m in page.members() {
            let (Some(id), status) = (m.account_id(), m.member_status().unwrap_or("")) else {
                continue;
            };
            let state = if status.eq_ignore_ascii_case("ENABLED") {
                Enabled::Yes
            } else {
                Enabled::No(format!("Security Hub member status {status}"))
            };
            out.insert(id.to_owned(), state);
        }
        token = next_page(page.next_token());
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// `ListMembers` of the administrator's detector (associated only): `Enabled` members are
/// covered.
async fn guardduty(t: &TargetCtx<'_>) -> Result<HashMap<String, Enabled>, CallError> {
    let client = aws_sdk_guardduty::Client::new(&t.sdk);
    t.pace("ListDetectors", Pace::Default).await;
    let detectors = client
        .list_detectors()
        .send()
        .await
        .map_err(|e| classify(&e))?;
    let mut out = HashMap::new();
    for detector in detectors.detector_ids() {
        let mut token = None;
        loop {
            t.pace("ListMembers", Pace::Default).await;
            let page = client
                .list_members()
                .detector_id(detector)
                .only_associated("true")
                .max_results(50)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| classify(&e))?;
            for m in page.members() {
                let Some(id) = m.account_id() else { continue };
                let status = m.relationship_status().unwrap_or("");
                let state = if status.eq_ignore_ascii_case("Enabled") {
                    Enabled::Yes
                } else {
                    Enabled::No(format!("GuardDuty member status {status}"))
                };
                out.insert(id.to_owned(), state);
            }
            token = next_page(page.next_token());
            if token.is_none() {
                break;
            }
        }
    }
    Ok(out)
}

/// `ListMembers` (associated only): `Enabled` members are covered, and `Paused` ones too (a
/// paused Macie still holds its findings).
async fn macie(t: &TargetCtx<'_>) -> Result<HashMap<String, Enabled>, CallError> {
    let client = aws_sdk_macie2::Client::new(&t.sdk);
    let mut out = HashMap::new();
    let mut token = None;
    loop {
        t.pace("ListMembers", Pace::Default).await;
        let page = client
            .list_members()
            .only_associated("true")
            .max_results(50)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        for m in page.members() {
            let Some(id) = m.account_id() else { continue };
            let state = match m.relationship_status() {
                Some(RelationshipStatus::Enabled) | Some(RelationshipStatus::Paused) => {
                    Enabled::Yes
                }
                Some(other) => Enabled::No(format!("Macie member status {}", other.as_str())),
                None => Enabled::Unknown("Macie member with no status".into()),
            };
            out.insert(id.to_owned(), state);
        }
        token = next_page(page.next_token());
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// `BatchGetAccountStatus` of the accounts, 10 at a time: the administrator reads its
/// members' status; an account it cannot read is `unknown`, with Inspector's reason.
async fn inspector(
    t: &TargetCtx<'_>,
    accounts: &[AccountId],
) -> Result<Vec<(AccountId, Enabled)>, CallError> {
    let client = aws_sdk_inspector2::Client::new(&t.sdk);
    let mut states: HashMap<String, Enabled> = HashMap::new();
    for chunk in accounts.chunks(INSPECTOR_BATCH) {
        t.pace("BatchGetAccountStatus", Pace::Default).await;
        let out = client
            .batch_get_account_status()
            .set_account_ids(Some(chunk.iter().map(|a| a.to_string()).collect()))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        for a in out.accounts() {
            let state = match a.state().map(|s| s.status()) {
                Some(InspectorStatus::Enabled) | Some(InspectorStatus::Enabling) => Enabled::Yes,
                Some(InspectorStatus::Disabled) | Some(InspectorStatus::Disabling) => {
                    Enabled::No(format!("Inspector is disabled in {}", t.region))
                }
                Some(other) => {
                    Enabled::Unknown(format!("Inspector account status {}", other.as_str()))
                }
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

/// An active organisation analyzer (external or unused access) covers every account.
async fn access_analyzer(
    t: &TargetCtx<'_>,
    accounts: &[AccountId],
) -> Result<Vec<(AccountId, Enabled)>, CallError> {
    let active = organisation_analyzers(t).await?.is_empty().then(|| {
        Enabled::No(format!(
            "no active organisation analyzer in the delegated administrator {} in {}",
            t.account, t.region
        ))
    });
    let state = active.unwrap_or(Enabled::Yes);
    Ok(accounts
        .iter()
        .map(|a| (a.clone(), state.clone()))
        .collect())
}

/// The ARNs of the active organisation analyzers (types `ORGANIZATION` and
/// `ORGANIZATION_UNUSED_ACCESS`) in the target: what a delegated administrator reads.
pub async fn organisation_analyzers(t: &TargetCtx<'_>) -> Result<Vec<String>, CallError> {
    let client = aws_sdk_accessanalyzer::Client::new(&t.sdk);
    let mut out = Vec::new();
    for kind in [
        AnalyzerType::Organization,
        AnalyzerType::OrganizationUnusedAccess,
    ] {
        let mut token = None;
        loop {
            t.pace("ListAnalyzers", Pace::Default).await;
            let page = client
                .list_analyzers()
                .r#type(kind.clone())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| classify(&e))?;
            out.extend(
                page.analyzers()
                    .iter()
                    .filter(|a| *a.status() == AnalyzerStatus::Active)
                    .map(|a| a.arn().to_owned()),
            );
            token = next_page(page.next_token());
            if token.is_none() {
                break;
            }
        }
    }
    Ok(out)
}
