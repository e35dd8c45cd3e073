//! The organisation's audit set-up, which the observability baseline checks: AWS Organizations
//! (root, OUs, member and standalone accounts, service control policies), the CloudTrail trails
//! and the S3 buckets they deliver to. Drawn from the seed once, when the estate is generated;
//! the virtual clock does not change it.
//!
//! The mix is a real organisation's: a good organisation trail seen by every member, some
//! members recording data events on their own trails, and a few standalone accounts (acquired
//! companies, watched but outside the organisation) each set up its own way, well or badly.

use serde_json::{Value, json};

use super::org::{Access, Account};
use super::rng::Rng;

/// The `Rng::derive` domain of everything here, so no existing draw moves.
const DOMAIN: u64 = 0xa0d1_7000;
const DAY: i64 = 86_400;

pub const S3_OBJECT: &str = "AWS::S3::Object";
pub const LAMBDA_FUNCTION: &str = "AWS::Lambda::Function";
const DYNAMODB_TABLE: &str = "AWS::DynamoDB::Table";

/// The four actions an audit trail's protection must deny, as AWS spells them.
pub const TRAIL_ACTIONS: [&str; 4] = [
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
];

/// The id AWS gives its managed allow-everything policy.
pub const FULL_AWS_ACCESS: &str = "p-FullAWSAccess";

#[derive(Debug)]
pub struct Audit {
    pub organization: Organization,
    pub trails: Vec<Trail>,
    pub buckets: Vec<Bucket>,
    /// The account that owns the organisation's log buckets (`accounts[1]`).
    pub log_archive: Option<usize>,
}

/// AWS Organizations as the management account sees it.
#[derive(Debug)]
pub struct Organization {
    /// `o-` and ten characters.
    pub id: String,
    pub management_id: String,
    /// `r-` and four characters.
    pub root_id: String,
    pub ous: Vec<Ou>,
    /// Per account: its membership, `None` for a standalone account (not in the organisation).
    pub members: Vec<Option<Member>>,
    pub policies: Vec<Policy>,
    /// (target id, index into `policies`), in the order they were attached.
    pub attachments: Vec<(String, usize)>,
}

#[derive(Debug)]
pub struct Ou {
    /// `ou-<root>-<8 characters>`.
    pub id: String,
    pub name: String,
    /// The root's or another OU's id.
    pub parent: String,
}

#[derive(Debug)]
pub struct Member {
    /// The root's or an OU's id.
    pub parent: String,
    pub joined: i64,
    /// `CREATED` or `INVITED`.
    pub method: &'static str,
}

/// A service control policy, held as statements and rendered as the JSON document AWS returns.
#[derive(Debug)]
pub struct Policy {
    pub id: String,
    pub name: String,
    pub description: String,
    pub aws_managed: bool,
    pub statements: Vec<Statement>,
    /// Render `Statement` as one object rather than a list (it must then hold one statement).
    pub statement_object: bool,
}

#[derive(Debug)]
pub struct Statement {
    pub sid: Option<&'static str>,
    pub deny: bool,
    /// The statement lists `NotAction` rather than `Action`.
    pub not_action: bool,
    /// One action is rendered as a string, more as a list.
    pub actions: Vec<String>,
    pub condition: Option<Value>,
}

/// One CloudTrail trail.
#[derive(Debug)]
pub struct Trail {
    /// The account that owns it (an organisation trail's is the management account).
    pub owner: usize,
    pub owner_id: String,
    pub name: String,
    pub home_region: String,
    pub multi_region: bool,
    pub organization: bool,
    pub logging: bool,
    pub validation: bool,
    pub kms_key: Option<String>,
    /// The CloudWatch Logs log group's ARN (and a role to write to it).
    pub log_group: Option<String>,
    pub bucket: String,
    pub key_prefix: Option<String>,
    pub selectors: Selectors,
    /// When logging last started; when it stopped, if it is not logging.
    pub started: i64,
    pub stopped: Option<i64>,
    /// The last delivery's error (`NoSuchBucket` when its bucket is gone).
    pub delivery_error: Option<&'static str>,
}

/// What a trail records beyond management events, in its selectors' own form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selectors {
    /// `EventSelectors` with these `DataResources` types.
    Classic(Vec<&'static str>),
    /// `AdvancedEventSelectors`: management events, and one data selector per type.
    Advanced(Vec<&'static str>),
}

impl Selectors {
    /// The data event resource types recorded.
    pub fn data_types(&self) -> &[&'static str] {
        match self {
            Selectors::Classic(t) | Selectors::Advanced(t) => t,
        }
    }
}

impl Trail {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:cloudtrail:{}:{}:trail/{}",
            self.home_region, self.owner_id, self.name
        )
    }
}

/// An S3 bucket.
#[derive(Debug)]
pub struct Bucket {
    pub name: String,
    pub owner: usize,
    pub region: String,
    pub created: i64,
    /// `None`: no lifecycle configuration at all.
    pub lifecycle: Option<Vec<LifecycleRule>>,
}

#[derive(Debug, Clone)]
pub struct LifecycleRule {
    pub id: &'static str,
    pub prefix: String,
    pub enabled: bool,
    /// (days, storage class).
    pub transitions: Vec<(u32, &'static str)>,
    pub expiration_days: Option<u32>,
    pub noncurrent_expiration_days: Option<u32>,
}

/// The lifecycles buckets are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    None,
    GlacierOnly,
    Good,
    /// The transition and the expiration in two rules.
    GoodTwoRules,
    GlacierInstantRetrieval,
    /// Kept for ten years: longer than the retention asks.
    TooLong,
    /// A good rule, switched off.
    Disabled,
    /// Infrequent access, never Glacier.
    InfrequentAccessOnly,
}

impl Lifecycle {
    fn rules(self, prefix: &str) -> Option<Vec<LifecycleRule>> {
        let rule = |id, enabled, transitions: Vec<(u32, &'static str)>, expiration| LifecycleRule {
            id,
            prefix: prefix.to_owned(),
            enabled,
            transitions,
            expiration_days: expiration,
            noncurrent_expiration_days: Some(30),
        };
        Some(match self {
            Lifecycle::None => return None,
            Lifecycle::GlacierOnly => vec![rule("archive", true, vec![(90, "GLACIER")], None)],
            Lifecycle::Good => vec![rule(
                "archive-then-expire",
                true,
                vec![(90, "GLACIER")],
                Some(1825),
            )],
            Lifecycle::GoodTwoRules => vec![
                rule(
                    "archive",
                    true,
                    vec![(30, "STANDARD_IA"), (180, "DEEP_ARCHIVE")],
                    None,
                ),
                rule("expire", true, vec![], Some(1460)),
            ],
            Lifecycle::GlacierInstantRetrieval => vec![rule(
                "instant-archive",
                true,
                vec![(30, "GLACIER_IR")],
                Some(730),
            )],
            Lifecycle::TooLong => vec![rule(
                "archive-then-expire",
                true,
                vec![(90, "GLACIER")],
                Some(3650),
            )],
            Lifecycle::Disabled => vec![rule(
                "archive-then-expire",
                false,
                vec![(90, "GLACIER")],
                Some(1825),
            )],
            Lifecycle::InfrequentAccessOnly => vec![rule(
                "cool-down",
                true,
                vec![(30, "STANDARD_IA")],
                Some(1825),
            )],
        })
    }
}

const LIFECYCLES: [Lifecycle; 8] = [
    Lifecycle::None,
    Lifecycle::GlacierOnly,
    Lifecycle::Good,
    Lifecycle::GoodTwoRules,
    Lifecycle::GlacierInstantRetrieval,
    Lifecycle::TooLong,
    Lifecycle::Disabled,
    Lifecycle::InfrequentAccessOnly,
];

/// How a standalone account keeps its audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standalone {
    NoTrail,
    SingleRegionOnly,
    NotLogging,
    Logging(Delivery),
}

/// Where a standalone account's logging trail delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    OwnBucket,
    LogArchive,
    /// Another organisation account's bucket, which the account itself cannot read.
    OtherAccount,
    /// A bucket deleted since.
    Deleted,
}

/// Lowercase letters and digits, as AWS's generated ids use.
fn token(r: &mut Rng, n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| CHARS[r.below(CHARS.len() as u64) as usize] as char)
        .collect()
}

fn uuid(r: &mut Rng) -> String {
    let hex = |r: &mut Rng, n: usize| -> String {
        (0..n)
            .map(|_| char::from_digit(r.below(16) as u32, 16).unwrap_or('0'))
            .collect()
    };
    format!(
        "{}-{}-4{}-{}-{}",
        hex(r, 8),
        hex(r, 4),
        hex(r, 3),
        hex(r, 4),
        hex(r, 12)
    )
}

/// Where a bucket lifecycle draws from: every kind, or the ones a standalone trail's bucket has.
fn draw_lifecycle(r: &mut Rng, kinds: &[Lifecycle]) -> Lifecycle {
    *r.pick(kinds)
}

impl Audit {
    pub fn generate(
        seed: u64,
        accounts: &[Account],
        regions: &[String],
        approved: &[String],
        now: i64,
    ) -> Audit {
        let n = accounts.len();
        let home = approved
            .first()
            .or(regions.first())
            .cloned()
            .unwrap_or_else(|| "us-east-1".to_owned());
        let approved: Vec<String> = if approved.is_empty() {
            vec![home.clone()]
        } else {
            approved.to_vec()
        };
        let log_archive = (n >= 2).then_some(1);
        let standalone = standalone_accounts(seed, accounts);
        let organization = Organization::generate(seed, accounts, &standalone, &approved, now);

        let mut trails = Vec::new();
        let mut buckets = Vec::new();
        let archive = log_archive.unwrap_or(0);
        let archive_id = accounts[archive].id.clone();
        let management_id = accounts[0].id.clone();

        // The organisation trail: everything right, delivering to log-archive.
        let mut r = Rng::derive(seed, &[DOMAIN, 1]);
        let org_bucket = format!("org-cloudtrail-{archive_id}");
        buckets.push(Bucket {
            name: org_bucket.clone(),
            owner: archive,
            region: home.clone(),
            created: now - (700 + r.below(300) as i64) * DAY,
            lifecycle: Lifecycle::Good.rules("AWSLogs/"),
        });
        trails.push(Trail {
            owner: 0,
            owner_id: management_id.clone(),
            name: "organization-trail".to_owned(),
            home_region: home.clone(),
            multi_region: true,
            organization: true,
            logging: true,
            validation: true,
            kms_key: Some(format!(
                "arn:aws:kms:{home}:{archive_id}:key/{}",
                uuid(&mut r)
            )),
            log_group: Some(format!(
                "arn:aws:logs:{home}:{management_id}:log-group:aws-cloudtrail-logs-{}:*",
                organization.id
            )),
            bucket: org_bucket,
            key_prefix: None,
            selectors: Selectors::Advanced(vec![]),
            started: now - (600 + r.below(100) as i64) * DAY,
            stopped: None,
            delivery_error: None,
        });

        for (a, account) in accounts.iter().enumerate() {
            let mut r = Rng::derive(seed, &[DOMAIN, 2, a as u64]);
            let id = &account.id;
            let name = &account.name;
            let region_of = |r: &mut Rng| -> String {
                if r.chance(0.7) {
                    home.clone()
                } else {
                    r.pick(&approved).clone()
                }
            };
            // Buckets every account has, whatever its trails.
            let kinds = ["artifacts", "backups", "static-assets", "terraform-state"];
            let count = 1 + r.below(3) as usize;
            for kind in &kinds[..count] {
                let lifecycle = draw_lifecycle(&mut r, &LIFECYCLES);
                buckets.push(Bucket {
                    name: format!("{name}-{kind}-{id}"),
                    owner: a,
                    region: region_of(&mut r),
                    created: now - (30 + r.below(900) as i64) * DAY,
                    lifecycle: lifecycle.rules(""),
                });
            }
            if Some(a) == log_archive {
                for what in ["s3-access-logs", "aws-config-history"] {
                    buckets.push(Bucket {
                        name: format!("{what}-{id}"),
                        owner: a,
                        region: home.clone(),
                        created: now - (700 + r.below(300) as i64) * DAY,
                        lifecycle: Lifecycle::Good.rules(""),
                    });
                }
            }

            let member = organization.members.get(a).is_some_and(Option::is_some);
            let trail = |name: String, bucket: String, region: String, r: &mut Rng| Trail {
                owner: a,
                owner_id: id.clone(),
                name,
                home_region: region,
                multi_region: true,
                organization: false,
                logging: true,
                validation: false,
                kms_key: None,
                log_group: None,
                bucket,
                key_prefix: None,
                selectors: Selectors::Classic(vec![]),
                started: now - (20 + r.below(500) as i64) * DAY,
                stopped: None,
                delivery_error: None,
            };
            if member {
                // Members see the organisation trail. Some record data events on a trail of
                // their own, production accounts more often.
                let p = if account.environment == "prod" {
                    0.7
                } else {
                    0.35
                };
                if r.chance(p) {
                    let region = region_of(&mut r);
                    let bucket = format!("{name}-cloudtrail-data-{id}");
                    buckets.push(Bucket {
                        name: bucket.clone(),
                        owner: a,
                        region: region.clone(),
                        created: now - (30 + r.below(500) as i64) * DAY,
                        lifecycle: draw_lifecycle(&mut r, &LIFECYCLES).rules("AWSLogs/"),
                    });
                    let mut t = trail(
                        format!("{name}-data-events"),
                        bucket,
                        region.clone(),
                        &mut r,
                    );
                    t.validation = r.chance(0.6);
                    if r.chance(0.5) {
                        t.kms_key = Some(format!("arn:aws:kms:{region}:{id}:key/{}", uuid(&mut r)));
                    }
                    if r.chance(0.3) {
                        t.log_group = Some(format!(
                            "arn:aws:logs:{region}:{id}:log-group:{name}-data-events:*"
                        ));
                    }
                    let x = r.unit();
                    let types = if x < 0.7 {
                        vec![S3_OBJECT, LAMBDA_FUNCTION]
                    } else if x < 0.8 {
                        vec![S3_OBJECT, LAMBDA_FUNCTION, DYNAMODB_TABLE]
                    } else if x < 0.95 {
                        vec![S3_OBJECT]
                    } else {
                        vec![LAMBDA_FUNCTION]
                    };
                    t.selectors = if r.chance(0.5) {
                        Selectors::Classic(types)
                    } else {
                        Selectors::Advanced(types)
                    };
                    if r.chance(0.1) {
                        t.logging = false;
                        t.stopped = Some(now - (1 + r.below(60) as i64) * DAY);
                    }
                    trails.push(t);
                }
                // A few keep a single-region trail from before the organisation trail.
                if r.chance(0.15) {
                    let region = r.pick(&approved).clone();
                    let bucket = format!("{name}-legacy-trail-{id}");
                    buckets.push(Bucket {
                        name: bucket.clone(),
                        owner: a,
                        region: region.clone(),
                        created: now - (800 + r.below(400) as i64) * DAY,
                        lifecycle: None,
                    });
                    let mut t = trail(format!("legacy-{region}"), bucket, region, &mut r);
                    t.multi_region = false;
                    t.validation = true;
                    trails.push(t);
                }
                continue;
            }
            let Some(&setup) = standalone.get(&a) else {
                continue;
            };
            // A standalone account: its own set-up, good or bad.
            let own_bucket = format!("{name}-cloudtrail-{id}");
            let standalone_lifecycles = [
                Lifecycle::None,
                Lifecycle::GlacierOnly,
                Lifecycle::Good,
                Lifecycle::GoodTwoRules,
                Lifecycle::TooLong,
                Lifecycle::Disabled,
            ];
            let lifecycle = draw_lifecycle(&mut r, &standalone_lifecycles);
            let own = |r: &mut Rng, region: &str, buckets: &mut Vec<Bucket>| {
                buckets.push(Bucket {
                    name: own_bucket.clone(),
                    owner: a,
                    region: region.to_owned(),
                    created: now - (100 + r.below(900) as i64) * DAY,
                    lifecycle: lifecycle.rules("AWSLogs/"),
                });
                own_bucket.clone()
            };
            match setup {
                Standalone::NoTrail => {}
                Standalone::SingleRegionOnly => {
                    let region = r.pick(&approved).clone();
                    let bucket = own(&mut r, &region, &mut buckets);
                    let mut t = trail(format!("{name}-trail"), bucket, region, &mut r);
                    t.multi_region = false;
                    t.validation = true;
                    trails.push(t);
                }
                Standalone::NotLogging => {
                    let region = home.clone();
                    let bucket = own(&mut r, &region, &mut buckets);
                    let mut t = trail("management-events".to_owned(), bucket, region, &mut r);
                    t.logging = false;
                    t.validation = r.chance(0.5);
                    t.stopped = Some(now - (3 + r.below(200) as i64) * DAY);
                    trails.push(t);
                }
                Standalone::Logging(delivery) => {
                    let region = home.clone();
                    let bucket = match delivery {
                        Delivery::OwnBucket => own(&mut r, &region, &mut buckets),
                        Delivery::LogArchive => {
                            let bucket = format!("cloudtrail-{name}-{archive_id}");
                            buckets.push(Bucket {
                                name: bucket.clone(),
                                owner: archive,
                                region: region.clone(),
                                created: now - (30 + r.below(300) as i64) * DAY,
                                lifecycle: lifecycle.rules("AWSLogs/"),
                            });
                            bucket
                        }
                        Delivery::OtherAccount => {
                            let other = 2.min(n - 1);
                            let bucket = format!("{name}-audit-{}", accounts[other].id);
                            buckets.push(Bucket {
                                name: bucket.clone(),
                                owner: other,
                                region: region.clone(),
                                created: now - (400 + r.below(300) as i64) * DAY,
                                lifecycle: lifecycle.rules(""),
                            });
                            bucket
                        }
                        Delivery::Deleted => format!("{name}-cloudtrail-old-{id}"),
                    };
                    let mut t = trail("management-events".to_owned(), bucket, region, &mut r);
                    t.validation = r.chance(0.5);
                    if r.chance(0.5) {
                        t.kms_key = Some(format!("arn:aws:kms:{home}:{id}:key/{}", uuid(&mut r)));
                    }
                    if r.chance(0.5) {
                        t.log_group = Some(format!(
                            "arn:aws:logs:{home}:{id}:log-group:{name}-cloudtrail:*"
                        ));
                    }
                    if r.chance(0.3) {
                        t.selectors = Selectors::Classic(vec![S3_OBJECT, LAMBDA_FUNCTION]);
                    }
                    if delivery == Delivery::Deleted {
                        t.delivery_error = Some("NoSuchBucket");
                    }
                    trails.push(t);
                }
            }
        }
        // The management account may record data events too, on a trail of its own.
        let mut r = Rng::derive(seed, &[DOMAIN, 3]);
        if r.chance(0.5) {
            let bucket = format!("management-cloudtrail-data-{management_id}");
            buckets.push(Bucket {
                name: bucket.clone(),
                owner: 0,
                region: home.clone(),
                created: now - (30 + r.below(500) as i64) * DAY,
                lifecycle: Lifecycle::GlacierOnly.rules("AWSLogs/"),
            });
            trails.push(Trail {
                owner: 0,
                owner_id: management_id.clone(),
                name: "management-data-events".to_owned(),
                home_region: home.clone(),
                multi_region: true,
                organization: false,
                logging: true,
                validation: true,
                kms_key: None,
                log_group: None,
                bucket,
                key_prefix: Some("data".to_owned()),
                selectors: Selectors::Advanced(vec![S3_OBJECT, LAMBDA_FUNCTION]),
                started: now - (20 + r.below(300) as i64) * DAY,
                stopped: None,
                delivery_error: None,
            });
        }
        Audit {
            organization,
            trails,
            buckets,
            log_archive,
        }
    }

    pub fn bucket(&self, name: &str) -> Option<&Bucket> {
        self.buckets.iter().find(|b| b.name == name)
    }

    pub fn is_member(&self, account: usize) -> bool {
        self.organization
            .members
            .get(account)
            .is_some_and(Option::is_some)
    }

    /// Whether `account` sees `trail` at all: its own, or its organisation's.
    pub fn sees(&self, account: usize, trail: &Trail) -> bool {
        trail.owner == account || (trail.organization && self.is_member(account))
    }

    /// The trails `DescribeTrails` lists for `account` in `region`: those homed there, and with
    /// `shadow`, the multi-region trails homed elsewhere and the organisation's trail.
    pub fn trails_in(
        &self,
        account: usize,
        region: &str,
        shadow: bool,
    ) -> impl Iterator<Item = &Trail> {
        self.trails.iter().filter(move |t| {
            if !self.sees(account, t) {
                return false;
            }
            let shadowed = t.owner != account || t.home_region != region;
            if shadowed {
                shadow && t.multi_region
            } else {
                true
            }
        })
    }
}

/// The accounts outside the organisation (about a fifth of those past the first three, at
/// least one of them readable), each with its audit set-up.
fn standalone_accounts(
    seed: u64,
    accounts: &[Account],
) -> std::collections::HashMap<usize, Standalone> {
    let mut r = Rng::derive(seed, &[DOMAIN, 4]);
    let mut candidates: Vec<usize> = (3..accounts.len()).collect();
    // Fisher-Yates, so the choice is a uniform draw.
    for i in (1..candidates.len()).rev() {
        let j = r.below(i as u64 + 1) as usize;
        candidates.swap(i, j);
    }
    let count = (candidates.len() * 22).div_ceil(100);
    let mut chosen: Vec<usize> = candidates[..count].to_vec();
    if !chosen
        .iter()
        .any(|&a| accounts[a].access == Access::Allowed)
        && let Some(&allowed) = candidates[count..]
            .iter()
            .find(|&&a| accounts[a].access == Access::Allowed)
        && let Some(first) = chosen.first_mut()
    {
        *first = allowed;
    }
    chosen.sort_unstable();
    let mut setups: Vec<(usize, Standalone)> = chosen
        .into_iter()
        .map(|a| {
            let mut r = Rng::derive(seed, &[DOMAIN, 5, a as u64]);
            let x = r.unit();
            let setup = if x < 0.2 {
                Standalone::NoTrail
            } else if x < 0.35 {
                Standalone::SingleRegionOnly
            } else if x < 0.5 {
                Standalone::NotLogging
            } else {
                let y = r.unit();
                Standalone::Logging(if y < 0.4 {
                    Delivery::OwnBucket
                } else if y < 0.8 {
                    Delivery::LogArchive
                } else if y < 0.9 {
                    Delivery::OtherAccount
                } else {
                    Delivery::Deleted
                })
            };
            (a, setup)
        })
        .collect();
    // Among the readable ones, at least one without a logging trail and, when there are two,
    // at least one with: the baseline then has both outcomes to show.
    let readable: Vec<usize> = (0..setups.len())
        .filter(|&i| accounts[setups[i].0].access == Access::Allowed)
        .collect();
    let logging = |s: Standalone| matches!(s, Standalone::Logging(_));
    if !readable.iter().any(|&i| !logging(setups[i].1))
        && let Some(&i) = readable.first()
    {
        setups[i].1 = *r.pick(&[
            Standalone::NoTrail,
            Standalone::SingleRegionOnly,
            Standalone::NotLogging,
        ]);
    }
    if readable.len() >= 2
        && !readable.iter().any(|&i| logging(setups[i].1))
        && let Some(&i) = readable.last()
    {
        setups[i].1 = Standalone::Logging(*r.pick(&[Delivery::OwnBucket, Delivery::LogArchive]));
    }
    setups.into_iter().collect()
}

impl Organization {
    fn generate(
        seed: u64,
        accounts: &[Account],
        standalone: &std::collections::HashMap<usize, Standalone>,
        approved: &[String],
        now: i64,
    ) -> Organization {
        let mut r = Rng::derive(seed, &[DOMAIN, 6]);
        let id = format!("o-{}", token(&mut r, 10));
        let root_suffix = token(&mut r, 4);
        let root_id = format!("r-{root_suffix}");
        let management_id = accounts[0].id.clone();
        let created = now - (1_000 + r.below(500) as i64) * DAY;

        // OUs from the accounts' paths, in the order they first appear.
        let mut ous: Vec<Ou> = Vec::new();
        let mut parent_of_path = |path: &str, r: &mut Rng| -> String {
            let mut parent = root_id.clone();
            for name in path.split('/').skip(1) {
                parent = match ous.iter().find(|o| o.parent == parent && o.name == name) {
                    Some(o) => o.id.clone(),
                    None => {
                        let ou = Ou {
                            id: format!("ou-{root_suffix}-{}", token(r, 8)),
                            name: name.to_owned(),
                            parent,
                        };
                        let id = ou.id.clone();
                        ous.push(ou);
                        id
                    }
                };
            }
            parent
        };
        let mut members = Vec::with_capacity(accounts.len());
        for (a, account) in accounts.iter().enumerate() {
            let parent = parent_of_path(account.ou_path, &mut r);
            members.push((!standalone.contains_key(&a)).then(|| Member {
                parent,
                joined: if a == 0 {
                    created
                } else {
                    created + (1 + r.below(900) as i64) * DAY + r.below(DAY as u64) as i64
                },
                method: if a == 0 || r.chance(0.2) {
                    "INVITED"
                } else {
                    "CREATED"
                },
            }));
        }

        let mut policies = vec![Policy {
            id: FULL_AWS_ACCESS.to_owned(),
            name: "FullAWSAccess".to_owned(),
            description: "Allows access to every operation".to_owned(),
            aws_managed: true,
            statements: vec![Statement {
                sid: None,
                deny: false,
                not_action: false,
                actions: vec!["*".to_owned()],
                condition: None,
            }],
            statement_object: false,
        }];
        let mut attachments: Vec<(String, usize)> = Vec::new();
        // AWS attaches FullAWSAccess to the root, every OU and every account.
        attachments.push((root_id.clone(), 0));
        for ou in &ous {
            attachments.push((ou.id.clone(), 0));
        }
        for (account, m) in accounts.iter().zip(&members) {
            if m.is_some() {
                attachments.push((account.id.clone(), 0));
            }
        }
        let add = |policies: &mut Vec<Policy>, r: &mut Rng, mut p: Policy| -> usize {
            p.id = format!("p-{}", token(r, 8));
            policies.push(p);
            policies.len() - 1
        };
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let except_break_glass = json!({
            "ArnNotLike": {"aws:PrincipalARN": "arn:aws:iam::*:role/OrganizationAccountAccessRole"}
        });

        let leave = add(
            &mut policies,
            &mut r,
            Policy {
                id: String::new(),
                name: "deny-leave-organization".to_owned(),
                description: "Accounts cannot leave the organisation".to_owned(),
                aws_managed: false,
                statements: vec![Statement {
                    sid: Some("DenyLeaveOrganization"),
                    deny: true,
                    not_action: false,
                    actions: owned(&["organizations:LeaveOrganization"]),
                    condition: None,
                }],
                statement_object: true,
            },
        );
        attachments.push((root_id.clone(), leave));
        let protect = add(
            &mut policies,
            &mut r,
            Policy {
                id: String::new(),
                name: "protect-audit-trail".to_owned(),
                description: "Nobody but the organisation's admins stops or changes CloudTrail"
                    .to_owned(),
                aws_managed: false,
                statements: vec![
                    Statement {
                        sid: Some("ProtectCloudTrail"),
                        deny: true,
                        not_action: false,
                        actions: owned(&[
                            "cloudtrail:StopLogging",
                            "cloudtrail:DeleteTrail",
                            "cloudtrail:UpdateTrail",
                            "cloudtrail:PutEventSelectors",
                            "cloudtrail:PutInsightSelectors",
                        ]),
                        condition: Some(except_break_glass.clone()),
                    },
                    Statement {
                        sid: Some("ProtectTrailBuckets"),
                        deny: true,
                        not_action: false,
                        actions: owned(&["s3:DeleteBucket", "s3:PutBucketPolicy"]),
                        condition: Some(except_break_glass.clone()),
                    },
                ],
                statement_object: false,
            },
        );
        let partial = add(
            &mut policies,
            &mut r,
            Policy {
                id: String::new(),
                name: "deny-trail-stop-delete".to_owned(),
                description: "CloudTrail cannot be stopped or deleted".to_owned(),
                aws_managed: false,
                statements: vec![Statement {
                    sid: Some("DenyStopDelete"),
                    deny: true,
                    not_action: false,
                    actions: owned(&["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"]),
                    condition: None,
                }],
                statement_object: true,
            },
        );
        for ou in &ous {
            match ou.name.as_str() {
                "Prod" | "Security" => attachments.push((ou.id.clone(), protect)),
                "NonProd" => attachments.push((ou.id.clone(), partial)),
                _ => {}
            }
        }

        // Account-level policies: a wildcard guard with a condition on some non-production
        // accounts (which, with their OU's partial policy, covers all four actions), and two
        // region locks on sandbox accounts, one of which exempts CloudTrail altogether.
        let in_org = |a: usize| members[a].is_some();
        let nonprod: Vec<usize> = (3..accounts.len())
            .filter(|&a| in_org(a) && accounts[a].ou_path.ends_with("/NonProd"))
            .collect();
        let sandbox: Vec<usize> = (3..accounts.len())
            .filter(|&a| in_org(a) && accounts[a].ou_path.ends_with("/Sandbox"))
            .collect();
        if !nonprod.is_empty() {
            let guard = add(
                &mut policies,
                &mut r,
                Policy {
                    id: String::new(),
                    name: "nonprod-trail-guard".to_owned(),
                    description: "Trail settings change only through the platform pipeline"
                        .to_owned(),
                    aws_managed: false,
                    statements: vec![Statement {
                        sid: Some("OnlyPipelineChangesTrails"),
                        deny: true,
                        not_action: false,
                        actions: owned(&["cloudtrail:Update*", "cloudtrail:put*"]),
                        condition: Some(json!({
                            "StringNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/platform-pipeline"}
                        })),
                    }],
                    statement_object: false,
                },
            );
            let first = r.below(nonprod.len() as u64) as usize;
            for (i, &a) in nonprod.iter().enumerate() {
                if i == first || r.chance(0.3) {
                    attachments.push((accounts[a].id.clone(), guard));
                }
            }
        }
        const GLOBAL_SERVICES: [&str; 14] = [
            "iam:*",
            "organizations:*",
            "sts:*",
            "support:*",
            "budgets:*",
            "ce:*",
            "cloudfront:*",
            "route53:*",
            "waf:*",
            "health:*",
            "trustedadvisor:*",
            "kms:*",
            "s3:GetAccountPublic*",
            "cloudtrail:LookupEvents",
        ];
        let region_lock = |name: &str, exempt_cloudtrail: bool| {
            let mut not = owned(&GLOBAL_SERVICES);
            if exempt_cloudtrail {
                not.pop();
                not.push("cloudtrail:*".to_owned());
            }
            Policy {
                id: String::new(),
                name: name.to_owned(),
                description: "Only the approved regions".to_owned(),
                aws_managed: false,
                statements: vec![
                    Statement {
                        sid: Some("DenyOutsideApprovedRegions"),
                        deny: true,
                        not_action: true,
                        actions: not,
                        condition: Some(json!({
                            "StringNotEquals": {"aws:RequestedRegion": approved}
                        })),
                    },
                    Statement {
                        sid: Some("AllowEverythingElse"),
                        deny: false,
                        not_action: false,
                        actions: owned(&["cloudtrail:*", "*"]),
                        condition: None,
                    },
                ],
                statement_object: false,
            }
        };
        if let Some((&first, rest)) = sandbox.split_first() {
            let lock = add(
                &mut policies,
                &mut r,
                region_lock("sandbox-region-lock", false),
            );
            attachments.push((accounts[first].id.clone(), lock));
            if let Some(&second) = rest.first() {
                let lock = add(
                    &mut policies,
                    &mut r,
                    region_lock("sandbox-region-lock-audit-exempt", true),
                );
                attachments.push((accounts[second].id.clone(), lock));
                let stop = add(
                    &mut policies,
                    &mut r,
                    Policy {
                        id: String::new(),
                        name: "deny-trail-stop".to_owned(),
                        description: "CloudTrail keeps logging".to_owned(),
                        aws_managed: false,
                        statements: vec![Statement {
                            sid: None,
                            deny: true,
                            not_action: false,
                            actions: owned(&["cloudtrail:Stop*", "cloudtrail:Delete*"]),
                            condition: None,
                        }],
                        statement_object: true,
                    },
                );
                attachments.push((accounts[second].id.clone(), stop));
            }
        }
        Organization {
            id,
            management_id,
            root_id,
            ous,
            members,
            policies,
            attachments,
        }
    }

    pub fn root_arn(&self) -> String {
        format!(
            "arn:aws:organizations::{}:root/{}/{}",
            self.management_id, self.id, self.root_id
        )
    }

    pub fn ou_arn(&self, ou: &Ou) -> String {
        format!(
            "arn:aws:organizations::{}:ou/{}/{}",
            self.management_id, self.id, ou.id
        )
    }

    pub fn account_arn(&self, account_id: &str) -> String {
        format!(
            "arn:aws:organizations::{}:account/{}/{account_id}",
            self.management_id, self.id
        )
    }

    pub fn policy_arn(&self, policy: &Policy) -> String {
        if policy.aws_managed {
            format!(
                "arn:aws:organizations::aws:policy/service_control_policy/{}",
                policy.id
            )
        } else {
            format!(
                "arn:aws:organizations::{}:policy/{}/service_control_policy/{}",
                self.management_id, self.id, policy.id
            )
        }
    }

    pub fn ou(&self, id: &str) -> Option<&Ou> {
        self.ous.iter().find(|o| o.id == id)
    }

    pub fn policy(&self, id: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.id == id)
    }

    /// The policies attached to `target` (the root's, an OU's or an account's id).
    pub fn policies_of<'a>(&'a self, target: &'a str) -> impl Iterator<Item = &'a Policy> {
        self.attachments
            .iter()
            .filter(move |(t, _)| t == target)
            .filter_map(|(_, p)| self.policies.get(*p))
    }

    /// The parent of an OU, by its id.
    pub fn ou_parent(&self, ou_id: &str) -> Option<&str> {
        self.ou(ou_id).map(|o| o.parent.as_str())
    }
}

impl Policy {
    /// The policy document, as `DescribePolicy` returns it in `Content`.
    pub fn content(&self) -> String {
        let statements: Vec<Value> = self
            .statements
            .iter()
            .map(|s| {
                let mut m = serde_json::Map::new();
                if let Some(sid) = s.sid {
                    m.insert("Sid".into(), json!(sid));
                }
                m.insert(
                    "Effect".into(),
                    json!(if s.deny { "Deny" } else { "Allow" }),
                );
                let actions = match s.actions.as_slice() {
                    [one] => json!(one),
                    many => json!(many),
                };
                m.insert(
                    if s.not_action { "NotAction" } else { "Action" }.into(),
                    actions,
                );
                m.insert("Resource".into(), json!("*"));
                if let Some(c) = &s.condition {
                    m.insert("Condition".into(), c.clone());
                }
                Value::Object(m)
            })
            .collect();
        let statement = match (self.statement_object, statements.as_slice()) {
            (true, [one]) => one.clone(),
            _ => Value::Array(statements),
        };
        let doc = json!({"Version": "2012-10-17", "Statement": statement});
        serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string())
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::org::{Estate, Options};

    use super::*;

    #[test]
    fn the_organisation_has_its_ous_members_and_standalone_accounts() {
        for seed in [1, 17, 5] {
            let e = Estate::generate(&Options {
                seed,
                ..Options::default()
            });
            let org = &e.audit.organization;
            assert!(org.id.starts_with("o-") && org.id.len() == 12);
            assert!(org.root_id.starts_with("r-") && org.root_id.len() == 6);
            let names: Vec<&str> = org.ous.iter().map(|o| o.name.as_str()).collect();
            for n in ["Workloads", "Prod", "NonProd", "Security", "Sandbox"] {
                assert!(names.contains(&n), "{names:?}");
            }
            let prod = org.ous.iter().find(|o| o.name == "Prod").unwrap();
            let workloads = org.ous.iter().find(|o| o.name == "Workloads").unwrap();
            assert_eq!(prod.parent, workloads.id);
            assert_eq!(workloads.parent, org.root_id);
            assert!(
                org.ous
                    .iter()
                    .all(|o| o.id.starts_with(&format!("ou-{}-", &org.root_id[2..])))
            );
            let standalone: Vec<usize> = (0..e.accounts.len())
                .filter(|&a| !e.audit.is_member(a))
                .collect();
            assert!(
                (4..=6).contains(&standalone.len()),
                "seed {seed}: {standalone:?}"
            );
            assert!(standalone.iter().all(|&a| a >= 3));
            assert!(
                standalone
                    .iter()
                    .any(|&a| e.accounts[a].access == Access::Allowed)
            );
            // Every member and OU carries FullAWSAccess, as AWS attaches it.
            for (a, m) in org.members.iter().enumerate() {
                if m.is_some() {
                    assert!(
                        org.policies_of(&e.accounts[a].id)
                            .any(|p| p.id == FULL_AWS_ACCESS)
                    );
                }
            }
        }
    }

    #[test]
    fn policies_render_as_aws_writes_them() {
        let e = Estate::generate(&Options::default());
        let org = &e.audit.organization;
        let doc = |name: &str| -> Value {
            serde_json::from_str(
                &org.policies
                    .iter()
                    .find(|p| p.name == name)
                    .unwrap()
                    .content(),
            )
            .unwrap()
        };
        let full = doc("FullAWSAccess");
        assert_eq!(full["Statement"][0]["Action"], "*");
        let partial = doc("deny-trail-stop-delete");
        assert!(partial["Statement"].is_object());
        assert_eq!(partial["Statement"]["Action"][1], "cloudtrail:DeleteTrail");
        let leave = doc("deny-leave-organization");
        assert_eq!(
            leave["Statement"]["Action"],
            "organizations:LeaveOrganization"
        );
        let lock = doc("sandbox-region-lock");
        assert!(lock["Statement"][0]["NotAction"].is_array());
        assert!(lock["Statement"][0]["Condition"].is_object());
    }

    #[test]
    fn members_see_the_organisation_trail_and_standalone_accounts_do_not() {
        let e = Estate::generate(&Options::default());
        let audit = &e.audit;
        let org_trail = audit.trails.iter().find(|t| t.organization).unwrap();
        assert_eq!(org_trail.owner, 0);
        assert_eq!(audit.bucket(&org_trail.bucket).unwrap().owner, 1);
        for a in 0..e.accounts.len() {
            let seen: Vec<&Trail> = audit.trails_in(a, &e.regions[0], true).collect();
            assert_eq!(
                seen.iter().any(|t| t.organization),
                audit.is_member(a),
                "{a}"
            );
            // Without shadow trails, a member sees only its own trails homed here.
            assert!(
                audit
                    .trails_in(a, &e.regions[0], false)
                    .all(|t| t.owner == a && t.home_region == e.regions[0])
            );
        }
    }
}
