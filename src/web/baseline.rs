//! `/baseline`: not built yet. The page says which checks will run, and shows no result.

use askama::Template;
use axum::response::Response;

use super::error::PageError;
use super::trends::README_STATUS;
use super::{Chrome, Viewer, render};

#[derive(Template)]
#[template(path = "baseline.html")]
struct BaselinePage {
    chrome: Chrome,
    readme_status: &'static str,
}

pub async fn show_baseline(viewer: Viewer) -> Result<Response, PageError> {
    render(&BaselinePage {
        chrome: Chrome::for_viewer("baseline", viewer),
        readme_status: README_STATUS,
    })
}
