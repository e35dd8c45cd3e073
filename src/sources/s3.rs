//! S3, for the baseline: which buckets the log-archive account owns (`ListBuckets` answers only
//! the caller's own), and a log bucket's lifecycle rules.

use aws_config::SdkConfig;

use crate::baseline::evaluate::LifecycleRule;
use crate::domain::AccountId;
use crate::poller::clients::{Clients, Pace};
use crate::poller::errors::{CallError, classify};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// A client for `sdk`: path-style addressing when an endpoint is overridden (emulators and the
/// simulator serve one host, not a host per bucket).
fn client(clients: &Clients, sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(clients.endpoint_overridden())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The buckets `account` owns, with the region each is in when S3 says.
pub async fn list_buckets(
    clients: &Clients,
    account: &AccountId,
) -> Result<Vec<(String, Option<String>)>, CallError> {
    let sdk = clients.config_for(account, "us-east-1").await;
    clients
        .pace(account, "us-east-1", "s3:ListBuckets", Pace::Default)
        .await;
    let client = client(clients, &sdk);
    let out = client
        .list_buckets()
        .send()
        .await
        .map_err(|e| classify(&e))?;
    Ok(out
        .buckets()
        .iter()
        .filter_map(|b| Some((b.name()?.to_owned(), b.bucket_region().map(str::to_owned))))
        .collect())
}

/// `bucket`'s lifecycle rules read with `account`'s credentials in `region`; `None` when it has
/// no lifecycle configuration. A bucket in another region answers with a redirect naming its
/// region (`x-amz-bucket-region`): the call is made once more there.
pub async fn lifecycle(
    clients: &Clients,
    account: &AccountId,
    bucket: &str,
    region: &str,
) -> Result<Option<Vec<LifecycleRule>>, CallError> {
    let mut region = region.to_owned();
    for attempt in 0..2 {
        let sdk = clients.config_for(account, &region).await;
        clients
            .pace(
                account,
                &region,
                "s3:GetBucketLifecycleConfiguration",
                Pace::Default,
            )
            .await;
        let client = client(clients, &sdk);
        match client
            .get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(out) => return Ok(Some(rules(&out))),
            Err(e) if e.code() == Some("NoSuchLifecycleConfiguration") => return Ok(None),
            Err(e) => {
                let elsewhere = e
                    .raw_response()
                    .and_then(|r| r.headers().get("x-amz-bucket-region"))
                    .filter(|r| *r != region)
                    .map(str::to_owned);
                match elsewhere {
                    Some(r) if attempt == 0 => region = r,
                    _ => return Err(classify(&e)),
                }
            }
        }
    }
    Err(CallError::other(format!("s3://{bucket} kept redirecting")))
}

fn rules(
    out: &aws_sdk_s3::operation::get_bucket_lifecycle_configuration::GetBucketLifecycleConfigurationOutput,
) -> Vec<LifecycleRule> {
    out.rules()
        .iter()
        .map(|r| LifecycleRule {
            id: r.id().unwrap_or("unnamed").to_owned(),
            enabled: r.status().as_str() == "Enabled",
            transitions: r
                .transitions()
                .iter()
                .map(|t| {
                    (
                        t.storage_class()
                            .map(|c| c.as_str().to_owned())
                            .unwrap_or_default(),
                        t.days(),
                    )
                })
                .collect(),
            expiration_days: r.expiration().and_then(|e| e.days()),
        })
        .collect()
}
