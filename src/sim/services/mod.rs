//! One module per simulated finding service, each answering in that service's wire format.

use super::org::Service;
use super::wire::Handler;

/// The module that answers for `service`, once it is simulated.
pub fn handler(service: Service) -> Option<Handler> {
    match service {
        Service::SecurityHub
        | Service::GuardDuty
        | Service::Inspector
        | Service::Macie
        | Service::AccessAnalyzer => None,
    }
}
