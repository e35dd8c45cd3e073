//! TEMP stub: replaced by the page's real handler.

use super::error::PageError;

pub async fn show_coverage() -> PageError {
    PageError::NotFound("this page is not built yet".into())
}
