//! One module per simulated finding service, each answering in that service's wire format, and
//! what GuardDuty and Macie share: the `findingCriteria` language and ids that carry the serial.

pub mod accessanalyzer;
mod criteria;
pub mod guardduty;
pub mod inspector;
pub mod macie;
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
