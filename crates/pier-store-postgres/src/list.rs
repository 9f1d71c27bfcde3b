//! SQL for list and count queries on PostgreSQL (columns from a closed enum, values bound).

use pier_core::cursor::SortValue;
use pier_store::{Col, Cond, ListQuery, Table, Val};
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

fn param(v: &Val) -> Param {
    match v {
        Val::Int(i) => Param::Int(*i),
        Val::Text(s) => Param::Text(s.clone()),
        Val::Bool(b) => Param::Bool(*b),
    }
}

fn sort_expr(col: Col) -> String {
    match col {
        Col::CreatedAt | Col::UpdatedAt | Col::IngestedAt => col.as_str().to_string(),
        other => format!("COALESCE({}, -1)", other.as_str()),
    }
}

/// Search in a request's body, headers and path (`$n` is the pattern).
fn search_sql(table: Table, n: usize) -> String {
    let on_request = format!(
        "(encode(body, 'escape') ILIKE ${n} ESCAPE '\\' OR headers ILIKE ${n} ESCAPE '\\' OR path ILIKE ${n} ESCAPE '\\')"
    );
    match table {
        Table::Events => format!("request_id IN (SELECT id FROM requests WHERE project_id = $1 AND {on_request})"),
        _ => on_request,
    }
}

fn push_conds(sql: &mut String, args: &mut Vec<Param>, conds: &[Cond], table: Table) {
    for cond in conds {
        let col = cond.col().as_str();
        match cond {
            Cond::Eq(_, v) => {
                args.push(param(v));
                sql.push_str(&format!(" AND {col} = ${}", args.len()));
            }
            Cond::In(_, vs) if vs.is_empty() => sql.push_str(" AND FALSE"),
            Cond::In(_, vs) => {
                let mut marks = Vec::with_capacity(vs.len());
                for v in vs {
                    args.push(param(v));
                    marks.push(format!("${}", args.len()));
                }
                sql.push_str(&format!(" AND {col} IN ({})", marks.join(", ")));
            }
            Cond::Cmp(_, op, v) => {
                args.push(param(v));
                sql.push_str(&format!(" AND {col} {} ${}", op.sql(), args.len()));
            }
            Cond::IsNull(_, true) => sql.push_str(&format!(" AND {col} IS NULL")),
            Cond::IsNull(_, false) => sql.push_str(&format!(" AND {col} IS NOT NULL")),
            Cond::Contains(c, s) => {
                let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                args.push(Param::Text(format!("%{escaped}%")));
                if *c == Col::Search {
                    sql.push_str(&format!(" AND {}", search_sql(table, args.len())));
                } else {
                    sql.push_str(&format!(" AND {col} ILIKE ${} ESCAPE '\\'", args.len()));
                }
            }
        }
    }
}

pub(crate) fn select(table: Table, columns: &str, project_id: &str, q: &ListQuery) -> (String, Vec<Param>) {
    let mut args = vec![Param::Text(project_id.to_string())];
    let mut sql = format!("SELECT {columns} FROM {} WHERE project_id = $1", table.as_str());
    push_conds(&mut sql, &mut args, &q.conds, table);
    let expr = sort_expr(q.order_by);
    let desc = q.desc != q.reversed();
    if let Some(c) = &q.cursor {
        args.push(match &c.value {
            SortValue::Int(i) => Param::Int(*i),
            SortValue::Text(s) => Param::Text(s.clone()),
            SortValue::Null => Param::Int(-1),
        });
        args.push(Param::Text(c.id.clone()));
        let op = if desc { "<" } else { ">" };
        sql.push_str(&format!(" AND ({expr}, id) {op} (${}, ${})", args.len() - 1, args.len()));
    }
    let dir = if desc { "DESC" } else { "ASC" };
    sql.push_str(&format!(" ORDER BY {expr} {dir}, id {dir} LIMIT {}", q.limit as u64 + 1));
    (sql, args)
}

pub(crate) fn count(table: Table, project_id: &str, conds: &[Cond]) -> (String, Vec<Param>) {
    let mut args = vec![Param::Text(project_id.to_string())];
    let mut sql = format!("SELECT COUNT(*) FROM {} WHERE project_id = $1", table.as_str());
    push_conds(&mut sql, &mut args, conds, table);
    (sql, args)
}
