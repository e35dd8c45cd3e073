//! The pages' one error type, rendered as an HTML page with the right status. A client sees what
//! was wrong with its request; internal detail is logged, never sent.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::Chrome;
use crate::domain::filter::FilterError;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The thing named in the URL does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A query parameter is invalid; the message names it and the allowed values.
    #[error("{0}")]
    BadRequest(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("template error: {0}")]
    Template(#[from] askama::Error),
}

impl From<FilterError> for PageError {
    fn from(e: FilterError) -> Self {
        Self::BadRequest(e.to_string())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    heading: &'static str,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, heading, message) = match self {
            Self::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "Invalid request", m),
            Self::Database(e) => {
                tracing::error!(error = %e, "database error while rendering a page");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Database unavailable",
                    "The database did not answer. Try again in a moment; if this persists, see the server log.".to_owned(),
                )
            }
            Self::Template(e) => {
                tracing::error!(error = %e, "template failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "The page could not be rendered; the server log has the details.".to_owned(),
                )
            }
        };
        let page = ErrorPage {
            chrome: Chrome::new(""),
            status: status.as_u16(),
            heading,
            message,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, heading).into_response(),
        }
    }
}
