//! Sightline's integration tests: one binary, a module per area. Database tests use
//! `#[sqlx::test]` (a fresh migrated database each, on the server at DATABASE_URL, which
//! `scripts/test` provides).

#![allow(clippy::unwrap_used)]

mod cli;
mod sim;
mod support;
mod upsert;
mod web;
