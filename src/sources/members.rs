//! Delegated-administrator mode: what the administrator account says of its members, per
//! service and region. Findings of every member come from the administrator's own reads (each
//! source's `poll`); this module tells which accounts those reads cover, for their coverage:
//! Security Hub, GuardDuty and Macie `ListMembers` (associated members only), Inspector
//! `BatchGetAccountStatus` of the watched accounts, and Access Analyzer's organisation
//! analyzers, whose zone of trust is every account of the organisation. Each call lives in
//! its source's module; this one puts their answers together.

use std::collections::HashMap;

use super::{Enabled, TargetCtx};
use crate::domain::{AccountId, Source};
use crate::poller::errors::CallError;

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
        Source::SecurityHub => super::securityhub::members(t).await?,
        Source::GuardDuty => super::guardduty::members(t).await?,
        Source::Macie => super::macie::members(t).await?,
        Source::Inspector => return super::inspector::member_coverage(t, accounts).await,
        Source::AccessAnalyzer => return super::accessanalyzer::member_coverage(t, accounts).await,
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
