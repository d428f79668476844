//! Import: an export's records written into an empty school, all or nothing.
//!
//! The whole file goes through one tenant transaction, committed only after the `end` record
//! checked out; any bad line drops the transaction, so the school stays empty. Lines are read
//! one at a time and written in batches of [`super::batch::BATCH_ROWS`] rows,
//! so memory holds one batch plus the set of house ids seen (students may only name houses of
//! the file, which must come before them).
//!
//! Every line is checked before it reaches the database (record type, fields, the same name and
//! email rules as the API, order of sections). Unique keys are checked by the database: a batch
//! is inserted with `on conflict do nothing returning id`, and the first row missing from what
//! came back is the line that repeats an id or an email.

use std::collections::HashSet;

use tenancy::{DbError, Query, Tenancy, TenantId, TenantTx};
use tokio::io::AsyncBufRead;
use uuid::Uuid;

use super::batch::{insert_houses, insert_students, Batch};
use super::lines::{Lines, LinesError};
use super::{describe_json_error, EndLine, HouseLine, Record, StudentLine, FORMAT};
use crate::domain::input::{email_rule, name_rule};

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

pub(super) fn bad(line: u64, reason: impl Into<String>) -> ImportError {
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
        self.counts.houses += insert_houses(tx, &mut self.houses).await?;
        Ok(())
    }

    async fn flush_students(&mut self, tx: &mut TenantTx) -> Result<(), ImportError> {
        self.counts.students += insert_students(tx, &mut self.students).await?;
        Ok(())
    }
}
