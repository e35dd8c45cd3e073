//! What went wrong with an AWS call, in the terms coverage and poll runs use.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// How a refused `AssumeRole` is reported: the role cannot be used for any call this cycle.
pub const ASSUME_ROLE_DENIED: &str = "AssumeRole denied: ";

/// An AWS call that failed after the SDK's retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub kind: FailureKind,
    /// One line: the error code and message, or the transport's reason.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The role cannot be assumed, or its policy lacks the action.
    AccessDenied,
    /// The service answered that it is not switched on here.
    NotEnabled,
    /// Still throttled after every retry.
    Throttled,
    /// Anything else: network, timeout, a 5xx, an answer Sightline cannot read.
    Other,
}

impl FailureKind {
    /// The coverage state a target (or a delegated administrator's members) failing so is in.
    pub fn coverage_state(self) -> &'static str {
        match self {
            FailureKind::AccessDenied => "access_denied",
            FailureKind::NotEnabled => "not_enabled",
            FailureKind::Throttled | FailureKind::Other => "error",
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallError {}

impl CallError {
    pub fn other(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Other,
            message: message.into(),
        }
    }
}

/// Classifies an SDK error by its modeled code and message.
pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::ServiceError(service) = err {
        let e = service.err();
        let code = e.code().unwrap_or("Unknown");
        let message = e.message().unwrap_or("");
        // An answer with no AWS error in it (an HTML 404, a bare 500): say what came back.
        let text = if e.code().is_none() {
            format!(
                "HTTP {} with no AWS error code",
                service.raw().status().as_u16()
            )
        } else {
            format!("{code}: {message}")
        };
        let lower = message.to_ascii_lowercase();
        let kind = match code {
            // Security Hub: "Account … is not subscribed to AWS Security Hub".
            "InvalidAccessException" => FailureKind::NotEnabled,
            // Macie answers AccessDenied "Macie is not enabled"; Inspector says the account
            // "does not have access"/"is not enabled".
            _ if lower.contains("not enabled") || lower.contains("not subscribed") => {
                FailureKind::NotEnabled
            }
            "AccessDeniedException"
            | "AccessDenied"
            | "UnauthorizedOperation"
            | "UnrecognizedClientException" => FailureKind::AccessDenied,
            "ThrottlingException"
            | "TooManyRequestsException"
            | "LimitExceededException"
            | "Throttling" => FailureKind::Throttled,
            _ => FailureKind::Other,
        };
        return CallError {
            kind,
            message: text,
        };
    }
    // Credentials (AssumeRole) failures and transport errors: read the whole chain.
    let text = one_line(err);
    if text.contains("AccessDenied") || text.contains("not authorized to perform: sts:AssumeRole") {
        // The chain repeats STS's answer in debug form: keep its message alone.
        let message = text
            .split("message: \"")
            .nth(1)
            .and_then(|m| m.split('"').next())
            .map_or(text.clone(), |m| format!("{ASSUME_ROLE_DENIED}{m}"));
        return CallError {
            kind: FailureKind::AccessDenied,
            message,
        };
    }
    CallError {
        kind: FailureKind::Other,
        message: text,
    }
}

fn one_line(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        source = inner.source();
    }
    s.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service_error(
        status: u16,
        meta: ErrorMetadata,
    ) -> SdkError<aws_sdk_guardduty::operation::list_findings::ListFindingsError, HttpResponse>
    {
        let raw = HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from("<html>Not Found</html>"),
        );
        SdkError::service_error(
            aws_sdk_guardduty::operation::list_findings::ListFindingsError::generic(meta),
            raw,
        )
    }

    #[test]
    fn an_answer_without_an_aws_error_says_its_status() {
        let e = classify(&service_error(404, ErrorMetadata::builder().build()));
        assert_eq!(
            (e.kind, e.message.as_str()),
            (FailureKind::Other, "HTTP 404 with no AWS error code")
        );
    }

    #[test]
    fn modeled_codes_map_to_kinds() {
        let cases = [
            (
                "InvalidAccessException",
                "Account 1 is not subscribed to AWS Security Hub",
                FailureKind::NotEnabled,
            ),
            (
                "AccessDeniedException",
                "Macie is not enabled.",
                FailureKind::NotEnabled,
            ),
            (
                "AccessDeniedException",
                "User is not authorized",
                FailureKind::AccessDenied,
            ),
            (
                "TooManyRequestsException",
                "Rate exceeded",
                FailureKind::Throttled,
            ),
            ("InternalServerException", "boom", FailureKind::Other),
        ];
        for (code, message, kind) in cases {
            let e = classify(&service_error(
                400,
                ErrorMetadata::builder().code(code).message(message).build(),
            ));
            assert_eq!(e.kind, kind, "{code}");
            assert_eq!(e.message, format!("{code}: {message}"));
        }
    }
}
