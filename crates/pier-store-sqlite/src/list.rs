//! List and count queries on SQLite: the shared SQL of [`pier_store::sql`], with values bound
//! as SQLite values.

use pier_store::sql::{self, Dialect};
use pier_store::{Cond, ListQuery, Table, Val};
use rusqlite::types::Value;

fn value(v: Val) -> Value {
    match v {
        Val::Int(i) => Value::Integer(i),
        Val::Text(s) => Value::Text(s),
        Val::Bool(b) => Value::Integer(b as i64),
    }
}

pub(crate) fn select(table: Table, columns: &str, project_id: &str, q: &ListQuery) -> (String, Vec<Value>) {
    let (s, args) = sql::select(Dialect::Sqlite, table, columns, project_id, q);
    (s, args.into_iter().map(value).collect())
}

pub(crate) fn count(table: Table, project_id: &str, conds: &[Cond]) -> (String, Vec<Value>) {
    let (s, args) = sql::count(Dialect::Sqlite, table, project_id, conds);
    (s, args.into_iter().map(value).collect())
}
