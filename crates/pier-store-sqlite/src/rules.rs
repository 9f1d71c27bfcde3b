//! Transformations, their executions, deduplication keys and transformed event data on SQLite.

use crate::map_err;
use pier_core::{ConsoleLine, Transformation, TransformationExecution};
use pier_store::StoreError;
use rusqlite::{params, types::Type, OptionalExtension, Row, Transaction};

pub(crate) const TRANSFORMATION: &str = "id, project_id, name, code, env, created_at, updated_at";
pub(crate) const EXECUTION: &str =
    "id, project_id, transformation_id, connection_id, request_id, log_level, logs, error, created_at, updated_at";

fn conv(idx: usize, e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e))
}

pub(crate) fn transformation(r: &Row<'_>) -> rusqlite::Result<Transformation> {
    let env: String = r.get(4)?;
    Ok(Transformation {
        id: r.get(0)?,
        project_id: r.get(1)?,
        name: r.get(2)?,
        code: r.get(3)?,
        env: serde_json::from_str(&env).map_err(|e| conv(4, e))?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

pub(crate) fn execution(r: &Row<'_>) -> rusqlite::Result<TransformationExecution> {
    let logs: String = r.get(6)?;
    Ok(TransformationExecution {
        id: r.get(0)?,
        project_id: r.get(1)?,
        transformation_id: r.get(2)?,
        connection_id: r.get(3)?,
        request_id: r.get(4)?,
        log_level: r.get(5)?,
        logs: serde_json::from_str::<Vec<ConsoleLine>>(&logs).map_err(|e| conv(6, e))?,
        error: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

pub(crate) fn put_transformation(tx: &Transaction<'_>, t: &Transformation) -> Result<(), StoreError> {
    let env = serde_json::to_string(&t.env).map_err(|e| StoreError::Internal(e.to_string()))?;
    let n = tx
        .execute(
            "INSERT INTO transformations (id, project_id, name, code, env, created_at, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7) \
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, code = excluded.code, env = excluded.env, \
             updated_at = excluded.updated_at WHERE transformations.project_id = excluded.project_id",
            params![t.id, t.project_id, t.name, t.code, env, t.created_at, t.updated_at],
        )
        .map_err(|e| match map_err(e) {
            StoreError::Conflict(_) => StoreError::Conflict("a transformation with this name already exists".into()),
            other => other,
        })?;
    if n == 0 {
        return Err(StoreError::InvalidReference("the transformation belongs to another project".into()));
    }
    Ok(())
}

pub(crate) fn insert_execution(tx: &Transaction<'_>, e: &TransformationExecution) -> Result<(), StoreError> {
    let logs = serde_json::to_string(&e.logs).map_err(|e| StoreError::Internal(e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO transformation_executions (id, project_id, transformation_id, connection_id, request_id, log_level, \
         logs, error, created_at, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
    )
    .map_err(map_err)?
    .execute(params![
        e.id,
        e.project_id,
        e.transformation_id,
        e.connection_id,
        e.request_id,
        e.log_level,
        logs,
        e.error,
        e.created_at,
        e.updated_at
    ])
    .map_err(map_err)?;
    Ok(())
}

pub(crate) fn dedup_seen(
    tx: &Transaction<'_>,
    connection_id: &str,
    key: &str,
    request_id: &str,
    now: i64,
    window: i64,
) -> Result<bool, StoreError> {
    let existing: Option<(String, i64)> = tx
        .query_row(
            "SELECT request_id, expires_at FROM dedup_keys WHERE connection_id = ?1 AND key = ?2",
            params![connection_id, key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(map_err)?;
    match existing {
        Some((rid, expires)) if expires > now && rid != request_id => Ok(true),
        Some((rid, _)) if rid == request_id => Ok(false),
        _ => {
            tx.execute(
                "INSERT INTO dedup_keys (connection_id, key, request_id, expires_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(connection_id, key) DO UPDATE SET request_id = excluded.request_id, expires_at = excluded.expires_at",
                params![connection_id, key, request_id, now + window],
            )
            .map_err(map_err)?;
            // Forget keys that expired long ago, a few at a time.
            tx.execute(
                "DELETE FROM dedup_keys WHERE rowid IN (SELECT rowid FROM dedup_keys WHERE expires_at < ?1 LIMIT 16)",
                params![now - 60_000],
            )
            .map_err(map_err)?;
            Ok(false)
        }
    }
}
