//! SQL for list and count queries, built from [`ListQuery`] (columns come from a closed enum,
//! values are always bound parameters).

use pier_core::cursor::{Direction, SortValue};
use pier_store::{Col, Cond, ListQuery, Table, Val};
use rusqlite::types::Value;

fn value(v: &Val) -> Value {
    match v {
        Val::Int(i) => Value::Integer(*i),
        Val::Text(s) => Value::Text(s.clone()),
        Val::Bool(b) => Value::Integer(*b as i64),
    }
}

/// The expression a list sorts on: nullable columns read NULL as -1.
fn sort_expr(col: Col) -> String {
    match col {
        Col::CreatedAt | Col::UpdatedAt | Col::IngestedAt => col.as_str().to_string(),
        other => format!("COALESCE({}, -1)", other.as_str()),
    }
}

/// Search in a request's body, headers and path (`?n` is the pattern).
fn search_sql(table: Table, n: usize) -> String {
    let on_request = format!(
        "(CAST(body AS TEXT) LIKE ?{n} ESCAPE '\\' OR headers LIKE ?{n} ESCAPE '\\' OR path LIKE ?{n} ESCAPE '\\')"
    );
    match table {
        Table::Events => format!("request_id IN (SELECT id FROM requests WHERE project_id = ?1 AND {on_request})"),
        _ => on_request,
    }
}

fn push_conds(sql: &mut String, args: &mut Vec<Value>, conds: &[Cond], table: Table) {
    for cond in conds {
        let col = cond.col().as_str();
        match cond {
            Cond::Eq(_, v) => {
                args.push(value(v));
                sql.push_str(&format!(" AND {col} = ?{}", args.len()));
            }
            Cond::In(_, vs) if vs.is_empty() => sql.push_str(" AND 0"),
            Cond::In(_, vs) => {
                let mut marks = Vec::with_capacity(vs.len());
                for v in vs {
                    args.push(value(v));
                    marks.push(format!("?{}", args.len()));
                }
                sql.push_str(&format!(" AND {col} IN ({})", marks.join(", ")));
            }
            Cond::Cmp(_, op, v) => {
                args.push(value(v));
                sql.push_str(&format!(" AND {col} {} ?{}", op.sql(), args.len()));
            }
            Cond::IsNull(_, true) => sql.push_str(&format!(" AND {col} IS NULL")),
            Cond::IsNull(_, false) => sql.push_str(&format!(" AND {col} IS NOT NULL")),
            Cond::Contains(c, s) => {
                let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                args.push(Value::Text(format!("%{escaped}%")));
                if *c == Col::Search {
                    sql.push_str(&format!(" AND {}", search_sql(table, args.len())));
                } else {
                    sql.push_str(&format!(" AND {col} LIKE ?{} ESCAPE '\\'", args.len()));
                }
            }
        }
    }
}

/// `SELECT columns FROM table WHERE project … ORDER BY … LIMIT limit+1`.
pub(crate) fn select(table: Table, columns: &str, project_id: &str, q: &ListQuery) -> (String, Vec<Value>) {
    let mut args = vec![Value::Text(project_id.to_string())];
    let mut sql = format!("SELECT {columns} FROM {} WHERE project_id = ?1", table.as_str());
    push_conds(&mut sql, &mut args, &q.conds, table);
    let expr = sort_expr(q.order_by);
    // Reading backwards (prev) flips the order; the page is reversed back afterwards.
    let desc = q.desc != q.reversed();
    if let Some(c) = &q.cursor {
        let v = match &c.value {
            SortValue::Int(i) => Value::Integer(*i),
            SortValue::Text(s) => Value::Text(s.clone()),
            SortValue::Null => Value::Integer(-1),
        };
        args.push(v);
        args.push(Value::Text(c.id.clone()));
        let op = if desc { "<" } else { ">" };
        let _ = matches!(c.direction, Direction::Next);
        sql.push_str(&format!(" AND ({expr}, id) {op} (?{}, ?{})", args.len() - 1, args.len()));
    }
    let dir = if desc { "DESC" } else { "ASC" };
    sql.push_str(&format!(" ORDER BY {expr} {dir}, id {dir} LIMIT {}", q.limit as u64 + 1));
    (sql, args)
}

/// `SELECT COUNT(*) FROM table WHERE project … conds`.
pub(crate) fn count(table: Table, project_id: &str, conds: &[Cond]) -> (String, Vec<Value>) {
    let mut args = vec![Value::Text(project_id.to_string())];
    let mut sql = format!("SELECT COUNT(*) FROM {} WHERE project_id = ?1", table.as_str());
    push_conds(&mut sql, &mut args, conds, table);
    (sql, args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pier_core::cursor::Cursor;
    use pier_store::Cmp;

    #[test]
    fn select_binds_every_value() {
        let q = ListQuery {
            conds: vec![
                Cond::Eq(Col::Status, Val::Text("QUEUED".into())),
                Cond::In(Col::SourceId, vec![Val::Text("a".into()), Val::Text("b".into())]),
                Cond::Cmp(Col::CreatedAt, Cmp::Gte, Val::Int(5)),
                Cond::Contains(Col::Name, "50%_x".into()),
            ],
            cursor: Some(Cursor { direction: Direction::Prev, value: SortValue::Int(9), id: "evt_1".into() }),
            ..ListQuery::default()
        };
        let (sql, args) = select(Table::Events, "id", "tm_1", &q);
        assert_eq!(args.len(), 8);
        assert!(sql.contains("status = ?2"), "{sql}");
        assert!(sql.contains("source_id IN (?3, ?4)"), "{sql}");
        assert!(sql.contains("created_at >= ?5"), "{sql}");
        assert!(sql.contains("(created_at, id) > (?7, ?8)"), "{sql}");
        assert!(sql.ends_with("ORDER BY created_at ASC, id ASC LIMIT 101"), "{sql}");
        assert_eq!(args[5], Value::Text("%50\\%\\_x%".into()));
    }
}
