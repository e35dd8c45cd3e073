//! Rate limits as AWS documents them, per (account, region, operation): token buckets on the
//! wall clock. Security Hub `GetFindings` allows 3 requests/s with a burst of 6; the other
//! operations 10/s with a burst of 30 unless AWS documents otherwise.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub per_second: f64,
    pub burst: f64,
}

pub const SECURITYHUB_GET_FINDINGS: Limit = Limit {
    per_second: 3.0,
    burst: 6.0,
};
pub const DEFAULT: Limit = Limit {
    per_second: 10.0,
    burst: 30.0,
};

#[derive(Debug, Default)]
pub struct Limiter {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limiter {
    /// Takes one token from the bucket named `key`; false when the caller must be throttled.
    pub fn admit(&self, key: &str, limit: Limit) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = buckets.entry(key.to_owned()).or_insert((limit.burst, now));
        let refill = now.duration_since(*last).as_secs_f64() * limit.per_second;
        *tokens = (*tokens + refill).min(limit.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_throttle_then_refill() {
        let l = Limiter::default();
        let admitted = (0..10)
            .filter(|_| l.admit("a", SECURITYHUB_GET_FINDINGS))
            .count();
        assert_eq!(admitted, 6);
        assert!(
            l.admit("b", SECURITYHUB_GET_FINDINGS),
            "buckets are independent"
        );
        std::thread::sleep(std::time::Duration::from_millis(400));
        assert!(l.admit("a", SECURITYHUB_GET_FINDINGS), "refilled at 3/s");
    }
}
