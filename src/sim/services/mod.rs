//! One module per simulated finding service, each answering in that service's wire format, and
//! what GuardDuty and Macie share: the `findingCriteria` language and ids that carry the serial.
//! CloudTrail, S3 and Organizations, which the observability baseline reads, answer from the
//! estate's audit set-up; they are no finding sources, so `handler` does not list them.

pub mod accessanalyzer;
pub mod cloudtrail;
mod criteria;
pub mod guardduty;
pub mod inspector;
pub mod macie;
mod members;
pub mod organizations;
pub mod s3;
pub mod securityhub;
mod serial_ids;
#[cfg(test)]
mod testing;

use super::org::Service;
use super::wire::Handler;

/// The module that answers for `service`.
pub fn handler(service: Service) -> Option<Handler> {
    Some(match service {
        Service::SecurityHub => securityhub::handle,
        Service::GuardDuty => guardduty::handle,
        Service::Inspector => inspector::handle,
        Service::Macie => macie::handle,
        Service::AccessAnalyzer => accessanalyzer::handle,
    })
}
