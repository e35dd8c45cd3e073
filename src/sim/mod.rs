//! The simulated AWS organisation. So far: sample findings for tests and benchmarks; the wire
//! protocols, the generated organisation and its ground truth come with `sightline simulate`.

pub mod catalogue;
pub mod org;
pub mod rng;
pub mod samples;
pub mod wire;
