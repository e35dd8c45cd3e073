//! Sightline: the security and observability posture of every AWS account and region you own.
//!
//! Data flows one way: AWS → `sources` → [`domain::Finding`] → [`db`] → `web` / `api`.
//! `main.rs` is a thin shell over [`cli`].

pub mod api;
pub mod baseline;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod localpg;
pub mod poller;
pub mod sim;
pub mod sources;
pub mod telemetry;
pub mod web;
