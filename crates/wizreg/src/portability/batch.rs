//! Import's writes: records gathered into batches and stored with one
//! `insert … select from unnest(…) on conflict do nothing returning id` each. Rows missing from
//! what came back were skipped as duplicates; the first of them names the bad line.

use std::collections::HashMap;

use tenancy::{DbError, Query, TenantTx};
use time::OffsetDateTime;
use tokio_postgres::types::Type;
use uuid::Uuid;

use super::import::{bad, ImportError};
use super::{HouseLine, StudentLine};

/// Rows per insert statement.
pub const BATCH_ROWS: usize = 1000;

/// Inserts the houses waiting in `batch`; returns how many were stored.
pub(super) async fn insert_houses(
    tx: &mut TenantTx,
    batch: &mut Batch<HouseLine>,
) -> Result<u64, ImportError> {
    if batch.rows.is_empty() {
        return Ok(0);
    }
    let (lines, rows) = batch.take();
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
    Ok(ids.len() as u64)
}

/// Inserts the students waiting in `batch`; returns how many were stored.
pub(super) async fn insert_students(
    tx: &mut TenantTx,
    batch: &mut Batch<StudentLine>,
) -> Result<u64, ImportError> {
    if batch.rows.is_empty() {
        return Ok(0);
    }
    let (lines, rows) = batch.take();
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
    Ok(ids.len() as u64)
}

/// Records waiting for their insert, with their line numbers.
pub(super) struct Batch<T> {
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
    pub(super) fn push(&mut self, line: u64, row: T) {
        self.lines.push(line);
        self.rows.push(row);
    }
    pub(super) fn is_full(&self) -> bool {
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
