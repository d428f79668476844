//! `wizreg tenant export` and `import`: a school as an NDJSON file (or standard output), with
//! a progress bar on standard error. The records go through the school's tenant transaction.

use std::path::Path;

use tenancy::{Tenancy, TenantId, TenantRef};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio_postgres::Client;

use super::{db, failed, parse_slug, progress_bar, refuse_offboarding};
use crate::error::StartupError;
use crate::offboard;
use crate::portability::export::{self, WriteSink};
use crate::portability::import::{self, ImportError};
use crate::portability::parse_tenant_line;
use crate::registry::TenantRecord;
use crate::tenants;

pub(super) async fn export_to(
    tenancy: &Tenancy,
    tenant: &TenantRecord,
    output: Option<&Path>,
) -> Result<(), StartupError> {
    let total = export::count(tenancy, tenant.id)
        .await
        .map_err(db("count the school's records"))?;
    let bar = progress_bar(total, "exporting");
    let result = match output {
        Some(path) => {
            let file = tokio::fs::File::create(path)
                .await
                .map_err(|e| failed(format!("cannot write {}: {e}", path.display())))?;
            let mut sink = WriteSink(BufWriter::new(file));
            let result =
                export::export(tenancy, tenant.id, &mut sink, |n| bar.set_position(n)).await;
            let flushed = sink.0.shutdown().await;
            let result = result.and_then(|end| flushed.map(|()| end).map_err(Into::into));
            if result.is_err() {
                // A cut-off file would be refused by import anyway; leave none behind.
                let _ = tokio::fs::remove_file(path).await;
            }
            result
        }
        None => {
            let mut sink = WriteSink(BufWriter::new(tokio::io::stdout()));
            let result =
                export::export(tenancy, tenant.id, &mut sink, |n| bar.set_position(n)).await;
            let flushed = sink.0.flush().await;
            result.and_then(|end| flushed.map(|()| end).map_err(Into::into))
        }
    };
    bar.finish_and_clear();
    let end = result.map_err(|e| failed(format!("the export failed ({e})")))?;
    eprintln!(
        "exported school '{}': {} houses, {} students",
        tenant.slug, end.houses, end.students
    );
    Ok(())
}

pub(super) async fn import_from(
    platform: &Client,
    tenancy: &Tenancy,
    file: &Path,
    slug: Option<&str>,
) -> Result<(), StartupError> {
    let unreadable = |e: std::io::Error| failed(format!("cannot read {}: {e}", file.display()));
    let mut first = String::new();
    BufReader::new(tokio::fs::File::open(file).await.map_err(unreadable)?)
        .read_line(&mut first)
        .await
        .map_err(unreadable)?;
    let source = parse_tenant_line(first.trim_end().as_bytes())
        .map_err(|reason| failed(format!("{} line 1: {reason}", file.display())))?;
    let slug = parse_slug(slug.unwrap_or(&source.slug))?;
    let (tenant, created) = match tenants::find(platform, &TenantRef::Slug(slug.clone()))
        .await
        .map_err(db("look up the school"))?
    {
        Some(existing) => {
            refuse_offboarding(platform, &existing).await?;
            (existing, false)
        }
        None => {
            // Keep the school's identity when this deployment does not use it yet.
            let id_taken = tenants::find(platform, &TenantRef::Id(TenantId::from_uuid(source.id)))
                .await
                .map_err(db("look up the school"))?
                .is_some();
            let id = if id_taken {
                TenantId::new_v7()
            } else {
                TenantId::from_uuid(source.id)
            };
            let tenant = tenants::create_with_id(platform, id, &slug, &source.name)
                .await
                .map_err(db("create the school"))?;
            (tenant, true)
        }
    };
    let size = tokio::fs::metadata(file).await.map_err(unreadable)?.len();
    let bar = progress_bar(size, "importing (bytes)");
    let input = BufReader::new(tokio::fs::File::open(file).await.map_err(unreadable)?);
    let result = import::import(tenancy, tenant.id, input, u64::MAX, |n| bar.set_position(n)).await;
    bar.finish_and_clear();
    let counts = match result {
        Ok(counts) => counts,
        Err(err) => {
            if created {
                // Leave the deployment as it was: the school was made for this import only.
                let _ = offboard::delete_tenant(platform, tenancy, tenant.id, |_| {}).await;
            }
            return Err(match err {
                ImportError::BadLine { line, reason } => failed(format!(
                    "{} line {line}: {reason}; nothing was imported",
                    file.display()
                )),
                other => failed(format!("the import failed ({other}); nothing was imported")),
            });
        }
    };
    eprintln!(
        "imported {} houses and {} students into school '{}' ({})",
        counts.houses, counts.students, tenant.slug, tenant.id
    );
    Ok(())
}
