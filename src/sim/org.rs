//! The simulated organisation and its estate of findings: generated from a seed, evolving on a
//! virtual clock. Findings are held as compact records (about 40 bytes each) and rendered into
//! each service's wire format only when served, so a million findings fit in well under 1 GiB.
//!
//! This module decides what exists; `truth` counts it; the service modules render it. None of
//! them shares code with Sightline's normalisers.

use std::collections::HashMap;

use super::audit::Audit;
use super::catalogue::{self, ANALYZER_TYPES, CONTROLS, MACIE_TYPES, VULNERABILITIES};
use super::rng::Rng;

/// The regions a default organisation is watched in; the first four are approved.
pub const DEFAULT_REGIONS: [&str; 6] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "sa-east-1",
];
const APPROVED_REGIONS: usize = 4;
/// The virtual clock starts here unless told otherwise: 2026-11-01T00:00:00Z.
pub const DEFAULT_START: i64 = 1_793_491_200;
const DAY: i64 = 86_400;

/// The five finding services, in the simulator's own terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    SecurityHub,
    GuardDuty,
    Inspector,
    Macie,
    AccessAnalyzer,
}

impl Service {
    pub const ALL: [Service; 5] = [
        Service::SecurityHub,
        Service::GuardDuty,
        Service::Inspector,
        Service::Macie,
        Service::AccessAnalyzer,
    ];

    /// The name in `/_sim/truth` and in Sightline's config.
    pub fn name(self) -> &'static str {
        match self {
            Service::SecurityHub => "securityhub",
            Service::GuardDuty => "guardduty",
            Service::Inspector => "inspector",
            Service::Macie => "macie",
            Service::AccessAnalyzer => "accessanalyzer",
        }
    }

    /// The SigV4 signing name, as it appears in a request's credential scope.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::SecurityHub => "securityhub",
            Service::GuardDuty => "guardduty",
            Service::Inspector => "inspector2",
            Service::Macie => "macie2",
            Service::AccessAnalyzer => "access-analyzer",
        }
    }

    pub fn from_signing_name(s: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|v| v.signing_name() == s)
    }
}

/// How an account answers Sightline's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// `AssumeRole` into the account is refused (the role was never deployed there).
    RoleDenied,
    /// The role can be assumed, but every service call is refused (its policy lacks them).
    ServicesDenied,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub environment: &'static str,
    pub owner: &'static str,
    pub ou_path: &'static str,
    pub access: Access,
}

/// A finding's state, which each service renders in its own words (GuardDuty: archived or
/// gone; Inspector: ACTIVE/SUPPRESSED/CLOSED; a control: FAILED/PASSED; …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Active,
    Suppressed,
    Resolved,
}

/// One finding, compact. Everything else (ids, ARNs, titles, resources) derives from it.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Unique in the organisation; ids and resource names derive from it.
    pub serial: u32,
    pub account: u16,
    pub region: u8,
    pub service: Service,
    /// Index into the service's catalogue (control, threat type, CVE, Macie type, analyzer type).
    pub kind: u16,
    /// 0 informational, 1 low, 2 medium, 3 high, 4 critical.
    pub level: u8,
    pub state: State,
    pub created: i64,
    pub updated: i64,
}

/// Generation parameters (`sightline simulate` flags).
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    pub accounts: usize,
    pub regions: usize,
    /// When set, every enabled target holds exactly this many findings (scale tests).
    pub findings_per_target: Option<usize>,
    /// Virtual time at start, epoch seconds.
    pub start: i64,
    /// Give the organisation's next 90 days a story, as the demo's history shows it: a steady
    /// baseline, a new account whose services switch on at day [`JOIN_DAY`] with a burst of
    /// findings, and a remediation push over [`PUSH_DAYS`] that pays off. Off by default: the
    /// plain simulator evolves evenly.
    pub story: bool,
    /// Make the security-tooling account (the third) the delegated administrator of all five
    /// services in every region: it sees the findings of every member account that has the
    /// service on, and lists its members. Off by default: each account sees only its own.
    pub delegated_admin: bool,
}

/// With `story`: the day (counted by `advance`) the new account's services switch on.
pub const JOIN_DAY: u32 = 30;
/// With `story`: the days of the remediation push.
pub const PUSH_DAYS: std::ops::RangeInclusive<u32> = 60..=69;
/// With `story`: new findings arrive at this share of the plain simulator's rate.
const STORY_ARRIVALS: f64 = 0.5;
/// The joining account's name in the story.
pub const JOINER_NAME: &str = "acquired-prod";

impl Default for Options {
    fn default() -> Self {
        Self {
            seed: 1,
            accounts: 24,
            regions: 6,
            findings_per_target: None,
            start: DEFAULT_START,
            story: false,
            delegated_admin: false,
        }
    }
}

/// The organisation and everything in it, at the current virtual time.
#[derive(Debug)]
pub struct Estate {
    pub seed: u64,
    /// Epoch seconds.
    pub now: i64,
    /// Whose own credentials the caller holds: the organisation's management account.
    pub management: String,
    pub accounts: Vec<Account>,
    pub regions: Vec<String>,
    pub approved: Vec<String>,
    /// `[account][region][service]`.
    enabled: Vec<bool>,
    pub findings: Vec<Finding>,
    /// Finding indices per (account, region, service), in creation order.
    by_target: HashMap<(u16, u8, Service), Vec<u32>>,
    days_advanced: u32,
    findings_per_target: Option<usize>,
    story: Option<Story>,
    /// The account whose every service is on in every region (the security team's own):
    /// switched on over the drawn flags, it holds no findings where they were off.
    fully_covered: Option<usize>,
    /// The audit set-up the observability baseline checks: Organizations, trails, buckets.
    pub audit: Audit,
    /// With `Options::delegated_admin`: the account that administers every finding service
    /// for the organisation (security-tooling).
    pub delegated_admin: Option<usize>,
}

/// The story's state (`Options::story`).
#[derive(Debug)]
struct Story {
    /// The account that joins at [`JOIN_DAY`].
    joiner: usize,
    /// Its services, switched off until it joins.
    pending: Vec<bool>,
}

const ENVIRONMENTS: [(&str, &str, &str); 4] = [
    ("prod", "payments", "Root/Workloads/Prod"),
    ("staging", "platform", "Root/Workloads/NonProd"),
    ("dev", "data", "Root/Workloads/NonProd"),
    ("sandbox", "research", "Root/Sandbox"),
];
const TEAMS: [&str; 6] = [
    "payments", "identity", "search", "data", "platform", "mobile",
];

impl Estate {
    pub fn generate(opts: &Options) -> Estate {
        let seed = opts.seed;
        let mut r = Rng::derive(seed, &[1]);
        let n_accounts = opts.accounts.clamp(1, 9_999);
        let mut accounts = Vec::with_capacity(n_accounts);
        let mut used = std::collections::HashSet::new();
        for i in 0..n_accounts {
            let id = loop {
                let id = format!("{:012}", 100_000_000_000 + r.below(899_999_999_999));
                if used.insert(id.clone()) {
                    break id;
                }
            };
            let (name, environment, owner, ou_path) = match i {
                0 => ("management".to_owned(), "prod", "cloud-platform", "Root"),
                1 => (
                    "log-archive".to_owned(),
                    "prod",
                    "security",
                    "Root/Security",
                ),
                2 => (
                    "security-tooling".to_owned(),
                    "prod",
                    "security",
                    "Root/Security",
                ),
                _ => {
                    let (env, _, ou) = ENVIRONMENTS[(i - 3) % ENVIRONMENTS.len()];
                    let team = TEAMS[(i - 3) / ENVIRONMENTS.len() % TEAMS.len()];
                    (format!("{team}-{env}"), env, team, ou)
                }
            };
            accounts.push(Account {
                id,
                name,
                environment,
                owner: if i < 3 {
                    owner
                } else {
                    TEAMS[(i - 3) / ENVIRONMENTS.len() % TEAMS.len()]
                },
                ou_path,
                access: Access::Allowed,
            });
        }
        // A few accounts refuse Sightline: one never got the role, one's role lacks permissions.
        if n_accounts >= 8 {
            let a = 3 + r.below(n_accounts as u64 - 3) as usize;
            let mut b = 3 + r.below(n_accounts as u64 - 3) as usize;
            if b == a {
                b = 3 + (b - 3 + 1) % (n_accounts - 3);
            }
            accounts[a].access = Access::RoleDenied;
            accounts[b].access = Access::ServicesDenied;
        }
        let n_regions = opts.regions.clamp(1, DEFAULT_REGIONS.len() + 11);
        let regions: Vec<String> = region_names(n_regions);
        let approved: Vec<String> = regions
            .iter()
            .take(APPROVED_REGIONS.min(n_regions))
            .cloned()
            .collect();

        let mut enabled = vec![false; n_accounts * n_regions * Service::ALL.len()];
        for a in 0..n_accounts {
            for (ri, region) in regions.iter().enumerate() {
                let approved_region = approved.contains(region);
                let prod = accounts[a].environment == "prod";
                for (si, s) in Service::ALL.into_iter().enumerate() {
                    let mut r = Rng::derive(seed, &[2, a as u64, ri as u64, si as u64]);
                    let p = match (s, approved_region) {
                        (_, false) => {
                            if s == Service::GuardDuty {
                                0.25
                            } else {
                                0.05
                            }
                        }
                        (Service::SecurityHub, true) => 0.9,
                        (Service::GuardDuty, true) => 0.92,
                        (Service::Inspector, true) => {
                            if prod {
                                0.9
                            } else {
                                0.6
                            }
                        }
                        (Service::Macie, true) => {
                            if ri < 2 {
                                0.6
                            } else {
                                0.2
                            }
                        }
                        (Service::AccessAnalyzer, true) => 0.8,
                    };
                    enabled[(a * n_regions + ri) * Service::ALL.len() + si] =
                        opts.findings_per_target.is_some() || r.chance(p);
                }
            }
        }

        // The story's new account: a production account Sightline may read, quiet until it joins.
        let story = if opts.story && opts.findings_per_target.is_none() {
            (3..n_accounts)
                .rev()
                .find(|&a| {
                    accounts[a].access == Access::Allowed && accounts[a].environment == "prod"
                })
                .map(|joiner| {
                    accounts[joiner].name = JOINER_NAME.to_owned();
                    let per_account = n_regions * Service::ALL.len();
                    let flags = &mut enabled[joiner * per_account..(joiner + 1) * per_account];
                    let pending = flags.to_vec();
                    flags.fill(false);
                    Story { joiner, pending }
                })
        } else {
            None
        };

        let audit = Audit::generate(seed, &accounts, &regions, &approved, opts.start);
        let mut estate = Estate {
            seed,
            now: opts.start,
            management: accounts[0].id.clone(),
            accounts,
            regions,
            approved,
            enabled,
            findings: Vec::new(),
            by_target: HashMap::new(),
            days_advanced: 0,
            findings_per_target: opts.findings_per_target,
            story,
            fully_covered: (n_accounts > 2).then_some(2),
            audit,
            delegated_admin: (opts.delegated_admin && n_accounts > 2).then_some(2),
        };
        estate.populate();
        estate
    }

    /// Whether `service` is switched on in (account, region).
    pub fn is_enabled(&self, account: usize, region: usize, service: Service) -> bool {
        self.fully_covered == Some(account) || self.generates(account, region, service)
    }

    /// Whether (account, region, service) was drawn on, and so holds findings: the estate's
    /// findings and their evolution follow these flags alone.
    fn generates(&self, account: usize, region: usize, service: Service) -> bool {
        let si = Service::ALL.iter().position(|s| *s == service).unwrap_or(0);
        self.enabled[(account * self.regions.len() + region) * Service::ALL.len() + si]
    }

    /// The accounts whose findings of a service `caller` sees: its own, and as the delegated
    /// administrator every account's (members with the service off hold none).
    pub fn seen_accounts(&self, caller: usize) -> Vec<usize> {
        if self.delegated_admin == Some(caller) {
            (0..self.accounts.len()).collect()
        } else {
            vec![caller]
        }
    }

    /// Whether `caller` sees the findings of `owner` (`seen_accounts`).
    pub fn sees(&self, caller: usize, owner: usize) -> bool {
        caller == owner || self.delegated_admin == Some(caller)
    }

    /// The accounts `admin` lists as members of `service` in `region` (every other account
    /// with the service on there); empty unless `admin` is the delegated administrator.
    pub fn members(&self, admin: usize, region: usize, service: Service) -> Vec<usize> {
        if self.delegated_admin != Some(admin) {
            return Vec::new();
        }
        (0..self.accounts.len())
            .filter(|&a| a != admin && self.is_enabled(a, region, service))
            .collect()
    }

    pub fn account_index(&self, id: &str) -> Option<usize> {
        self.accounts.iter().position(|a| a.id == id)
    }

    pub fn region_index(&self, code: &str) -> Option<usize> {
        self.regions.iter().position(|r| r == code)
    }

    /// The findings `service` holds in (account, region), in creation (serial) order, resolved
    /// ones included: each service decides whether it still serves them.
    pub fn target_findings(
        &self,
        account: usize,
        region: usize,
        service: Service,
    ) -> impl Iterator<Item = &Finding> {
        self.by_target
            .get(&(account as u16, region as u8, service))
            .into_iter()
            .flatten()
            .map(|&i| &self.findings[i as usize])
    }

    fn push(&mut self, f: Finding) {
        let idx = self.findings.len() as u32;
        self.by_target
            .entry((f.account, f.region, f.service))
            .or_default()
            .push(idx);
        self.findings.push(f);
    }

    /// The starting estate: findings of every enabled target, with ages spread over 90 days.
    fn populate(&mut self) {
        for a in 0..self.accounts.len() {
            for ri in 0..self.regions.len() {
                for service in Service::ALL {
                    if !self.generates(a, ri, service) {
                        continue;
                    }
                    let mut r = Rng::derive(self.seed, &[3, a as u64, ri as u64, service as u64]);
                    let count = match self.findings_per_target {
                        Some(n) => n,
                        None => self.initial_count(&mut r, a, ri, service),
                    };
                    for _ in 0..count {
                        let created = self.now - 1 - r.below(90 * DAY as u64) as i64;
                        let updated = (created + r.below((self.now - created) as u64) as i64)
                            .min(self.now - 1);
                        let f = self.new_finding(&mut r, a, ri, service, created, updated, true);
                        self.push(f);
                    }
                }
            }
        }
    }

    fn initial_count(&self, r: &mut Rng, account: usize, region: usize, service: Service) -> usize {
        let approved = self.approved.contains(&self.regions[region]);
        if !approved {
            // A little activity where nobody should be: the odd crypto-miner or exposed bucket.
            return if service == Service::GuardDuty || r.chance(0.3) {
                r.below(3) as usize
            } else {
                0
            };
        }
        let prod = self.accounts[account].environment == "prod";
        let base = match service {
            Service::SecurityHub => 12 + r.below(20),
            Service::GuardDuty => r.below(7),
            Service::Inspector => 4 + r.below(if prod { 30 } else { 14 }),
            Service::Macie => r.below(4),
            Service::AccessAnalyzer => r.below(6),
        };
        base as usize
    }

    /// A new finding of `service`; `initial` spreads states as in a long-running estate.
    #[allow(clippy::too_many_arguments)]
    fn new_finding(
        &self,
        r: &mut Rng,
        account: usize,
        region: usize,
        service: Service,
        created: i64,
        updated: i64,
        initial: bool,
    ) -> Finding {
        let approved = self.approved.contains(&self.regions[region]);
        // Real estates hold few critical and high findings: redraw most of those.
        let pick = |r: &mut Rng| -> (usize, u8) {
            for _ in 0..4 {
                let (k, level) = self.draw_kind(r, service, approved);
                let keep = match level {
                    4 => 0.2,
                    3 => 0.5,
                    _ => 1.0,
                };
                if r.chance(keep) {
                    return (k, level);
                }
            }
            self.draw_kind(r, service, approved)
        };
        let (kind, level) = pick(r);
        let state = if !initial {
            State::Active
        } else {
            let x = r.unit();
            match service {
                // Controls pass more often than they fail.
                Service::SecurityHub if x < 0.35 => State::Resolved,
                Service::SecurityHub if x < 0.42 => State::Suppressed,
                Service::Inspector if x < 0.15 => State::Resolved,
                Service::AccessAnalyzer if x < 0.10 => State::Resolved,
                _ if x < 0.92 => State::Active,
                _ => State::Suppressed,
            }
        };
        Finding {
            serial: 0,
            account: account as u16,
            region: region as u8,
            service,
            kind: kind as u16,
            level,
            state,
            created,
            updated,
        }
        .numbered(self.findings.len() as u32 + 1)
    }

    fn draw_kind(&self, r: &mut Rng, service: Service, approved: bool) -> (usize, u8) {
        match service {
            Service::SecurityHub => {
                let k = r.below(CONTROLS.len() as u64) as usize;
                (k, label_level(CONTROLS[k].severity))
            }
            Service::GuardDuty => {
                let types = catalogue::threat_types();
                // Outside approved regions, GuardDuty mostly sees crypto-mining.
                let k = if !approved {
                    types
                        .iter()
                        .position(|t| t.kind.starts_with("CryptoCurrency:EC2"))
                        .unwrap_or(0)
                } else {
                    r.below(types.len() as u64) as usize
                };
                (k, label_level(&types[k].severity))
            }
            Service::Inspector => {
                let k = r.below(VULNERABILITIES.len() as u64) as usize;
                (k, label_level(VULNERABILITIES[k].severity))
            }
            Service::Macie => {
                let k = r.below(MACIE_TYPES.len() as u64) as usize;
                (k, label_level(MACIE_TYPES[k].severity))
            }
            Service::AccessAnalyzer => {
                let k = r.below(ANALYZER_TYPES.len() as u64) as usize;
                let t = &ANALYZER_TYPES[k];
                (
                    k,
                    if t.unused {
                        1
                    } else if t.public {
                        3
                    } else {
                        2
                    },
                )
            }
        }
    }

    /// Moves the virtual clock forward by whole days; the estate changes as a real one does.
    pub fn advance(&mut self, days: u32) {
        for _ in 0..days {
            self.days_advanced += 1;
            let day = self.days_advanced as u64;
            let day_start = self.now;
            self.now += DAY;
            let mut r = Rng::derive(self.seed, &[4, day]);
            // The story's own draws come from their own stream: without a story, the estate
            // evolves exactly as it always did.
            let mut story_r = Rng::derive(self.seed, &[5, day]);
            let extra_fixes = self.story_fix_rate(day as u32);
            // Changes to existing findings.
            for i in 0..self.findings.len() {
                let at = day_start + 1 + r.below(DAY as u64 - 2) as i64;
                let f = &mut self.findings[i];
                let x = r.unit();
                // The story's extra fixes: GuardDuty and Macie findings are archived (their
                // services forget resolved ones), the others resolved.
                if extra_fixes > 0.0 && f.state == State::Active && story_r.chance(extra_fixes) {
                    f.state = match f.service {
                        Service::GuardDuty | Service::Macie => State::Suppressed,
                        _ => State::Resolved,
                    };
                    f.updated = at;
                    continue;
                }
                let story = self.story.is_some();
                match f.state {
                    // In the story, GuardDuty and Macie findings are closed as their users close
                    // them, by archiving (an update a poll reads), not by their disappearing.
                    State::Active
                        if x < 0.03
                            && story
                            && matches!(f.service, Service::GuardDuty | Service::Macie) =>
                    {
                        f.state = State::Suppressed
                    }
                    State::Active if x < 0.03 => f.state = State::Resolved,
                    State::Active if x < 0.034 => f.state = State::Suppressed,
                    // Macie has no critical: its scale ends at High.
                    State::Active if x < 0.040 => {
                        f.level = (f.level + 1).min(if f.service == Service::Macie { 3 } else { 4 })
                    }
                    State::Suppressed if x < 0.01 => f.state = State::Active,
                    // Reopening makes sense where the source keeps resolved findings.
                    // (In the story, a fixed finding comes back less often.)
                    State::Resolved
                        if x < (if story { 0.003 } else { 0.01 })
                            && matches!(
                                f.service,
                                Service::SecurityHub | Service::Inspector | Service::AccessAnalyzer
                            ) =>
                    {
                        f.state = State::Active
                    }
                    _ => continue,
                }
                if f.service == Service::AccessAnalyzer {
                    // Access Analyzer's severity follows from the access, not from time.
                    let t = &ANALYZER_TYPES[f.kind as usize];
                    f.level = if t.unused {
                        1
                    } else if t.public {
                        3
                    } else {
                        2
                    };
                }
                if f.service == Service::SecurityHub && f.state == State::Active {
                    f.level = label_level(CONTROLS[f.kind as usize].severity);
                }
                f.updated = at;
            }
            // After the day's changes, so that its findings are new all day.
            if self.story.is_some() && day as u32 == JOIN_DAY {
                self.join(&mut story_r, day_start);
            }
            // New findings where services are on.
            if self.findings_per_target.is_some() {
                continue;
            }
            for a in 0..self.accounts.len() {
                for ri in 0..self.regions.len() {
                    for service in Service::ALL {
                        if !self.generates(a, ri, service) {
                            continue;
                        }
                        let rate = match service {
                            Service::SecurityHub => 0.5,
                            Service::GuardDuty => 0.25,
                            Service::Inspector => 0.6,
                            Service::Macie => 0.05,
                            Service::AccessAnalyzer => 0.08,
                        };
                        let approved = self.approved.contains(&self.regions[ri]);
                        // The story's estate is in balance: findings arrive about as fast
                        // as they are fixed, so the baseline holds steady.
                        let rate = if self.story.is_some() {
                            rate * STORY_ARRIVALS
                        } else {
                            rate
                        };
                        let n = poisson(&mut r, if approved { rate } else { rate / 10.0 });
                        for _ in 0..n {
                            let at = day_start + 1 + r.below(DAY as u64 - 2) as i64;
                            let f = self.new_finding(&mut r, a, ri, service, at, at, false);
                            self.push(f);
                        }
                    }
                }
            }
        }
    }
}

impl Estate {
    /// The share of open findings fixed each day on top of the usual 3 %: several times the
    /// usual during the push, a little more after it (the team keeps the habit).
    fn story_fix_rate(&self, day: u32) -> f64 {
        match &self.story {
            None => 0.0,
            Some(_) if PUSH_DAYS.contains(&day) => 0.12,
            Some(_) if day > *PUSH_DAYS.end() => 0.015,
            Some(_) => 0.0,
        }
    }

    /// The story's new account joins: its services switch on, and each finds what years
    /// without them left behind, all on this day.
    fn join(&mut self, r: &mut Rng, day_start: i64) {
        let Some(story) = &self.story else {
            return;
        };
        let (a, pending) = (story.joiner, story.pending.clone());
        let per_account = self.regions.len() * Service::ALL.len();
        self.enabled[a * per_account..(a + 1) * per_account].copy_from_slice(&pending);
        for ri in 0..self.regions.len() {
            for service in Service::ALL {
                if !self.generates(a, ri, service) {
                    continue;
                }
                let count = 5 * self.initial_count(r, a, ri, service);
                for _ in 0..count {
                    // Within the first hours of the day, as the services' first scans finish.
                    let created = day_start + 1 + r.below(8 * 3600) as i64;
                    let f = self.new_finding(r, a, ri, service, created, created, true);
                    self.push(f);
                }
            }
        }
    }
}

impl Finding {
    fn numbered(mut self, serial: u32) -> Finding {
        self.serial = serial;
        self
    }
}

/// A severity label in any service's spelling, as a level 0–4.
pub fn label_level(label: &str) -> u8 {
    match label.to_ascii_lowercase().as_str() {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

/// Region codes for a simulated organisation of `n` regions.
fn region_names(n: usize) -> Vec<String> {
    const MORE: [&str; 11] = [
        "us-east-2",
        "us-west-1",
        "ca-central-1",
        "eu-west-2",
        "eu-west-3",
        "eu-north-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "ap-southeast-2",
        "me-south-1",
    ];
    DEFAULT_REGIONS
        .iter()
        .chain(MORE.iter())
        .take(n)
        .map(|s| (*s).to_owned())
        .collect()
}

fn poisson(r: &mut Rng, lambda: f64) -> u32 {
    let limit = (-lambda).exp();
    let mut k = 0;
    let mut p = r.unit();
    while p > limit && k < 50 {
        k += 1;
        p *= r.unit();
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_estate() {
        let a = Estate::generate(&Options::default());
        let b = Estate::generate(&Options::default());
        assert_eq!(
            a.accounts.iter().map(|x| &x.id).collect::<Vec<_>>(),
            b.accounts.iter().map(|x| &x.id).collect::<Vec<_>>()
        );
        assert_eq!(format!("{:?}", a.findings), format!("{:?}", b.findings));
        let c = Estate::generate(&Options {
            seed: 2,
            ..Options::default()
        });
        assert_ne!(a.accounts[5].id, c.accounts[5].id);
    }

    #[test]
    fn default_estate_looks_like_an_organisation() {
        let e = Estate::generate(&Options::default());
        assert_eq!(e.accounts.len(), 24);
        assert_eq!(e.regions.len(), 6);
        assert_eq!(e.approved.len(), 4);
        assert_eq!(
            e.accounts
                .iter()
                .filter(|a| a.access != Access::Allowed)
                .count(),
            2
        );
        for s in Service::ALL {
            let n = e.findings.iter().filter(|f| f.service == s).count();
            assert!(n > 10, "{s:?}: {n}");
        }
        let unapproved = e.findings.iter().filter(|f| f.region >= 4).count();
        assert!(
            unapproved > 0 && unapproved < e.findings.len() / 20,
            "{unapproved}"
        );
        let critical = e.findings.iter().filter(|f| f.level == 4).count();
        let low_medium = e
            .findings
            .iter()
            .filter(|f| f.level == 1 || f.level == 2)
            .count();
        assert!(
            critical * 3 < low_medium,
            "{critical} critical vs {low_medium} low/medium"
        );
    }

    #[test]
    fn advancing_changes_the_estate_with_timestamps() {
        let mut e = Estate::generate(&Options::default());
        let before = e.findings.len();
        let start = e.now;
        e.advance(3);
        assert_eq!(e.now, start + 3 * DAY);
        assert!(e.findings.len() > before);
        let changed = e.findings.iter().filter(|f| f.updated > start).count();
        assert!(changed > 50, "{changed}");
        assert!(
            e.findings
                .iter()
                .all(|f| f.updated <= e.now && f.created <= f.updated)
        );
    }

    /// Open findings a full poll can see (the truth's count), day by day over the story.
    fn open_by_day(opts: &Options) -> Vec<u64> {
        let mut e = Estate::generate(opts);
        let mut open = Vec::new();
        for day in 0..=90 {
            if day > 0 {
                e.advance(1);
            }
            let t = crate::sim::truth::compute(&e);
            open.push(
                t.findings
                    .iter()
                    .filter(|f| f.status == "open")
                    .map(|f| f.count)
                    .sum(),
            );
        }
        open
    }

    #[test]
    fn the_story_has_a_baseline_a_new_account_and_a_remediation_push() {
        let opts = Options {
            story: true,
            ..Options::default()
        };
        let open = open_by_day(&opts);
        let j = JOIN_DAY as usize;
        let (push_start, push_end) = (*PUSH_DAYS.start() as usize, *PUSH_DAYS.end() as usize);
        let shown = open
            .iter()
            .enumerate()
            .map(|(d, n)| format!("{d}:{n}"))
            .collect::<Vec<_>>()
            .join(" ");
        // A steady baseline: the first month moves by less than a tenth.
        let (lo, hi) = open[..j]
            .iter()
            .fold((u64::MAX, 0), |(lo, hi), &n| (lo.min(n), hi.max(n)));
        assert!(hi * 10 < lo * 11, "baseline not steady: {shown}");
        // The new account: a jump of a fifth or more on the day it joins.
        assert!(
            open[j] * 10 > open[j - 1] * 12,
            "no spike at day {j}: {shown}"
        );
        // The push: the open count falls by a third or more, and stays well below its peak.
        assert!(
            open[push_end + 1] * 3 < open[push_start - 1] * 2,
            "no fall: {shown}"
        );
        assert!(
            open[90] * 4 < open[push_start - 1] * 3,
            "the push did not last: {shown}"
        );
        // The joiner is quiet before it joins, and the story is the same for the same seed.
        let e = Estate::generate(&opts);
        let joiner = e
            .accounts
            .iter()
            .position(|a| a.name == JOINER_NAME)
            .unwrap();
        assert_eq!(
            e.findings
                .iter()
                .filter(|f| f.account as usize == joiner)
                .count(),
            0
        );
        assert_eq!(open, open_by_day(&opts));
        // Without the story, no account is renamed and the estate evolves as before.
        let plain = Estate::generate(&Options::default());
        assert!(plain.accounts.iter().all(|a| a.name != JOINER_NAME));
    }

    #[test]
    fn fixed_findings_per_target() {
        let e = Estate::generate(&Options {
            accounts: 3,
            regions: 2,
            findings_per_target: Some(7),
            ..Options::default()
        });
        assert_eq!(e.findings.len(), 3 * 2 * 5 * 7);
    }
}
