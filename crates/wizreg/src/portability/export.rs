//! Export: a school's records as NDJSON, streamed from one snapshot with flat memory.
//!
//! Everything is read in one `REPEATABLE READ READ ONLY` tenant transaction, so houses and
//! students come from the same moment even while the school is in use. Rows are streamed from
//! the server ([`tenancy::TenantTx::stream`]) and written out in chunks of about 64 KiB; a slow
//! reader slows the database down instead of filling memory.

use std::future::Future;

use bytes::{Bytes, BytesMut};
use futures_util::{pin_mut, TryStreamExt};
use tenancy::{DbError, Query, Tenancy, TenantId};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_postgres::types::Type;
use tokio_postgres::Row;

use super::{EndLine, HouseLine, Record, StudentLine, TenantLine, FORMAT};

/// Output is handed over in chunks of about this size.
const CHUNK_BYTES: usize = 64 * 1024;

/// The longest a single export statement may run. The deployment's statement timeout is made
/// for requests, not bulk reads; this bound still stops a stalled client from holding a
/// snapshot (and so holding back vacuum) indefinitely.
const EXPORT_STATEMENT_TIMEOUT_MS: &str = "900000";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no such school")]
    UnknownTenant,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the export could not be written: {0}")]
    Write(#[from] std::io::Error),
}

/// Where export chunks go: an HTTP body channel, or a file.
pub trait ChunkSink: Send {
    fn send(&mut self, chunk: Bytes) -> impl Future<Output = std::io::Result<()>> + Send;
}

/// An HTTP response body fed through a channel: a send fails once the client is gone.
impl ChunkSink for tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>> {
    async fn send(&mut self, chunk: Bytes) -> std::io::Result<()> {
        tokio::sync::mpsc::Sender::send(self, Ok(chunk))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

/// A file or standard output.
#[derive(Debug)]
pub struct WriteSink<W>(pub W);

impl<W: AsyncWrite + Unpin + Send> ChunkSink for WriteSink<W> {
    async fn send(&mut self, chunk: Bytes) -> std::io::Result<()> {
        self.0.write_all(&chunk).await
    }
}

/// Writes the export of `tenant` into `sink`; `progress` is called with the number of house
/// and student records written so far. Returns the counts written in the end record.
pub async fn export(
    tenancy: &Tenancy,
    tenant: TenantId,
    sink: &mut impl ChunkSink,
    mut progress: impl FnMut(u64) + Send,
) -> Result<EndLine, ExportError> {
    let mut tx = tenancy.begin_snapshot(tenant).await?;
    tx.run(
        Query::new("select set_config('statement_timeout', $2, true) where $1 is not null")
            .bind(EXPORT_STATEMENT_TIMEOUT_MS, Type::TEXT),
    )
    .await?;
    let tenant_rows = tx
        .run(Query::new(
            "select id, slug, name from wizreg.tenant where id = $1",
        ))
        .await?;
    let row = tenant_rows.first().ok_or(ExportError::UnknownTenant)?;
    let mut out = Output {
        buffer: BytesMut::with_capacity(CHUNK_BYTES * 2),
        sink,
    };
    out.record(&Record::Tenant(TenantLine {
        format: FORMAT,
        id: row.get(0),
        slug: row.get(1),
        name: row.get(2),
    }))
    .await?;
    // Out at once: a caller can tell the export started before any rows are read.
    out.flush().await?;

    let mut end = EndLine::default();
    {
        let houses = tx
            .stream(Query::new(
                "select id, name, created_at, updated_at from wizreg.house where tenant_id = $1 order by id",
            ))
            .await?;
        pin_mut!(houses);
        while let Some(row) = houses.try_next().await? {
            out.record(&Record::House(house(&row))).await?;
            end.houses += 1;
            progress(end.houses);
        }
    }
    {
        let students = tx
            .stream(Query::new(
                "select id, name, email, house_id, created_at, updated_at from wizreg.student where tenant_id = $1 order by id",
            ))
            .await?;
        pin_mut!(students);
        while let Some(row) = students.try_next().await? {
            out.record(&Record::Student(student(&row))).await?;
            end.students += 1;
            progress(end.houses + end.students);
        }
    }
    out.record(&Record::End(end)).await?;
    out.flush().await?;
    tx.commit().await?;
    Ok(end)
}

/// How many house and student records an export of `tenant` will hold (for a progress bar).
pub async fn count(tenancy: &Tenancy, tenant: TenantId) -> Result<u64, DbError> {
    let rows = tenancy
        .run(
            tenant,
            Query::new(
                "select (select count(*) from wizreg.house where tenant_id = $1) + (select count(*) from wizreg.student where tenant_id = $1)",
            ),
        )
        .await?;
    Ok(rows.first().map(|r| r.get::<_, i64>(0)).unwrap_or(0) as u64)
}

fn house(row: &Row) -> HouseLine {
    HouseLine {
        id: row.get(0),
        name: row.get(1),
        created_at: row.get(2),
        updated_at: row.get(3),
    }
}

fn student(row: &Row) -> StudentLine {
    StudentLine {
        id: row.get(0),
        name: row.get(1),
        email: row.get(2),
        house_id: row.get(3),
        created_at: row.get(4),
        updated_at: row.get(5),
    }
}

/// Lines gathered into chunks before they go to the sink.
struct Output<'a, S> {
    buffer: BytesMut,
    sink: &'a mut S,
}

impl<S: ChunkSink> Output<'_, S> {
    async fn record(&mut self, record: &Record) -> std::io::Result<()> {
        self.buffer.extend_from_slice(&record.to_line());
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = self.buffer.split().freeze();
        self.sink.send(chunk).await
    }
}
