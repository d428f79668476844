//! The crate's guarantees, proven on the template schema (`sql/schema.sql`) in a real
//! PostgreSQL that the tests start themselves, connected as the runtime role `app_user`
//! (never a superuser or the owner: they bypass row level security).

mod audit;
mod backstop;
mod example;
mod harness;
mod isolation;
mod pipeline;
mod rollback;
mod stream;
