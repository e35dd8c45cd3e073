//! Deep links into the AWS console for a finding. The console needs the viewer to be signed in
//! to the finding's account; Sightline only builds the address.

use super::Source;

/// The console address of a finding reported by `reporter` with its native id, in `region`.
/// GuardDuty, Security Hub and Macie open the finding itself; Inspector and Access Analyzer
/// open the service's findings list in that region (their consoles take no id in the address).
pub fn finding_url(reporter: Source, region: &str, native_id: &str) -> String {
    let base = format!("https://{region}.console.aws.amazon.com");
    match reporter {
        Source::GuardDuty => {
            // The console takes the finding id, the last part of the ARN.
            let id = native_id.rsplit('/').next().unwrap_or(native_id);
            format!(
                "{base}/guardduty/home?region={region}#/findings?macros=current&fId={}",
                encode(id)
            )
        }
        Source::SecurityHub => format!(
            "{base}/securityhub/home?region={region}#/findings?search=Id%3D%255Coperator%255C%253AEQUALS%255C%253A{}",
            encode(&encode(native_id))
        ),
        Source::Macie => format!(
            "{base}/macie/home?region={region}#findings?macros=current&itemId={}",
            encode(native_id)
        ),
        Source::Inspector => format!("{base}/inspector/v2/home?region={region}#/findings/all"),
        Source::AccessAnalyzer => format!("{base}/access-analyzer/home?region={region}#/findings"),
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guardduty_links_take_the_finding_id() {
        assert_eq!(
            finding_url(
                Source::GuardDuty,
                "eu-west-1",
                "arn:aws:guardduty:eu-west-1:111111111111:detector/abc/finding/f00d"
            ),
            "https://eu-west-1.console.aws.amazon.com/guardduty/home?region=eu-west-1#/findings?macros=current&fId=f00d"
        );
    }

    #[test]
    fn security_hub_ids_are_encoded_twice() {
        let url = finding_url(Source::SecurityHub, "us-east-1", "arn:aws:securityhub:x/y");
        assert!(
            url.ends_with("%253AEQUALS%255C%253Aarn%253Aaws%253Asecurityhub%253Ax%252Fy"),
            "{url}"
        );
    }
}
