//! The benchmark's schools and students, with ids computed from numbers so that pgbench
//! scripts (which only draw integers) and the load generator address the same rows. School `t`
//! and its student `n` (both from 1) have the UUIDs below; the SQL and the Rust forms must agree.

/// How many schools, and students in each.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Size {
    pub schools: u32,
    pub students_per_school: u32,
}

impl Size {
    pub const DEFAULT: Size = Size {
        schools: 100,
        students_per_school: 1_000,
    };
    pub const LARGE: Size = Size {
        schools: 10_000,
        students_per_school: 100,
    };
}

pub fn school_id(t: u32) -> String {
    format!("00000000-0000-7000-8000-{t:012x}")
}

pub fn school_slug(t: u32) -> String {
    format!("school-{t}")
}

pub fn student_id(t: u32, n: u32) -> String {
    format!("{t:08x}-0000-7000-8000-{n:012x}")
}

/// SQL for [`school_id`] of the integer expression `t`.
pub fn school_id_sql(t: &str) -> String {
    format!("('00000000-0000-7000-8000-' || lpad(to_hex({t}), 12, '0'))::uuid")
}

/// SQL for [`student_id`] of the integer expressions `t` and `n`.
pub fn student_id_sql(t: &str, n: &str) -> String {
    format!("(lpad(to_hex({t}), 8, '0') || '-0000-7000-8000-' || lpad(to_hex({n}), 12, '0'))::uuid")
}

/// Adds schools `from..=to` (no students), as the superuser: seeding is not what is measured.
pub fn insert_schools_sql(from: u32, to: u32) -> String {
    format!(
        "insert into wizreg.tenant (id, slug, name) select {}, 'school-' || t, 'School ' || t \
         from generate_series({from}, {to}) t",
        school_id_sql("t")
    )
}

/// Fills schools `1..=size.schools` with students.
pub fn insert_students_sql(size: Size) -> String {
    format!(
        "insert into wizreg.student (tenant_id, id, name, email) \
         select {}, {}, 'Student ' || n, 'student' || n || '@school.example' \
         from generate_series(1, {}) t, generate_series(1, {}) n",
        school_id_sql("t"),
        student_id_sql("t", "n"),
        size.schools,
        size.students_per_school
    )
}

/// Baseline (a)'s table, in a database of its own (`wizreg serve` audits its database and
/// rightly refuses a tenant-shaped table without RLS): the student table's columns and
/// indexes, no policy.
pub const PLAIN_TABLE_SQL: &str = "create table student_plain ( \
     tenant_id uuid not null, id uuid not null, name text not null, email text, house_id uuid, \
     created_at timestamptz not null default now(), updated_at timestamptz not null default now(), \
     primary key (tenant_id, id), unique (tenant_id, email)); \
     create index on student_plain (tenant_id, house_id)";

/// Fills [`PLAIN_TABLE_SQL`]'s table with the same rows as [`insert_students_sql`].
pub fn insert_plain_sql(size: Size) -> String {
    insert_students_sql(size).replace("wizreg.student", "student_plain")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_uuids_that_keep_school_and_student_apart() {
        assert_eq!(school_id(42), "00000000-0000-7000-8000-00000000002a");
        assert_eq!(student_id(42, 7), "0000002a-0000-7000-8000-000000000007");
        assert_ne!(student_id(1, 2), student_id(2, 1));
    }
}
