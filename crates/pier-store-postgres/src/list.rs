//! List and count queries on PostgreSQL: the shared SQL of [`pier_store::sql`], with values
//! bound as PostgreSQL parameters.

use pier_store::sql::{self, Dialect};
use pier_store::{Cond, ListQuery, Table, Val};
use tokio_postgres::types::ToSql;

/// A bound parameter.
pub(crate) enum Param {
    Int(i64),
    Text(String),
    Bool(bool),
}

impl Param {
    pub(crate) fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Int(i) => i,
            Param::Text(s) => s,
            Param::Bool(b) => b,
        }
    }
}

fn param(v: Val) -> Param {
    match v {
        Val::Int(i) => Param::Int(i),
        Val::Text(s) => Param::Text(s),
        Val::Bool(b) => Param::Bool(b),
    }
}

pub(crate) fn select(table: Table, columns: &str, project_id: &str, q: &ListQuery) -> (String, Vec<Param>) {
    let (s, args) = sql::select(Dialect::Postgres, table, columns, project_id, q);
    (s, args.into_iter().map(param).collect())
}

pub(crate) fn count(table: Table, project_id: &str, conds: &[Cond]) -> (String, Vec<Param>) {
    let (s, args) = sql::count(Dialect::Postgres, table, project_id, conds);
    (s, args.into_iter().map(param).collect())
}
