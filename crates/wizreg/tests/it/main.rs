//! Wizreg's integration tests: the real router against a real PostgreSQL that the harness
//! starts itself. One binary, so the cluster is started once per run.

mod harness;

mod admin_tenants;
mod attacks;
mod attacks_credentials;
mod attacks_input;
mod attacks_session;
mod audit;
mod audit_findings;
mod auth_api_keys;
mod auth_binding;
mod auth_cli;
mod auth_jwt;
mod auth_jwt_keys;
mod auth_key_routes;
mod auth_revocation;
mod bad_input;
mod citus_embedded;
mod concurrency;
mod contract_http;
mod db_outage;
mod db_url;
mod export_import;
mod export_import_props;
mod houses;
mod idempotency;
mod input_props;
mod isolation;
mod launcher;
mod lifecycle;
mod limits;
mod model;
mod noisy_neighbours;
mod observability;
mod pgbouncer;
mod request_logs;
mod round_trips;
mod shard_ops;
mod students;
mod tenant_cli;
mod tenant_lifecycle;
mod tenant_resolution;
mod tenant_suspension;
mod walkthrough;
