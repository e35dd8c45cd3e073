//! Sightline's integration tests: one binary, a module per area. Database tests use
//! `#[sqlx::test]` (a fresh migrated database each, on the server at DATABASE_URL, which
//! `scripts/test` provides).

#![allow(clippy::unwrap_used)]

mod api;
mod auth;
mod baseline;
mod baseline_pages;
mod browser;
mod cli;
mod contract;
mod demo;
mod deploy;
mod discovery;
mod findings;
mod metrics;
mod moto;
mod moto_baseline;
mod moto_poll;
mod pages;
mod poll;
mod scale;
mod sim;
mod sim_accessanalyzer;
mod sim_baseline;
mod sim_guardduty;
mod sim_inspector;
mod sim_macie;
mod sim_securityhub;
mod support;
mod trend_sums;
mod trends;
mod trends_pages;
mod upsert;
mod web;
