//! Wizreg's integration tests: the real router against a real PostgreSQL that the harness
//! starts itself. One binary, so the cluster is started once per run.

mod harness;

mod admin_tenants;
mod audit;
mod audit_findings;
mod houses;
mod isolation;
mod launcher;
mod students;
mod tenant_resolution;
mod walkthrough;
