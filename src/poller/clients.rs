//! AWS clients for every account and region: the standard credential chain, `AssumeRole` per
//! account with sessions cached and refreshed before expiry, retries with backoff and jitter,
//! timeouts on every call, and rate limits below the documented ones.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::sync::Mutex;

use crate::config::Config;
use crate::domain::AccountId;

/// Which documented limit an operation falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Security Hub `GetFindings`: 3 requests/s, burst 6, per account and region.
    SecurityHubGetFindings,
    /// Everything else: 10 requests/s, burst 30 unless AWS documents otherwise.
    Default,
}

pub struct Clients {
    base: SdkConfig,
    role_name: String,
    external_id: Option<String>,
    role_arns: HashMap<AccountId, String>,
    per_account: Mutex<HashMap<AccountId, SdkConfig>>,
    slow: DefaultKeyedRateLimiter<String>,
    normal: DefaultKeyedRateLimiter<String>,
    /// Calls go to an emulator or the simulator (`endpoint_url` or `AWS_ENDPOINT_URL`).
    endpoint_overridden: bool,
}

impl Clients {
    /// Loads the base configuration: the standard chain (env, profile, SSO, container or
    /// instance role), or the config's static keys (emulators), and its endpoint override.
    pub async fn new(config: &Config) -> Clients {
        let home_region = std::env::var("AWS_REGION").ok().unwrap_or_else(|| {
            config
                .aws
                .regions
                .first()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".into())
        });
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(home_region))
            .retry_config(
                // Throttling storms are normal at scale: retry long, with jittered backoff.
                RetryConfig::standard()
                    .with_max_attempts(10)
                    .with_initial_backoff(Duration::from_millis(200)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(30))
                    .operation_timeout(Duration::from_secs(180))
                    .build(),
            );
        if let Some(url) = &config.aws.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let (Some(key), Some(secret)) =
            (&config.aws.access_key_id, &config.aws.secret_access_key)
        {
            loader = loader.credentials_provider(aws_credential_types::Credentials::from_keys(
                key.expose(),
                secret.expose(),
                None,
            ));
        }
        let base = loader.load().await;
        let role_arns = config
            .accounts
            .iter()
            .filter_map(|a| a.role_arn.clone().map(|arn| (a.id.clone(), arn)))
            .collect();
        // Just below AWS's limits: the SDK's retries absorb what the clocks disagree on.
        let slow = Quota::per_second(NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN));
        let normal = Quota::per_second(NonZeroU32::new(9).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN));
        Clients {
            base,
            role_name: config.aws.role_name.clone(),
            external_id: config
                .aws
                .external_id
                .as_ref()
                .map(|s| s.expose().to_owned()),
            role_arns,
            per_account: Mutex::new(HashMap::new()),
            slow: DefaultKeyedRateLimiter::keyed(slow),
            normal: DefaultKeyedRateLimiter::keyed(normal),
            endpoint_overridden: config.aws.endpoint_url.is_some()
                || std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        }
    }

    /// The SDK config for `account` in `region`: credentials of the role assumed there, shared by
    /// every client of the account so one session serves all its regions and services.
    pub async fn config_for(&self, account: &AccountId, region: &str) -> SdkConfig {
        let mut cache = self.per_account.lock().await;
        let config = match cache.get(account) {
            Some(c) => c.clone(),
            None => {
                let role_arn =
                    self.role_arns.get(account).cloned().unwrap_or_else(|| {
                        format!("arn:aws:iam::{account}:role/{}", self.role_name)
                    });
                let mut builder = AssumeRoleProvider::builder(role_arn).session_name("sightline");
                if let Some(id) = &self.external_id {
                    builder = builder.external_id(id);
                }
                let provider = builder.configure(&self.base).build().await;
                let c = self
                    .base
                    .clone()
                    .into_builder()
                    .credentials_provider(
                        aws_credential_types::provider::SharedCredentialsProvider::new(provider),
                    )
                    // One cache per account, shared by its clients: refreshed before expiry.
                    .identity_cache(IdentityCache::lazy().build())
                    .build();
                cache.insert(account.clone(), c.clone());
                c
            }
        };
        config
            .into_builder()
            .region(Region::new(region.to_owned()))
            .build()
    }

    /// Whether calls go to an emulator or the simulator rather than to AWS's own endpoints.
    pub fn endpoint_overridden(&self) -> bool {
        self.endpoint_overridden
    }

    /// Waits until a call of `operation` in (account, region) is within the rate limit.
    pub async fn pace(&self, account: &AccountId, region: &str, operation: &str, pace: Pace) {
        let key = format!("{account}/{region}/{operation}");
        match pace {
            Pace::SecurityHubGetFindings => self.slow.until_key_ready(&key).await,
            Pace::Default => self.normal.until_key_ready(&key).await,
        }
    }
}

/// Shared between the poller's workers.
pub type SharedClients = Arc<Clients>;
