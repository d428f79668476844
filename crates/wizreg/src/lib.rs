//! Wizreg: a school registry where each school is a tenant, isolated by PostgreSQL Row Level
//! Security. The binary's commands live in [`cli`]; the API in [`http`]; school data in
//! [`domain`]; tenant lifecycle (the only platform-privileged code) in [`tenants`].

pub mod audit;
pub mod auth;
pub mod cache_epochs;
pub mod citus;
pub mod citus_stats;
pub mod cli;
pub mod config;
pub mod console;
pub mod database;
pub mod domain;
pub mod edge;
pub mod error;
pub mod http;
pub mod idempotency;
pub mod json;
pub mod log_writer;
pub mod logging;
pub mod metrics;
pub mod migrate;
pub mod notifications;
pub mod offboard;
pub mod platform;
pub mod portability;
pub mod registry;
pub mod serve;
pub mod shards;
pub mod tenant_events;
pub mod tenants;
