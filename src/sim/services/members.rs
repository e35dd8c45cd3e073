//! `ListMembers` of Security Hub, GuardDuty and Macie as their delegated administrator answers
//! it: every member account with the service on in the region, `Enabled` (the only members the
//! simulated organisation has). Each service spells the answer its own way (`Spelling`).
//! Anyone but the administrator has no members.

use std::collections::HashMap;

use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::sim::org::Estate;
use crate::sim::wire::{self, Ctx, Paging, PagingError};

/// `MaxResults` is 1–50 in all three services' models.
const PAGING: Paging = Paging {
    default: 50,
    max: 50,
    clamp: false,
    strict_null: false,
    empty_token_is_first: false,
};

/// How one service names the parts of its `ListMembers`.
pub struct Spelling {
    /// The query parameters: (max results, next token).
    pub params: (&'static str, &'static str),
    /// The list's key and the token's key in the answer.
    pub keys: (&'static str, &'static str),
    /// One member as the service renders it: (member id, administrator id, region, since
    /// when).
    pub member: fn(&str, &str, &str, i64) -> Value,
}

pub const SECURITY_HUB: Spelling = Spelling {
    params: ("MaxResults", "NextToken"),
    keys: ("Members", "NextToken"),
    member: |id, admin, _, since| {
        json!({
            "AccountId": id,
            "Email": format!("aws+{id}@example.com"),
            "AdministratorId": admin,
            "MasterId": admin,
            "MemberStatus": "ENABLED",
            "InvitedAt": wire::iso(since),
            "UpdatedAt": wire::iso(since),
        })
    },
};

pub const GUARDDUTY: Spelling = Spelling {
    params: ("maxResults", "nextToken"),
    keys: ("members", "nextToken"),
    member: |id, admin, region, since| {
        json!({
            "accountId": id,
            "detectorId": super::guardduty::detector_id(id, region),
            "masterId": admin,
            "administratorId": admin,
            "email": format!("aws+{id}@example.com"),
            "relationshipStatus": "Enabled",
            "invitedAt": wire::iso(since),
            "updatedAt": wire::iso(since),
        })
    },
};

pub const MACIE: Spelling = Spelling {
    params: ("maxResults", "nextToken"),
    keys: ("members", "nextToken"),
    member: |id, admin, region, since| {
        json!({
            "accountId": id,
            "administratorAccountId": admin,
            "arn": format!("arn:aws:macie2:{region}:{admin}:member/{id}"),
            "email": format!("aws+{id}@example.com"),
            "relationshipStatus": "Enabled",
            "invitedAt": wire::iso(since),
            "updatedAt": wire::iso(since),
            "tags": {},
        })
    },
};

/// `ListMembers` for `ctx`'s account and region; `bad` words a refused page size or token.
pub fn list(
    estate: &Estate,
    ctx: &Ctx,
    query: &HashMap<String, String>,
    spelling: &Spelling,
    bad: impl Fn(&str) -> Response,
) -> Response {
    let (max_key, token_key) = spelling.params;
    let size = PAGING.size(query.get(max_key).map(|s| s.parse().ok()));
    let offset = PAGING.offset(query.get(token_key).map(String::as_str));
    let page = match (size, offset) {
        (Ok(size), Ok(offset)) => wire::Page { offset, size },
        (Err(PagingError::MaxResults), _) => {
            return bad(&format!("{max_key} must be an integer from 1 to 50"));
        }
        _ => return bad(&format!("{token_key} is not a token this service issued")),
    };
    let members = estate.members(ctx.account, ctx.region, ctx.service);
    // Members joined when the organisation's oldest finding was new.
    let since = estate.findings.first().map_or(estate.now, |f| f.created);
    let items: Vec<Value> = page
        .of(&members)
        .map(|&a| {
            (spelling.member)(
                &estate.accounts[a].id,
                &ctx.account_id,
                &ctx.region_code,
                since,
            )
        })
        .collect();
    let mut out = Map::new();
    out.insert(spelling.keys.0.into(), Value::Array(items));
    if let Some(token) = page.next_token(members.len()) {
        out.insert(spelling.keys.1.into(), Value::String(token));
    }
    wire::json_ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use axum::http::{Method, StatusCode};
    use serde_json::{Value, json};

    use super::super::testing::{all_pages, body, ctx, parts, request};
    use crate::sim::org::{Estate, Options, Service, State};

    fn estate(delegated_admin: bool) -> Estate {
        Estate::generate(&Options {
            seed: 7,
            accounts: 12,
            regions: 2,
            delegated_admin,
            ..Default::default()
        })
    }

    /// One call to `service`'s handler as (account, region); the answer's status and JSON.
    fn call(
        e: &Estate,
        account: usize,
        service: Service,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        json_body: Value,
    ) -> (StatusCode, Value) {
        let c = ctx(e, account, 0, service);
        let handle = super::super::handler(service).unwrap();
        let (status, _, bytes) = parts(handle(
            e,
            &c,
            &request(method, path, query, body(&json_body)),
        ));
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// How many findings of each account `service` holds in region 0 and still serves.
    fn served_by_account(
        e: &Estate,
        service: Service,
        keeps_resolved: bool,
    ) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for a in 0..e.accounts.len() {
            let n = e
                .target_findings(a, 0, service)
                .filter(|f| keeps_resolved || f.state != State::Resolved)
                .count();
            if n > 0 {
                out.insert(e.accounts[a].id.clone(), n);
            }
        }
        out
    }

    fn by_account(items: &[Value], pointer: &str) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for item in items {
            *out.entry(item.pointer(pointer).unwrap().as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        out
    }

    #[test]
    fn the_delegated_administrator_sees_every_members_findings() {
        let e = estate(true);
        let admin = e.delegated_admin.unwrap();
        assert_eq!(e.accounts[admin].name, "security-tooling");

        // Inspector: every account's findings, each under its own account.
        let items = all_pages(
            |b| {
                call(
                    &e,
                    admin,
                    Service::Inspector,
                    Method::POST,
                    "/findings/list",
                    &[],
                    b,
                )
            },
            json!({}),
            "findings",
            "nextToken",
        );
        let want = served_by_account(&e, Service::Inspector, true);
        assert!(want.len() > 3, "{want:?}");
        assert_eq!(by_account(&items, "/awsAccountId"), want);

        // GuardDuty: the admin's detector lists every member's ids, and gets them.
        let detector = super::super::guardduty::detector_id(&e.accounts[admin].id, &e.regions[0]);
        // GuardDuty ends a listing with an empty token.
        let mut ids = Vec::new();
        let mut list = json!({});
        loop {
            let (status, page) = call(
                &e,
                admin,
                Service::GuardDuty,
                Method::POST,
                &format!("/detector/{detector}/findings"),
                &[],
                list.clone(),
            );
            assert_eq!(status, StatusCode::OK, "{page}");
            ids.extend(page["findingIds"].as_array().unwrap().iter().cloned());
            match page["nextToken"].as_str() {
                Some(t) if !t.is_empty() => list["nextToken"] = json!(t),
                _ => break,
            }
        }
        let mut got = Vec::new();
        for chunk in ids.chunks(50) {
            let (status, page) = call(
                &e,
                admin,
                Service::GuardDuty,
                Method::POST,
                &format!("/detector/{detector}/findings/get"),
                &[],
                json!({ "findingIds": chunk }),
            );
            assert_eq!(status, StatusCode::OK, "{page}");
            got.extend(page["findings"].as_array().unwrap().iter().cloned());
        }
        assert_eq!(
            by_account(&got, "/accountId"),
            served_by_account(&e, Service::GuardDuty, false)
        );

        // Access Analyzer: the organisation analyzers report every account's findings.
        let (_, analyzers) = call(
            &e,
            admin,
            Service::AccessAnalyzer,
            Method::GET,
            "/analyzer",
            &[("type", "ORGANIZATION")],
            Value::Null,
        );
        let org = analyzers["analyzers"][0]["arn"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            org.contains(&e.accounts[admin].id) && org.ends_with("/sightline-sim-org"),
            "{org}"
        );
        let (_, unused) = call(
            &e,
            admin,
            Service::AccessAnalyzer,
            Method::GET,
            "/analyzer",
            &[("type", "ORGANIZATION_UNUSED_ACCESS")],
            Value::Null,
        );
        let mut aa = Vec::new();
        for arn in [
            org,
            unused["analyzers"][0]["arn"].as_str().unwrap().to_owned(),
        ] {
            aa.extend(all_pages(
                |b| {
                    call(
                        &e,
                        admin,
                        Service::AccessAnalyzer,
                        Method::POST,
                        "/findingv2",
                        &[],
                        b,
                    )
                },
                json!({ "analyzerArn": arn }),
                "findings",
                "nextToken",
            ));
        }
        assert_eq!(
            by_account(&aa, "/resourceOwnerAccount"),
            served_by_account(&e, Service::AccessAnalyzer, true)
        );

        // A member sees its own findings only.
        let member = (3..e.accounts.len())
            .find(|&a| e.target_findings(a, 0, Service::Inspector).count() > 0)
            .unwrap();
        let items = all_pages(
            |b| {
                call(
                    &e,
                    member,
                    Service::Inspector,
                    Method::POST,
                    "/findings/list",
                    &[],
                    b,
                )
            },
            json!({}),
            "findings",
            "nextToken",
        );
        assert_eq!(by_account(&items, "/awsAccountId").len(), 1);
    }

    #[test]
    fn the_delegated_administrator_lists_its_members() {
        let e = estate(true);
        let admin = e.delegated_admin.unwrap();
        for (service, path, key, id, status, wanted) in [
            (
                Service::SecurityHub,
                "/members".to_owned(),
                "Members",
                "/AccountId",
                "/MemberStatus",
                "ENABLED",
            ),
            (
                Service::GuardDuty,
                format!(
                    "/detector/{}/member",
                    super::super::guardduty::detector_id(&e.accounts[admin].id, &e.regions[0])
                ),
                "members",
                "/accountId",
                "/relationshipStatus",
                "Enabled",
            ),
            (
                Service::Macie,
                "/members".to_owned(),
                "members",
                "/accountId",
                "/relationshipStatus",
                "Enabled",
            ),
        ] {
            let token = if service == Service::SecurityHub {
                "NextToken"
            } else {
                "nextToken"
            };
            let max = if service == Service::SecurityHub {
                "MaxResults"
            } else {
                "maxResults"
            };
            // Pages of 5 through the query string.
            let mut listed = Vec::new();
            let mut next: Option<String> = None;
            loop {
                let mut q = vec![(max, "5")];
                if let Some(t) = &next {
                    q.push((token, t.as_str()));
                }
                let (code, page) = call(&e, admin, service, Method::GET, &path, &q, Value::Null);
                assert_eq!(code, StatusCode::OK, "{service:?}: {page}");
                for m in page[key].as_array().unwrap() {
                    assert_eq!(m.pointer(status).unwrap(), wanted);
                    listed.push(m.pointer(id).unwrap().as_str().unwrap().to_owned());
                }
                match page.get(token).and_then(Value::as_str) {
                    Some(t) => next = Some(t.to_owned()),
                    None => break,
                }
            }
            let want: Vec<String> = (0..e.accounts.len())
                .filter(|&a| a != admin && e.is_enabled(a, 0, service))
                .map(|a| e.accounts[a].id.clone())
                .collect();
            assert!(!want.is_empty(), "{service:?}");
            assert_eq!(listed, want, "{service:?}");
            let (code, page) = call(
                &e,
                admin,
                service,
                Method::GET,
                &path,
                &[(max, "51")],
                Value::Null,
            );
            assert_eq!(code, StatusCode::BAD_REQUEST, "{service:?}: {page}");
        }
        // Inspector: the administrator reads members' statuses; without one, they are refused.
        let ids: Vec<String> = e.accounts.iter().take(10).map(|a| a.id.clone()).collect();
        let (_, answer) = call(
            &e,
            admin,
            Service::Inspector,
            Method::POST,
            "/status/batch/get",
            &[],
            json!({ "accountIds": ids }),
        );
        assert_eq!(answer["accounts"].as_array().unwrap().len(), 10, "{answer}");
        for a in answer["accounts"].as_array().unwrap() {
            let i = e.account_index(a["accountId"].as_str().unwrap()).unwrap();
            let on = e.is_enabled(i, 0, Service::Inspector);
            assert_eq!(
                a["state"]["status"],
                if on { "ENABLED" } else { "DISABLED" }
            );
        }
        let plain = estate(false);
        let (_, answer) = call(
            &plain,
            2,
            Service::Inspector,
            Method::POST,
            "/status/batch/get",
            &[],
            json!({ "accountIds": ids }),
        );
        assert_eq!(answer["accounts"].as_array().unwrap().len(), 1, "{answer}");
        let (_, page) = call(
            &plain,
            2,
            Service::SecurityHub,
            Method::GET,
            "/members",
            &[],
            Value::Null,
        );
        assert_eq!(page["Members"], json!([]));
    }
}
