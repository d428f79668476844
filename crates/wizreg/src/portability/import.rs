//! Import: an export's records written into an empty school, all or nothing.
//!
//! The whole file goes through one tenant transaction, committed only after the `end` record
//! checked out; any bad line drops the transaction, so the school stays empty. Lines are read
//! one at a time and written in batches of [`BATCH_ROWS`] (`insert … select from unnest(…)`),
//! so memory holds one batch plus the set of house ids seen (students may only name houses of
//! the file, which must come before them).
//!
//! Every line is checked before it reaches the database (record type, fields, the same name and
//! email rules as the API, order of sections). Unique keys are checked by the database: a batch
//! is inserted with `on conflict do nothing returning id`, and the first row missing from what
//! came back is the line that repeats an id or an email.

use std::collections::{HashMap, HashSet};

use tenancy::{DbError, Query, Tenancy, TenantId, TenantTx};
use time::OffsetDateTime;
use tokio::io::AsyncBufRead;
use tokio_postgres::types::Type;
use uuid::Uuid;

use super::lines::{Lines, LinesError};
use super::{describe_json_error, EndLine, HouseLine, Record, StudentLine, FORMAT};
use crate::domain::input::{email_rule, name_rule};

/// Rows per insert statement.
pub const BATCH_ROWS: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {reason}")]
    BadLine { line: u64, reason: String },
    #[error("the school already has houses or students; import needs an empty school")]
    NotEmpty,
    #[error(transparent)]
    Input(#[from] LinesError),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn bad(line: u64, reason: impl Into<String>) -> ImportError {
    ImportError::BadLine {
        line,
        reason: reason.into(),
    }
}

/// Where in the file the import is: sections come in the export's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Start,
    Houses,
    Students,
    Ended,
}

/// Imports the NDJSON in `input` into `tenant`, which must hold no houses or students.
/// `progress` is called with the bytes read so far. Returns the counts imported.
pub async fn import<R: AsyncBufRead + Unpin>(
    tenancy: &Tenancy,
    tenant: TenantId,
    input: R,
    max_bytes: u64,
    mut progress: impl FnMut(u64) + Send,
) -> Result<EndLine, ImportError> {
    let mut tx = tenancy.begin(tenant).await?;
    let existing = tx
        .run(Query::new(
            "select exists (select from wizreg.house where tenant_id = $1) or exists (select from wizreg.student where tenant_id = $1)",
        ))
        .await?;
    if existing.first().is_some_and(|row| row.get::<_, bool>(0)) {
        return Err(ImportError::NotEmpty);
    }
    let mut lines = Lines::new(input, max_bytes);
    let mut state = State::default();
    while let Some((number, line)) = lines.next_line().await? {
        let record = parse(number, line)?;
        state.accept(&mut tx, number, record).await?;
        progress(lines.bytes_read());
    }
    if state.section != Section::Ended {
        return Err(bad(
            lines.line_count() + 1,
            "the file ends without its end record: it is truncated",
        ));
    }
    tx.commit().await?;
    Ok(state.counts)
}

fn parse(number: u64, line: &str) -> Result<Record, ImportError> {
    if line.trim().is_empty() {
        return Err(bad(number, "the line is empty"));
    }
    serde_json::from_str(line).map_err(|err| bad(number, describe_json_error(&err)))
}

struct State {
    section: Section,
    counts: EndLine,
    house_ids: HashSet<Uuid>,
    houses: Batch<HouseLine>,
    students: Batch<StudentLine>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            section: Section::Start,
            counts: EndLine::default(),
            house_ids: HashSet::new(),
            houses: Batch::default(),
            students: Batch::default(),
        }
    }
}

impl State {
    async fn accept(
        &mut self,
        tx: &mut TenantTx,
        number: u64,
        record: Record,
    ) -> Result<(), ImportError> {
        let section = match &record {
            Record::Tenant(_) => Section::Start,
            Record::House(_) => Section::Houses,
            Record::Student(_) => Section::Students,
            Record::End(_) => Section::Ended,
        };
        let current = self.section;
        if current == Section::Ended {
            return Err(bad(number, "nothing may follow the end record"));
        }
        if current == Section::Start && number == 1 && section != Section::Start {
            return Err(bad(number, "an export starts with its tenant record"));
        }
        if section == Section::Start && number != 1 {
            return Err(bad(number, "only the first line may be a tenant record"));
        }
        if section < current {
            return Err(bad(
                number,
                "records must come in export order: tenant, houses, students, end",
            ));
        }
        if section > Section::Houses && current <= Section::Houses {
            // Students may name the houses: every house is stored before the first student.
            self.flush_houses(tx).await?;
        }
        self.section = section;
        match record {
            Record::Tenant(tenant) if tenant.format != FORMAT => Err(bad(
                number,
                format!(
                    "format {} is not supported (this version reads format {FORMAT})",
                    tenant.format
                ),
            )),
            Record::Tenant(_) => Ok(()),
            Record::House(house) => self.house(tx, number, house).await,
            Record::Student(student) => self.student(tx, number, student).await,
            Record::End(end) => self.end(tx, number, end).await,
        }
    }

    async fn house(
        &mut self,
        tx: &mut TenantTx,
        number: u64,
        mut house: HouseLine,
    ) -> Result<(), ImportError> {
        house.name = name_rule(&house.name).map_err(|e| bad(number, format!("name {e}")))?;
        self.house_ids.insert(house.id);
        self.houses.push(number, house);
        if self.houses.is_full() {
            self.flush_houses(tx).await?;
        }
        Ok(())
    }

    async fn student(
        &mut self,
        tx: &mut TenantTx,
        number: u64,
        mut student: StudentLine,
    ) -> Result<(), ImportError> {
        student.name = name_rule(&student.name).map_err(|e| bad(number, format!("name {e}")))?;
        if let Some(email) = &student.email {
            student.email = Some(email_rule(email).map_err(|e| bad(number, format!("email {e}")))?);
        }
        if let Some(house) = student.house_id {
            if !self.house_ids.contains(&house) {
                return Err(bad(number, "house_id names no house of this file"));
            }
        }
        self.students.push(number, student);
        if self.students.is_full() {
            self.flush_students(tx).await?;
        }
        Ok(())
    }

    async fn end(
        &mut self,
        tx: &mut TenantTx,
        number: u64,
        end: EndLine,
    ) -> Result<(), ImportError> {
        self.flush_houses(tx).await?;
        self.flush_students(tx).await?;
        if end != self.counts {
            return Err(bad(
                number,
                format!(
                    "the end record counts {} houses and {} students, but the file holds {} and {}",
                    end.houses, end.students, self.counts.houses, self.counts.students
                ),
            ));
        }
        Ok(())
    }

    async fn flush_houses(&mut self, tx: &mut TenantTx) -> Result<(), ImportError> {
        if self.houses.rows.is_empty() {
            return Ok(());
        }
        let (lines, rows) = self.houses.take();
        let ids: Vec<Uuid> = rows.iter().map(|h| h.id).collect();
        let query = Query::new(
            "insert into wizreg.house (tenant_id, id, name, created_at, updated_at)
             select $1, * from unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::timestamptz[])
             on conflict do nothing returning id",
        )
        .bind(ids.clone(), Type::UUID_ARRAY)
        .bind(
            rows.iter().map(|h| h.name.clone()).collect::<Vec<_>>(),
            Type::TEXT_ARRAY,
        )
        .bind(timestamps(&rows, |h| h.created_at), Type::TIMESTAMPTZ_ARRAY)
        .bind(timestamps(&rows, |h| h.updated_at), Type::TIMESTAMPTZ_ARRAY);
        let stored = returned_ids(tx.run(query).await.map_err(|e| in_lines(e, &lines))?);
        check_all_stored(
            &ids,
            &lines,
            stored,
            "repeats the id or the name of an earlier house",
        )?;
        self.counts.houses += ids.len() as u64;
        Ok(())
    }

    async fn flush_students(&mut self, tx: &mut TenantTx) -> Result<(), ImportError> {
        if self.students.rows.is_empty() {
            return Ok(());
        }
        let (lines, rows) = self.students.take();
        let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
        let query = Query::new(
            "insert into wizreg.student (tenant_id, id, name, email, house_id, created_at, updated_at)
             select $1, * from unnest($2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::timestamptz[], $7::timestamptz[])
             on conflict do nothing returning id",
        )
        .bind(ids.clone(), Type::UUID_ARRAY)
        .bind(rows.iter().map(|s| s.name.clone()).collect::<Vec<_>>(), Type::TEXT_ARRAY)
        .bind(rows.iter().map(|s| s.email.clone()).collect::<Vec<_>>(), Type::TEXT_ARRAY)
        .bind(rows.iter().map(|s| s.house_id).collect::<Vec<_>>(), Type::UUID_ARRAY)
        .bind(timestamps(&rows, |s| s.created_at), Type::TIMESTAMPTZ_ARRAY)
        .bind(timestamps(&rows, |s| s.updated_at), Type::TIMESTAMPTZ_ARRAY);
        let stored = returned_ids(tx.run(query).await.map_err(|e| in_lines(e, &lines))?);
        check_all_stored(
            &ids,
            &lines,
            stored,
            "repeats the id or the email of an earlier student",
        )?;
        self.counts.students += ids.len() as u64;
        Ok(())
    }
}

/// Records waiting for their insert, with their line numbers.
struct Batch<T> {
    lines: Vec<u64>,
    rows: Vec<T>,
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Self {
            lines: Vec::with_capacity(BATCH_ROWS),
            rows: Vec::with_capacity(BATCH_ROWS),
        }
    }
}

impl<T> Batch<T> {
    fn push(&mut self, line: u64, row: T) {
        self.lines.push(line);
        self.rows.push(row);
    }
    fn is_full(&self) -> bool {
        self.rows.len() >= BATCH_ROWS
    }
    fn take(&mut self) -> (Vec<u64>, Vec<T>) {
        (
            std::mem::take(&mut self.lines),
            std::mem::take(&mut self.rows),
        )
    }
}

fn timestamps<T>(rows: &[T], field: impl Fn(&T) -> OffsetDateTime) -> Vec<OffsetDateTime> {
    rows.iter().map(field).collect()
}

fn returned_ids(rows: Vec<tokio_postgres::Row>) -> HashMap<Uuid, usize> {
    let mut stored = HashMap::with_capacity(rows.len());
    for row in rows {
        *stored.entry(row.get::<_, Uuid>(0)).or_default() += 1;
    }
    stored
}

/// Finds the first row of a batch that the database skipped as a duplicate. Ids stored once
/// are used up in file order, so of two lines with one id, the later one is reported.
fn check_all_stored(
    ids: &[Uuid],
    lines: &[u64],
    mut stored: HashMap<Uuid, usize>,
    reason: &str,
) -> Result<(), ImportError> {
    for (id, line) in ids.iter().zip(lines) {
        match stored.get_mut(id) {
            Some(left) if *left > 0 => *left -= 1,
            _ => return Err(bad(*line, reason)),
        }
    }
    Ok(())
}

/// A value the checks above let through but the database refused: name the batch's lines.
fn in_lines(err: DbError, lines: &[u64]) -> ImportError {
    match err.kind() {
        tenancy::DbErrorKind::InvalidData | tenancy::DbErrorKind::ForeignKeyViolation => {
            let (first, last) = (
                lines.first().copied().unwrap_or(0),
                lines.last().copied().unwrap_or(0),
            );
            bad(
                first,
                format!("a value on lines {first} to {last} is out of range"),
            )
        }
        _ => ImportError::Db(err),
    }
}
