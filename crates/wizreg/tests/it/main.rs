//! Wizreg's integration tests: the real router against a real PostgreSQL that the harness
//! starts itself. One binary, so the cluster is started once per run.

mod harness;

mod admin_tenants;
mod audit;
mod bad_input;
mod audit_findings;
mod auth_api_keys;
mod auth_binding;
mod auth_cli;
mod auth_jwt;
mod auth_revocation;
mod concurrency;
mod db_outage;
mod houses;
mod idempotency;
mod isolation;
mod launcher;
mod limits;
mod observability;
mod round_trips;
mod students;
mod tenant_resolution;
mod walkthrough;
