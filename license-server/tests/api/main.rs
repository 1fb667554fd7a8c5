//! The server's API tests: one binary, each test with its own in-process server on
//! 127.0.0.1:0 — on fresh in-memory adapters, a local key and a manual clock, or (in
//! `real_services`) on PostgreSQL and Redis started by `license-testkit`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod auth;
mod config;
mod console;
mod credential_cache;
mod docs;
mod event_log;
mod event_record;
mod failures;
mod hardening;
mod helpers;
mod holder;
mod input;
mod isolation;
mod kms;
mod leases;
mod oidc;
mod oidc_admin;
mod oidc_hardening;
mod quotas;
mod rate_limits;
mod real_services;
mod reports;
mod seat_gauges;
mod seat_policies;
mod seat_queue;
mod seat_rules;
mod shutdown;
mod slow_clients;
mod tenant_keys;
mod webhooks;
