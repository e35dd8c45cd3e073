//! AWS Organizations, read from the management account or a delegated administrator: the
//! organisation's accounts with their OU paths (account discovery), and, for the baseline, the
//! service control policies that apply to an account (attached to it, to each OU above it and to
//! the root).

use std::collections::HashMap;

use aws_sdk_organizations::types::PolicyType;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::sync::Mutex;

use crate::baseline::evaluate::ScpSeen;
use crate::baseline::scp;
use crate::domain::AccountId;
use crate::poller::clients::{Clients, Pace};
use crate::poller::errors::{CallError, classify};

/// Answers by the id asked about, errors included (one refusal is not asked again).
type Answers<T> = Mutex<HashMap<String, Result<T, CallError>>>;

/// `answers[key]`, read by `read` the first time it is asked for.
async fn cached<T: Clone>(
    answers: &Answers<T>,
    key: &str,
    read: impl std::future::Future<Output = Result<T, CallError>>,
) -> Result<T, CallError> {
    if let Some(hit) = answers.lock().await.get(key) {
        return hit.clone();
    }
    let answer = read.await;
    answers.lock().await.insert(key.to_owned(), answer.clone());
    answer
}

/// What one cycle has read already: OUs and policies are shared by many accounts.
#[derive(Default)]
pub struct OrgCache {
    parents: Answers<Option<String>>,
    /// (policy id, name) attached to a target.
    attached: Answers<Vec<(String, String)>>,
    documents: Answers<String>,
    ou_names: Answers<String>,
}

/// An account the organisation lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub id: AccountId,
    pub name: String,
    /// `Root/Workloads/Prod`: the OUs from the root down to the account.
    pub ou_path: String,
}

/// Every active account of the organisation (`ListAccounts`), each with its OU path, read
/// through `org_account`'s role.
pub async fn list_accounts(
    clients: &Clients,
    cache: &OrgCache,
    org_account: &AccountId,
) -> Result<Vec<Discovered>, CallError> {
    let sdk = clients.config_for(org_account, "us-east-1").await;
    let client = aws_sdk_organizations::Client::new(&sdk);
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        clients
            .pace(
                org_account,
                "us-east-1",
                "organizations:ListAccounts",
                Pace::Default,
            )
            .await;
        let out = client
            .list_accounts()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        for a in out.accounts() {
            // Suspended and closing accounts have nothing left to read.
            let active = a.status().is_none_or(|s| s.as_str() == "ACTIVE");
            let Some(id) = a.id().and_then(|id| id.parse::<AccountId>().ok()) else {
                continue;
            };
            if active {
                found.push((id, a.name().unwrap_or_default().to_owned()));
            }
        }
        token = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let mut accounts = Vec::with_capacity(found.len());
    for (id, name) in found {
        let ou_path = ou_path(clients, cache, &client, org_account, &id).await?;
        let name = if name.is_empty() {
            id.to_string()
        } else {
            name
        };
        accounts.push(Discovered { id, name, ou_path });
    }
    Ok(accounts)
}

/// `Root/…/OU`: the names of the OUs above `account`.
async fn ou_path(
    clients: &Clients,
    cache: &OrgCache,
    client: &aws_sdk_organizations::Client,
    org_account: &AccountId,
    account: &AccountId,
) -> Result<String, CallError> {
    let mut names = Vec::new();
    // The account itself is first; the OUs and the root follow.
    for p in ancestors(clients, cache, client, org_account, account)
        .await?
        .iter()
        .skip(1)
    {
        if p.starts_with("r-") {
            names.push("Root".to_owned());
        } else {
            names.push(ou_name(clients, cache, client, org_account, p).await?);
        }
    }
    names.reverse();
    Ok(names.join("/"))
}

async fn ou_name(
    clients: &Clients,
    cache: &OrgCache,
    client: &aws_sdk_organizations::Client,
    org_account: &AccountId,
    ou: &str,
) -> Result<String, CallError> {
    cached(&cache.ou_names, ou, async {
        clients
            .pace(
                org_account,
                "us-east-1",
                "organizations:DescribeOrganizationalUnit",
                Pace::Default,
            )
            .await;
        client
            .describe_organizational_unit()
            .organizational_unit_id(ou)
            .send()
            .await
            .map_err(|e| classify(&e))
            .map(|out| {
                out.organizational_unit()
                    .and_then(|u| u.name())
                    .unwrap_or(ou)
                    .to_owned()
            })
    })
    .await
}

/// The organisation's management account (`DescribeOrganization`), read through
/// `org_account`'s role. Service control policies never apply to it.
pub async fn management_account(
    clients: &Clients,
    org_account: &AccountId,
) -> Result<String, CallError> {
    let sdk = clients.config_for(org_account, "us-east-1").await;
    clients
        .pace(
            org_account,
            "us-east-1",
            "organizations:DescribeOrganization",
            Pace::Default,
        )
        .await;
    let client = aws_sdk_organizations::Client::new(&sdk);
    let out = client
        .describe_organization()
        .send()
        .await
        .map_err(|e| classify(&e))?;
    out.organization()
        .and_then(|o| o.master_account_id())
        .map(str::to_owned)
        .ok_or_else(|| CallError::other("DescribeOrganization named no management account"))
}

/// The service control policies that apply to `account`, each with the protected CloudTrail
/// actions it denies, read through `org_account`'s role.
pub async fn policies_for(
    clients: &Clients,
    cache: &OrgCache,
    org_account: &AccountId,
    account: &AccountId,
) -> Result<Vec<ScpSeen>, CallError> {
    let sdk = clients.config_for(org_account, "us-east-1").await;
    let client = aws_sdk_organizations::Client::new(&sdk);
    let targets = ancestors(clients, cache, &client, org_account, account).await?;
    let mut seen = Vec::new();
    for target in &targets {
        for (id, name) in attached(clients, cache, &client, org_account, target).await? {
            let content = document(clients, cache, &client, org_account, &id).await?;
            seen.push(ScpSeen {
                id,
                name,
                target: target.clone(),
                denies: scp::denied_actions(&content),
            });
        }
    }
    Ok(seen)
}

/// `account`, then each OU above it, then the root.
async fn ancestors(
    clients: &Clients,
    cache: &OrgCache,
    client: &aws_sdk_organizations::Client,
    org_account: &AccountId,
    account: &AccountId,
) -> Result<Vec<String>, CallError> {
    let mut chain = vec![account.to_string()];
    loop {
        let child = chain.last().cloned().unwrap_or_default();
        match parent(clients, cache, client, org_account, &child).await? {
            Some(p) => chain.push(p),
            None => return Ok(chain),
        }
        if chain.len() > 8 {
            // Organizations nests OUs five deep at most: a loop means a broken answer.
            return Err(CallError::other("ListParents never reached the root"));
        }
    }
}

/// The parent of `child`, or `None` when `child` is the root. An account outside the
/// organisation is an error that says so.
async fn parent(
    clients: &Clients,
    cache: &OrgCache,
    client: &aws_sdk_organizations::Client,
    org_account: &AccountId,
    child: &str,
) -> Result<Option<String>, CallError> {
    if child.starts_with("r-") {
        return Ok(None);
    }
    cached(&cache.parents, child, async {
        clients
            .pace(
                org_account,
                "us-east-1",
                "organizations:ListParents",
                Pace::Default,
            )
            .await;
        match client.list_parents().child_id(child).send().await {
            Ok(out) => out
                .parents()
                .first()
                .and_then(|p| p.id())
                .map(|id| Some(id.to_owned()))
                .ok_or_else(|| CallError::other(format!("ListParents named no parent of {child}"))),
            Err(e) if e.code() == Some("ChildNotFoundException") => Err(CallError::other(format!(
                "{child} is not a member of the organisation"
            ))),
            Err(e) => Err(classify(&e)),
        }
    })
    .await
}

/// The service control policies attached to `target` directly: (id, name).
async fn attached(
    clients: &Clients,
    cache: &OrgCache,
    client: &aws_sdk_organizations::Client,
    org_account: &AccountId,
    target: &str,
) -> Result<Vec<(String, String)>, CallError> {
    cached(&cache.attached, target, async {
        let mut policies = Vec::new();
        let mut token: Option<String> = None;
        loop {
            clients
                .pace(
                    org_account,
                    "us-east-1",
                    "organizations:ListPoliciesForTarget",
                    Pace::Default,
                )
                .await;
            match client
                .list_policies_for_target()
                .target_id(target)
                .filter(PolicyType::ServiceControlPolicy)
                .set_next_token(token.clone())
                .send()
                .await
            {
                Ok(out) => {
                    policies.extend(out.policies().iter().filter_map(|p| {
                        Some((p.id()?.to_owned(), p.name().unwrap_or_default().to_owned()))
                    }));
                    token = out
                        .next_token()
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned);
                    if token.is_none() {
                        break Ok(policies);
                    }
                }
                Err(e) => break Err(classify(&e)),
            }
        }
    })
    .await
}

/// A policy's JSON document.
async fn document(
    clients: &Clients,
    cache: &OrgCache,
    client: &aws_sdk_organizations::Client,
    org_account: &AccountId,
    policy: &str,
) -> Result<String, CallError> {
    cached(&cache.documents, policy, async {
        clients
            .pace(
                org_account,
                "us-east-1",
                "organizations:DescribePolicy",
                Pace::Default,
            )
            .await;
        client
            .describe_policy()
            .policy_id(policy)
            .send()
            .await
            .map_err(|e| classify(&e))
            .map(|out| {
                out.policy()
                    .and_then(|p| p.content())
                    .unwrap_or_default()
                    .to_owned()
            })
    })
    .await
}
