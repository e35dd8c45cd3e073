//! TEMP stub: replaced by the page's real handler.

use super::error::PageError;

pub async fn list_regions() -> PageError {
    PageError::NotFound("this page is not built yet".into())
}

pub async fn show_region() -> PageError {
    PageError::NotFound("this page is not built yet".into())
}
