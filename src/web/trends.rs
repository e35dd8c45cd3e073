//! `/trends`: not built yet. The page says what it will show, and shows no number.

use askama::Template;
use axum::response::Response;

use super::error::PageError;
use super::{Chrome, Viewer, render};

/// Where the README says what is built and what is not.
pub const README_STATUS: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "#status");

#[derive(Template)]
#[template(path = "trends.html")]
struct TrendsPage {
    chrome: Chrome,
    readme_status: &'static str,
}

pub async fn show_trends(viewer: Viewer) -> Result<Response, PageError> {
    render(&TrendsPage {
        chrome: Chrome::for_viewer("trends", viewer),
        readme_status: README_STATUS,
    })
}
