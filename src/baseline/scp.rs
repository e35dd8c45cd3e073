//! Reading a service control policy: which CloudTrail actions its `Deny` statements cover.
//!
//! IAM's grammar as far as the check needs it: `Statement` is one object or a list; `Action` and
//! `NotAction` are a string or a list; action names match case-insensitively with `*` and `?`
//! wildcards. A `Deny` with `NotAction` denies every action it does not name. A `Condition` is
//! allowed (careful teams exempt a break-glass role), so it does not weaken the answer.

use serde_json::Value;

/// The actions an attacker would use to blind the trail.
pub const PROTECTED_ACTIONS: [&str; 4] = [
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
];

/// The protected actions that `document`'s Deny statements cover. A document that is not JSON
/// covers nothing.
pub fn denied_actions(document: &str) -> Vec<&'static str> {
    let Ok(doc) = serde_json::from_str::<Value>(document) else {
        return Vec::new();
    };
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    PROTECTED_ACTIONS
        .into_iter()
        .filter(|action| {
            statements.iter().any(|s| {
                let deny = s
                    .get("Effect")
                    .and_then(Value::as_str)
                    .is_some_and(|e| e.eq_ignore_ascii_case("Deny"));
                if !deny {
                    return false;
                }
                if let Some(actions) = s.get("Action") {
                    strings(actions).any(|p| matches(p, action))
                } else if let Some(excluded) = s.get("NotAction") {
                    !strings(excluded).any(|p| matches(p, action))
                } else {
                    false
                }
            })
        })
        .collect()
}

fn strings(v: &Value) -> Box<dyn Iterator<Item = &str> + '_> {
    match v {
        Value::String(s) => Box::new(std::iter::once(s.as_str())),
        Value::Array(list) => Box::new(list.iter().filter_map(Value::as_str)),
        _ => Box::new(std::iter::empty()),
    }
}

/// IAM action matching: case-insensitive, `*` any run of characters, `?` one character.
fn matches(pattern: &str, action: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let a: Vec<char> = action.to_ascii_lowercase().chars().collect();
    // Classic wildcard matching with backtracking on the last `*`.
    let (mut pi, mut ai) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ai < a.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == a[ai]) {
            pi += 1;
            ai += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ai));
            pi += 1;
        } else if let Some((sp, sa)) = star {
            pi = sp + 1;
            ai = sa + 1;
            star = Some((sp, sa + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_case() {
        assert!(matches("cloudtrail:*", "cloudtrail:StopLogging"));
        assert!(matches("CloudTrail:stop*", "cloudtrail:StopLogging"));
        assert!(matches("*", "cloudtrail:DeleteTrail"));
        assert!(matches("cloudtrail:?eleteTrail", "cloudtrail:DeleteTrail"));
        assert!(!matches("cloudtrail:Stop*", "cloudtrail:DeleteTrail"));
        assert!(!matches("s3:*", "cloudtrail:DeleteTrail"));
        assert!(!matches("cloudtrail:StopLoggin", "cloudtrail:StopLogging"));
    }

    #[test]
    fn a_full_deny_covers_all_four() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Sid":"ProtectTrail","Effect":"Deny",
            "Action":["cloudtrail:StopLogging","cloudtrail:DeleteTrail","cloudtrail:UpdateTrail","cloudtrail:PutEventSelectors"],
            "Resource":"*"}]}"#;
        assert_eq!(denied_actions(doc), PROTECTED_ACTIONS);
    }

    #[test]
    fn one_statement_object_a_string_action_and_a_condition() {
        let doc = r#"{"Statement":{"Effect":"Deny","Action":"cloudtrail:*","Resource":"*",
            "Condition":{"ArnNotLike":{"aws:PrincipalARN":"arn:aws:iam::*:role/BreakGlass"}}}}"#;
        assert_eq!(denied_actions(doc).len(), 4);
    }

    #[test]
    fn a_partial_deny_and_an_allow() {
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
            {"Effect":"Deny","Action":["cloudtrail:StopLogging","cloudtrail:DeleteTrail"],"Resource":"*"}]}"#;
        assert_eq!(
            denied_actions(doc),
            ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"]
        );
    }

    #[test]
    fn not_action_denies_what_it_does_not_name() {
        let doc = r#"{"Statement":[{"Effect":"Deny","NotAction":["cloudtrail:UpdateTrail","iam:*"],"Resource":"*"}]}"#;
        assert_eq!(
            denied_actions(doc),
            [
                "cloudtrail:StopLogging",
                "cloudtrail:DeleteTrail",
                "cloudtrail:PutEventSelectors"
            ]
        );
    }

    #[test]
    fn not_json_covers_nothing() {
        assert!(denied_actions("not json").is_empty());
        assert!(denied_actions(r#"{"Statement":"x"}"#).is_empty());
    }
}
