//! School data and the platform's inputs: the types, the input rules, and the queries. Queries are inert
//! [`tenancy::Query`] values; only a tenant transaction can run them.

pub mod houses;
pub mod input;
pub mod students;
pub mod tenants;
pub mod violation;
