//! Delegated-administrator mode: what the administrator account says of its members, per
//! service and region. Findings of every member come from the administrator's own reads (each
//! source's `poll`); this module tells which accounts those reads cover, for their coverage:
//! Security Hub, GuardDuty and Macie `ListMembers` (associated members only), Inspector
//! `BatchGetAccountStatus` of the watched accounts, and Access Analyzer's organisation
//! analyzers, whose zone of trust is every account of the organisation. Each call lives in
//! its source's module; this one puts their answers together.

use std::collections::HashMap;
use std::future::Future;

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

/// Every page of a `ListMembers`: `page(token)` asks for one (paced) and answers its members,
/// each with its state, and its next token. The services spell the call and its members each
/// their own way; the paging is the same.
pub(super) async fn all_pages<F, Fut>(mut page: F) -> Result<HashMap<String, Enabled>, CallError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<(String, Enabled)>, Option<String>), CallError>>,
{
    let mut out = HashMap::new();
    let mut token = None;
    loop {
        let (members, next) = page(token.take()).await?;
        out.extend(members);
        token = super::next_page(next.as_deref());
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// A member covered when its status is `enabled` (in any case, as Security Hub writes
/// `ENABLED` and GuardDuty `Enabled`), otherwise not, saying its status.
pub(super) fn enabled_status(service: &str, status: &str) -> Enabled {
    if status.eq_ignore_ascii_case("enabled") {
        Enabled::Yes
    } else {
        Enabled::No(format!("{service} member status {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_page_is_read_until_a_page_has_no_token() {
        // Three pages; the last one's token is empty, as some services send it.
        let pages = [
            (vec!["1", "2"], Some("a")),
            (vec!["3"], Some("b")),
            (vec!["4"], Some("")),
        ];
        let mut asked = Vec::new();
        let members = all_pages(|token| {
            asked.push(token.clone());
            let (ids, next) = pages[asked.len() - 1].clone();
            async move {
                Ok((
                    ids.into_iter()
                        .map(|id| (id.to_owned(), enabled_status("GuardDuty", "Enabled")))
                        .collect(),
                    next.map(str::to_owned),
                ))
            }
        })
        .await
        .unwrap();
        assert_eq!(asked, [None, Some("a".to_owned()), Some("b".to_owned())]);
        assert_eq!(members.len(), 4);
        assert!(members.values().all(|e| *e == Enabled::Yes));
    }

    #[test]
    fn a_member_is_covered_when_its_status_says_enabled_in_any_case() {
        assert_eq!(enabled_status("Security Hub", "ENABLED"), Enabled::Yes);
        assert_eq!(enabled_status("GuardDuty", "Enabled"), Enabled::Yes);
        assert_eq!(
            enabled_status("GuardDuty", "Removed"),
            Enabled::No("GuardDuty member status Removed".into())
        );
    }
}
