//! What a violated database constraint means to a client, said by the module that owns the
//! constraint (each keeps a `CONSTRAINTS` table next to its queries), so that the layer
//! mapping errors to HTTP knows meanings, never constraint names.

/// The meaning of one violated constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// The record would duplicate another: a conflict, with the sentence for the client.
    Conflict(&'static str),
    /// A field refers to something that does not exist for this school (missing and another
    /// school's are the same answer).
    Field {
        field: &'static str,
        message: &'static str,
    },
}

/// A module's constraints by name, with their meaning.
pub type Constraints = &'static [(&'static str, Violation)];

/// The meaning of `constraint` in the first of `owners` that names it.
pub fn meaning(owners: &[Constraints], constraint: &str) -> Option<Violation> {
    owners
        .iter()
        .flat_map(|owned| owned.iter())
        .find(|(name, _)| *name == constraint)
        .map(|(_, violation)| *violation)
}
