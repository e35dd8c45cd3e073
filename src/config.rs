//! The configuration file: typed, validated once at start, with errors that name the key.
//!
//! `sightline.example.toml` documents every key; keep the two in step (a test parses it).

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::domain::{AccountId, Region, Severity, Source};

/// The default config path, used when neither `--config` nor `SIGHTLINE_CONFIG` is given.
pub const DEFAULT_PATH: &str = "sightline.toml";

/// A config that could not be loaded: one line, naming the file, the key and the problem.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the web server binds (`serve`, `demo`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Postgres connection string; the `DATABASE_URL` environment variable overrides it.
    #[serde(default)]
    pub database_url: Option<DatabaseUrl>,
    pub aws: AwsConfig,
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    #[serde(default)]
    pub poller: PollerConfig,
    #[serde(default)]
    pub sla: SlaConfig,
    #[serde(default)]
    pub baseline: BaselineConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Who may see the pages. Without it, `serve` listens on loopback addresses only.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
}

/// `[auth]`: how the web pages know who is looking.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `proxy`: a reverse proxy (oauth2-proxy, an ALB with OIDC, …) signs users in and names
    /// them in a request header.
    pub mode: AuthMode,
    /// The header the proxy sets to the signed-in user.
    #[serde(default = "default_user_header")]
    pub user_header: String,
    /// The addresses the proxy connects from. Requests from anywhere else are refused, so the
    /// header cannot be forged by going around the proxy.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    Proxy,
}

fn default_user_header() -> String {
    "X-Forwarded-Email".to_owned()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// Regions to watch.
    pub regions: Vec<Region>,
    /// Regions the organisation means to use; activity anywhere else is a signal.
    #[serde(default)]
    pub approved_regions: Vec<Region>,
    /// Read-only role assumed in every account (unless the account names its own `role_arn`).
    pub role_name: String,
    #[serde(default)]
    pub external_id: Option<Secret>,
    /// Endpoint for every AWS call (an emulator or the simulator); `AWS_ENDPOINT_URL` works too.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Fixed keys instead of the standard credential chain: for emulators and the simulator.
    /// Against AWS, use the standard chain (environment, profile, SSO, instance role).
    #[serde(default)]
    pub access_key_id: Option<Secret>,
    #[serde(default)]
    pub secret_access_key: Option<Secret>,
    #[serde(default = "default_sources")]
    pub sources: Vec<Source>,
    /// Delegated-administrator mode: read each service once per region from this account (the
    /// delegated administrator of all five), which sees every member's findings, instead of
    /// from every account. Coverage comes from its member lists. Its role is assumed like
    /// every account's.
    #[serde(default)]
    pub delegated_admin_account_id: Option<AccountId>,
    /// Discover the accounts through AWS Organizations `ListAccounts` (config entries still
    /// name, tag and override them).
    #[serde(default)]
    pub discover_accounts: bool,
    /// Where AWS Organizations is read (the service control policies of the baseline): the
    /// organisation's management account, or a delegated administrator of Organizations. Its
    /// role is assumed like every account's.
    #[serde(default)]
    pub organizations_account_id: Option<AccountId>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub id: AccountId,
    pub name: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub owner: String,
    /// A role to assume instead of `arn:aws:iam::{id}:role/{aws.role_name}`.
    #[serde(default)]
    pub role_arn: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollerConfig {
    /// Time between the starts of two poll cycles.
    #[serde(default = "default_interval", deserialize_with = "duration")]
    pub interval: Duration,
    /// Poll targets polled at once, across all accounts, regions and sources.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// How often a target is read in full, to resolve findings its source no longer returns.
    #[serde(default = "default_full_sweep", deserialize_with = "duration")]
    pub full_sweep_interval: Duration,
    /// How far before the watermark an incremental poll starts, for late-indexed updates.
    #[serde(default = "default_overlap", deserialize_with = "duration")]
    pub overlap: Duration,
}

impl Default for PollerConfig {
    fn default() -> Self {
        Self {
            interval: default_interval(),
            concurrency: default_concurrency(),
            full_sweep_interval: default_full_sweep(),
            overlap: default_overlap(),
        }
    }
}

/// Days a finding of each severity may stay open before it breaches its SLA.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    #[serde(default = "sla_critical")]
    pub critical: u32,
    #[serde(default = "sla_high")]
    pub high: u32,
    #[serde(default = "sla_medium")]
    pub medium: u32,
    #[serde(default = "sla_low")]
    pub low: u32,
    /// Informational findings have no SLA unless one is set.
    #[serde(default)]
    pub informational: Option<u32>,
}

impl SlaConfig {
    pub fn days(&self, severity: Severity) -> Option<u32> {
        match severity {
            Severity::Critical => Some(self.critical),
            Severity::High => Some(self.high),
            Severity::Medium => Some(self.medium),
            Severity::Low => Some(self.low),
            Severity::Informational => self.informational,
        }
    }
}

impl Default for SlaConfig {
    fn default() -> Self {
        Self {
            critical: sla_critical(),
            high: sla_high(),
            medium: sla_medium(),
            low: sla_low(),
            informational: None,
        }
    }
}

/// Inputs of the audit-trail baseline checks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineConfig {
    /// The account that owns the CloudTrail log bucket (a separate log-archive account).
    #[serde(default)]
    pub log_archive_account_id: Option<AccountId>,
    /// How long audit logs must be kept before they may expire.
    #[serde(default = "default_log_retention_days")]
    pub log_retention_days: u32,
    /// Environments that must record S3 and Lambda data events (elsewhere it is advisory).
    #[serde(default = "default_production_environments")]
    pub production_environments: Vec<String>,
    /// How often the baseline is read again, at the end of a cycle (audit-trail setups change
    /// rarely, and each read asks CloudTrail, S3 and Organizations about every account). A
    /// watched account without results is read at the next cycle end regardless. "0s": every
    /// cycle.
    #[serde(default = "default_baseline_interval", deserialize_with = "duration")]
    pub interval: Duration,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        Self {
            log_archive_account_id: None,
            log_retention_days: default_log_retention_days(),
            production_environments: default_production_environments(),
            interval: default_baseline_interval(),
        }
    }
}

fn default_baseline_interval() -> Duration {
    Duration::from_secs(3600)
}

/// How long Sightline keeps its own history.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Daily rollups (the trend pages) are kept this many days.
    #[serde(default = "default_rollup_days")]
    pub rollup_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            rollup_days: default_rollup_days(),
        }
    }
}

/// A string that never appears in `Debug` output or logs.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

/// A Postgres connection string; its `Debug` and `Display` hide the password.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The URL with any password replaced, fit for messages and logs.
    pub fn redacted(&self) -> String {
        let s = &self.0;
        let Some(scheme_end) = s.find("://") else {
            return s.clone();
        };
        let rest = &s[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                let user = userinfo.split(':').next().unwrap_or("");
                let masked = if userinfo.contains(':') {
                    format!("{user}:****")
                } else {
                    user.to_owned()
                };
                format!("{}{}{}", &s[..scheme_end + 3], masked, &rest[at..])
            }
            None => s.clone(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_sources() -> Vec<Source> {
    Source::ALL.to_vec()
}
fn default_interval() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_concurrency() -> usize {
    32
}
fn default_full_sweep() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn default_overlap() -> Duration {
    Duration::from_secs(10 * 60)
}
fn sla_critical() -> u32 {
    7
}
fn sla_high() -> u32 {
    30
}
fn sla_medium() -> u32 {
    90
}
fn sla_low() -> u32 {
    180
}
fn default_log_retention_days() -> u32 {
    5 * 365
}
fn default_production_environments() -> Vec<String> {
    vec!["prod".into(), "production".into()]
}
fn default_rollup_days() -> u32 {
    3 * 365
}

/// Durations are written as people write them: `"90s"`, `"15m"`, `"24h"`, `"7d"`.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration (like \"90s\", \"15m\", \"24h\" or \"7d\")");
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(secs))
}

impl Config {
    /// Refuses to serve the pages beyond this machine when nobody checks who is looking.
    pub fn check_listen(&self) -> Result<(), ConfigError> {
        if self.auth.is_none() && !self.listen.ip().is_loopback() {
            return Err(ConfigError(format!(
                "listen: {} is reachable from other machines, and there is no [auth] section: without one Sightline serves loopback addresses only (127.0.0.1, ::1). Put it behind a signing-in reverse proxy and add [auth] mode = \"proxy\" (see README.md, \"Access\")",
                self.listen
            )));
        }
        Ok(())
    }

    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                " (pass --config FILE or set SIGHTLINE_CONFIG; sightline.example.toml documents every key)"
            } else {
                ""
            };
            ConfigError(format!("{}: cannot read: {e}{hint}", path.display()))
        })?;
        Self::parse(&text).map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }

    /// Parses and validates config text. Errors read `key.path: problem`.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let de = toml::Deserializer::parse(text).map_err(|e| syntax_error(text, &e))?;
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.message().to_owned();
            if path == "." {
                ConfigError(message)
            } else {
                ConfigError(format!("{path}: {message}"))
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let fail = |key: &str, msg: String| Err(ConfigError(format!("{key}: {msg}")));
        if self.aws.regions.is_empty() {
            return fail("aws.regions", "list at least one region to watch".into());
        }
        if let Some(dup) = first_duplicate(self.aws.regions.iter()) {
            return fail("aws.regions", format!("{dup:?} is listed twice"));
        }
        if self.aws.sources.is_empty() {
            return fail("aws.sources", "list at least one source".into());
        }
        if let Some(dup) = first_duplicate(self.aws.sources.iter()) {
            return fail("aws.sources", format!("{:?} is listed twice", dup.as_str()));
        }
        let role = &self.aws.role_name;
        if role.is_empty()
            || role.len() > 64
            || !role
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        {
            return fail("aws.role_name", format!("{role:?} is not an IAM role name"));
        }
        if let Some(url) = &self.aws.endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return fail(
                "aws.endpoint_url",
                format!("{url:?} is not an http:// or https:// URL"),
            );
        }
        if self.aws.access_key_id.is_some() != self.aws.secret_access_key.is_some() {
            return fail(
                "aws.access_key_id",
                "set both access_key_id and secret_access_key, or neither (the standard credential chain)".into(),
            );
        }
        if self.aws.discover_accounts && self.aws.organizations_account_id.is_none() {
            return fail(
                "aws.discover_accounts",
                "set aws.organizations_account_id too: the account (management or delegated administrator) whose role can list the organisation's accounts".into(),
            );
        }
        if let Some(auth) = &self.auth {
            if axum::http::HeaderName::from_bytes(auth.user_header.as_bytes()).is_err() {
                return fail(
                    "auth.user_header",
                    format!("{:?} is not an HTTP header name", auth.user_header),
                );
            }
            if auth.trusted_proxies.is_empty() {
                return fail(
                    "auth.trusted_proxies",
                    "list the addresses your reverse proxy connects from (e.g. [\"127.0.0.1\"])"
                        .into(),
                );
            }
        }
        if self.accounts.is_empty() && !self.aws.discover_accounts {
            return fail(
                "accounts",
                "no [[accounts]] listed and aws.discover_accounts is off: nothing to watch".into(),
            );
        }
        let mut seen = HashSet::new();
        for (i, account) in self.accounts.iter().enumerate() {
            if !seen.insert(&account.id) {
                return fail(
                    &format!("accounts[{i}].id"),
                    format!("{:?} is listed twice", account.id.as_str()),
                );
            }
            if account.name.trim().is_empty() {
                return fail(&format!("accounts[{i}].name"), "must not be empty".into());
            }
            if let Some(arn) = &account.role_arn
                && !(arn.starts_with("arn:aws") && arn.contains(":iam::") && arn.contains(":role/"))
            {
                return fail(
                    &format!("accounts[{i}].role_arn"),
                    format!("{arn:?} is not an IAM role ARN"),
                );
            }
        }
        if self.poller.concurrency == 0 {
            return fail("poller.concurrency", "must be at least 1".into());
        }
        if self.poller.interval.is_zero() {
            return fail("poller.interval", "must be longer than zero".into());
        }
        for (key, days) in [
            ("sla.critical", self.sla.critical),
            ("sla.high", self.sla.high),
            ("sla.medium", self.sla.medium),
            ("sla.low", self.sla.low),
        ] {
            if days == 0 {
                return fail(key, "must be at least 1 day".into());
            }
        }
        if self.retention.rollup_days == 0 {
            return fail("retention.rollup_days", "must be at least 1 day".into());
        }
        Ok(())
    }

    /// Whether activity in `region` is expected.
    pub fn is_approved(&self, region: &Region) -> bool {
        self.aws.approved_regions.contains(region)
    }
}

fn first_duplicate<T: Eq + std::hash::Hash>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut seen = HashSet::new();
    items.into_iter().find_map(|item| {
        if seen.contains(&item) {
            Some(item)
        } else {
            seen.insert(item);
            None
        }
    })
}

/// A TOML syntax error as one line: `line L, column C: message`.
fn syntax_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            ConfigError(format!("line {line}, column {column}: {message}"))
        }
        None => ConfigError(message),
    }
}

/// Where the config comes from: `--config`, `SIGHTLINE_CONFIG` (both handled by clap), or the
/// default path.
pub fn resolve_path(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
listen = "127.0.0.1:8080"
[aws]
regions = ["us-east-1", "eu-west-1"]
approved_regions = ["us-east-1"]
role_name = "SightlineReadOnly"
sources = ["securityhub", "guardduty", "inspector", "macie", "accessanalyzer"]
[[accounts]]
id = "111111111111"
name = "prod-payments"
environment = "prod"
owner = "payments"
"#;

    fn err(text: &str) -> String {
        Config::parse(text).unwrap_err().0
    }

    #[test]
    fn minimal_config_from_design() {
        let c = Config::parse(MINIMAL).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.aws.regions.len(), 2);
        assert!(c.is_approved(&"us-east-1".parse().unwrap()));
        assert!(!c.is_approved(&"eu-west-1".parse().unwrap()));
        assert_eq!(c.accounts[0].environment, "prod");
        assert_eq!(c.poller.interval, Duration::from_secs(900));
        assert_eq!(c.sla.days(Severity::High), Some(30));
        assert_eq!(c.sla.days(Severity::Informational), None);
    }

    #[test]
    fn example_file_parses_and_sets_every_section() {
        let text = include_str!("../sightline.example.toml");
        let c = Config::parse(text).unwrap();
        assert!(c.database_url.is_some());
        assert!(c.aws.external_id.is_some());
        assert!(c.baseline.log_archive_account_id.is_some());
    }

    #[test]
    fn bad_account_id_names_the_key() {
        let text = MINIMAL.to_owned()
            + "[[accounts]]\nid = \"222222222222\"\nname = \"b\"\n[[accounts]]\nid = \"12345\"\nname = \"c\"\n";
        assert_eq!(
            err(&text),
            r#"accounts[2].id: "12345" is not a 12-digit AWS account id"#
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = err(&MINIMAL.replace("role_name", "regionz = []\nrole_name"));
        assert!(
            e.starts_with("aws.regionz: unknown field `regionz`, expected one of `regions`"),
            "{e}"
        );
        let e = err(&(MINIMAL.to_owned() + "[polller]\n"));
        assert!(e.contains("unknown field `polller`"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        assert!(
            err(&MINIMAL.replace("\"eu-west-1\"", "\"eu-west\""))
                .starts_with("aws.regions[1]: \"eu-west\" is not an AWS region code")
        );
        assert!(
            err(&MINIMAL.replace("\"macie\"", "\"shield\"")).starts_with(
                "aws.sources[3]: unknown variant `shield`, expected one of `securityhub`"
            )
        );
        assert!(err(&MINIMAL.replace("127.0.0.1:8080", "localhost")).starts_with("listen: "));
        assert_eq!(
            err(&(MINIMAL.to_owned() + "[poller]\ninterval = \"soon\"\n")),
            r#"poller.interval: "soon" is not a duration (like "90s", "15m", "24h" or "7d")"#
        );
        assert_eq!(
            err(&(MINIMAL.to_owned() + "[poller]\nconcurrency = 0\n")),
            "poller.concurrency: must be at least 1"
        );
        assert_eq!(
            err(&MINIMAL.replace("regions = [\"us-east-1\", \"eu-west-1\"]", "regions = []")),
            "aws.regions: list at least one region to watch"
        );
        assert_eq!(
            err(&(MINIMAL.to_owned() + "[[accounts]]\nid = \"111111111111\"\nname = \"again\"\n")),
            r#"accounts[1].id: "111111111111" is listed twice"#
        );
        assert!(
            err(&MINIMAL.replace("SightlineReadOnly", "no spaces allowed"))
                .starts_with("aws.role_name:")
        );
    }

    #[test]
    fn without_auth_only_loopback_is_served() {
        let c = Config::parse(MINIMAL).unwrap();
        assert!(c.check_listen().is_ok());
        let open = Config::parse(&MINIMAL.replace("127.0.0.1:8080", "0.0.0.0:8080")).unwrap();
        let e = open.check_listen().unwrap_err().to_string();
        assert!(
            e.starts_with("listen: 0.0.0.0:8080 is reachable from other machines"),
            "{e}"
        );
        let proxied = Config::parse(
            &(MINIMAL.replace("127.0.0.1:8080", "0.0.0.0:8080")
                + "[auth]\nmode = \"proxy\"\ntrusted_proxies = [\"10.0.0.5\"]\n"),
        )
        .unwrap();
        assert!(proxied.check_listen().is_ok());
        assert_eq!(proxied.auth.unwrap().user_header, "X-Forwarded-Email");
        assert!(
            err(&(MINIMAL.to_owned() + "[auth]\nmode = \"proxy\"\ntrusted_proxies = []\n"))
                .starts_with("auth.trusted_proxies:")
        );
        assert!(
            err(&(MINIMAL.to_owned() + "[auth]\nmode = \"open\"\ntrusted_proxies = []\n"))
                .starts_with("auth.mode:")
        );
        assert!(
            err(&(MINIMAL.to_owned()
                + "[auth]\nmode = \"proxy\"\nuser_header = \"a b\"\ntrusted_proxies = [\"::1\"]\n"))
            .starts_with("auth.user_header:")
        );
    }

    #[test]
    fn missing_key_and_syntax_errors_are_one_line() {
        let e = err(&MINIMAL.replace("role_name = \"SightlineReadOnly\"", ""));
        assert_eq!(e, "aws: missing field `role_name`");
        let e = err("listen = \n[aws]");
        assert!(e.starts_with("line 1, column "), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn no_accounts_is_an_error_unless_discovered_and_the_admin_id_is_checked() {
        let text = MINIMAL.split("[[accounts]]").next().unwrap();
        assert!(err(text).starts_with("accounts: no [[accounts]] listed"));
        let discovery = text.replace("[aws]", "[aws]\ndiscover_accounts = true");
        assert!(
            err(&discovery)
                .starts_with("aws.discover_accounts: set aws.organizations_account_id too"),
            "{}",
            err(&discovery)
        );
        let discovery = text.replace(
            "[aws]",
            "[aws]\ndiscover_accounts = true\norganizations_account_id = \"111111111111\"",
        );
        let config = Config::parse(&discovery).unwrap();
        assert!(config.accounts.is_empty() && config.aws.discover_accounts);
        let delegated = MINIMAL.replace(
            "[aws]",
            "[aws]\ndelegated_admin_account_id = \"999999999999\"",
        );
        let config = Config::parse(&delegated).unwrap();
        assert_eq!(
            config.aws.delegated_admin_account_id.unwrap().as_str(),
            "999999999999"
        );
        let bad = MINIMAL.replace("[aws]", "[aws]\ndelegated_admin_account_id = \"12345\"");
        assert!(
            err(&bad).starts_with("aws.delegated_admin_account_id"),
            "{}",
            err(&bad)
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let url = DatabaseUrl::new("postgres://app:hunter2@db.internal:5432/sightline");
        assert_eq!(
            url.redacted(),
            "postgres://app:****@db.internal:5432/sightline"
        );
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(
            DatabaseUrl::new("postgres://postgres@127.0.0.1:5/x").redacted(),
            "postgres://postgres@127.0.0.1:5/x"
        );
        let c = Config::parse(&MINIMAL.replace("role_name", "external_id = \"s3cr3t\"\nrole_name"))
            .unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
