//! Bookmarks and batch operations on PostgreSQL: row mapping.

use crate::rows::Get;
use pier_core::{BatchKind, BatchOperation, Bookmark};
use pier_store::StoreError;
use tokio_postgres::Row;

pub(crate) const BOOKMARK: &str =
    "id, project_id, connection_id, request_id, label, name, last_used_at, created_at, updated_at";
pub(crate) const BATCH: &str = "id, project_id, query, cursor, estimated_count, processed_batch, completed_count, \
     failed_count, cancelled_at, completed_at, created_at, updated_at, kind";

pub(crate) fn bookmark(r: &Row) -> Result<Bookmark, StoreError> {
    Ok(Bookmark {
        id: r.g(0)?,
        project_id: r.g(1)?,
        connection_id: r.g(2)?,
        request_id: r.g(3)?,
        label: r.g(4)?,
        name: r.g(5)?,
        last_used_at: r.g(6)?,
        created_at: r.g(7)?,
        updated_at: r.g(8)?,
    })
}

pub(crate) fn batch(r: &Row) -> Result<BatchOperation, StoreError> {
    Ok(BatchOperation {
        id: r.g(0)?,
        project_id: r.g(1)?,
        query: r.g(2)?,
        cursor: r.g(3)?,
        estimated_count: r.g(4)?,
        processed_batch: r.g(5)?,
        completed_count: r.g(6)?,
        failed_count: r.g(7)?,
        cancelled_at: r.g(8)?,
        completed_at: r.g(9)?,
        created_at: r.g(10)?,
        updated_at: r.g(11)?,
        kind: BatchKind::parse(r.g::<&str>(12)?).unwrap_or(BatchKind::EventsRetry),
    })
}
