//! TEMP stub: replaced by the page's real handler.

use super::error::PageError;

pub async fn list_findings() -> PageError {
    PageError::NotFound("this page is not built yet".into())
}

pub async fn export_csv() -> PageError {
    PageError::NotFound("this page is not built yet".into())
}

pub async fn export_json() -> PageError {
    PageError::NotFound("this page is not built yet".into())
}

pub async fn show_finding() -> PageError {
    PageError::NotFound("this page is not built yet".into())
}
