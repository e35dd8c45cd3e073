//! The simulated AWS organisation. So far: sample findings for tests and benchmarks; the wire
//! protocols, the generated organisation and its ground truth come with `sightline simulate`.

pub mod audit;
pub mod baseline;
pub mod catalogue;
pub mod limits;
pub mod org;
pub mod rng;
pub mod samples;
pub mod server;
// A handler step's `Err` is the finished AWS error answer, made once per request.
#[allow(clippy::result_large_err)]
pub mod services;
pub mod sts;
pub mod truth;
pub mod wire;
