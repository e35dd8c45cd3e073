//! Keeps each response body exactly as AWS sent it: Sightline stores the raw finding JSON and
//! normalises from it, while the SDK still signs, retries, paginates and checks the shape.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::Value;

/// Attach a clone to one call (`.customize().interceptor(capture.clone())`); after `send()`,
/// `json()` gives the body of the attempt that succeeded.
#[derive(Debug, Clone, Default)]
pub struct RawCapture(Arc<Mutex<Option<Vec<u8>>>>);

impl RawCapture {
    /// The captured body as JSON; `Value::Null` when nothing was captured or it is not JSON.
    pub fn json(&self) -> Value {
        let body = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        body.and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    }
}

impl Intercept for RawCapture {
    fn name(&self) -> &'static str {
        "RawCapture"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Every attempt overwrites: the last one is the one whose output `send()` returns.
        if let Some(bytes) = context.response().body().bytes() {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(bytes.to_vec());
        }
        Ok(())
    }
}
