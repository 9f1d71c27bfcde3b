//! The SQL of list and count queries, shared by the SQL backends: columns come from the closed
//! [`Col`] enum and every value is a bound parameter, so no input reaches the SQL text. Only
//! the spelling differs per [`Dialect`] (placeholders, case-insensitive LIKE, body as text).

use crate::{Col, Cond, ListQuery, Table, Val};
use pier_core::cursor::SortValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn param(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }
    /// Case-insensitive LIKE (SQLite's LIKE already is, for ASCII).
    fn like(self) -> &'static str {
        match self {
            Dialect::Sqlite => "LIKE",
            Dialect::Postgres => "ILIKE",
        }
    }
    /// A request body (bytes) as searchable text.
    fn body_text(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST(body AS TEXT)",
            Dialect::Postgres => "encode(body, 'escape')",
        }
    }
}

/// The expression a list sorts on: nullable columns read NULL as -1.
fn sort_expr(col: Col) -> String {
    match col {
        Col::CreatedAt | Col::UpdatedAt | Col::IngestedAt => col.as_str().to_string(),
        other => format!("COALESCE({}, -1)", other.as_str()),
    }
}

/// Search in a request's body, headers and path (`p` is the pattern's placeholder).
fn search_sql(d: Dialect, table: Table, p: &str) -> String {
    let like = d.like();
    let on_request = format!(
        "({} {like} {p} ESCAPE '\\' OR headers {like} {p} ESCAPE '\\' OR path {like} {p} ESCAPE '\\')",
        d.body_text()
    );
    match table {
        Table::Events => {
            format!("request_id IN (SELECT id FROM requests WHERE project_id = {} AND {on_request})", d.param(1))
        }
        _ => on_request,
    }
}

fn push_conds(d: Dialect, table: Table, sql: &mut String, args: &mut Vec<Val>, conds: &[Cond]) {
    for cond in conds {
        let col = cond.col().as_str();
        match cond {
            Cond::Eq(_, v) => {
                args.push(v.clone());
                sql.push_str(&format!(" AND {col} = {}", d.param(args.len())));
            }
            Cond::In(_, vs) if vs.is_empty() => sql.push_str(" AND 1 = 0"),
            Cond::In(_, vs) => {
                let mut marks = Vec::with_capacity(vs.len());
                for v in vs {
                    args.push(v.clone());
                    marks.push(d.param(args.len()));
                }
                sql.push_str(&format!(" AND {col} IN ({})", marks.join(", ")));
            }
            Cond::Cmp(_, op, v) => {
                args.push(v.clone());
                sql.push_str(&format!(" AND {col} {} {}", op.sql(), d.param(args.len())));
            }
            Cond::IsNull(_, true) => sql.push_str(&format!(" AND {col} IS NULL")),
            Cond::IsNull(_, false) => sql.push_str(&format!(" AND {col} IS NOT NULL")),
            Cond::Contains(c, s) => {
                let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                args.push(Val::Text(format!("%{escaped}%")));
                let p = d.param(args.len());
                if *c == Col::Search {
                    sql.push_str(&format!(" AND {}", search_sql(d, table, &p)));
                } else {
                    sql.push_str(&format!(" AND {col} {} {p} ESCAPE '\\'", d.like()));
                }
            }
        }
    }
}

/// `SELECT columns FROM table WHERE project … ORDER BY … LIMIT limit+1`.
pub fn select(d: Dialect, table: Table, columns: &str, project_id: &str, q: &ListQuery) -> (String, Vec<Val>) {
    let mut args = vec![Val::Text(project_id.to_string())];
    let mut sql = format!("SELECT {columns} FROM {} WHERE project_id = {}", table.as_str(), d.param(1));
    push_conds(d, table, &mut sql, &mut args, &q.conds);
    let expr = sort_expr(q.order_by);
    // Reading backwards (prev) flips the order; the page is reversed back afterwards.
    let desc = q.desc != q.reversed();
    if let Some(c) = &q.cursor {
        args.push(match &c.value {
            SortValue::Int(i) => Val::Int(*i),
            SortValue::Text(s) => Val::Text(s.clone()),
            SortValue::Null => Val::Int(-1),
        });
        args.push(Val::Text(c.id.clone()));
        let op = if desc { "<" } else { ">" };
        sql.push_str(&format!(" AND ({expr}, id) {op} ({}, {})", d.param(args.len() - 1), d.param(args.len())));
    }
    let dir = if desc { "DESC" } else { "ASC" };
    sql.push_str(&format!(" ORDER BY {expr} {dir}, id {dir} LIMIT {}", q.limit as u64 + 1));
    (sql, args)
}

/// `SELECT COUNT(*) FROM table WHERE project … conds`.
pub fn count(d: Dialect, table: Table, project_id: &str, conds: &[Cond]) -> (String, Vec<Val>) {
    let mut args = vec![Val::Text(project_id.to_string())];
    let mut sql = format!("SELECT COUNT(*) FROM {} WHERE project_id = {}", table.as_str(), d.param(1));
    push_conds(d, table, &mut sql, &mut args, conds);
    (sql, args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cmp;
    use pier_core::cursor::{Cursor, Direction};

    fn query() -> ListQuery {
        ListQuery {
            conds: vec![
                Cond::Eq(Col::Status, Val::Text("QUEUED".into())),
                Cond::In(Col::SourceId, vec![Val::Text("a".into()), Val::Text("b".into())]),
                Cond::Cmp(Col::CreatedAt, Cmp::Gte, Val::Int(5)),
                Cond::Contains(Col::Name, "50%_x".into()),
            ],
            cursor: Some(Cursor { direction: Direction::Prev, value: SortValue::Int(9), id: "evt_1".into() }),
            ..ListQuery::default()
        }
    }

    #[test]
    fn select_binds_every_value() {
        let (sql, args) = select(Dialect::Sqlite, Table::Events, "id", "tm_1", &query());
        assert_eq!(args.len(), 8);
        assert!(sql.contains("status = ?2"), "{sql}");
        assert!(sql.contains("source_id IN (?3, ?4)"), "{sql}");
        assert!(sql.contains("created_at >= ?5"), "{sql}");
        assert!(sql.contains("name LIKE ?6"), "{sql}");
        assert!(sql.contains("(created_at, id) > (?7, ?8)"), "{sql}");
        assert!(sql.ends_with("ORDER BY created_at ASC, id ASC LIMIT 101"), "{sql}");
        assert_eq!(args[5], Val::Text("%50\\%\\_x%".into()));
    }

    #[test]
    fn dialects_spell_placeholders_and_search() {
        let (sql, _) = select(Dialect::Postgres, Table::Events, "id", "tm_1", &query());
        assert!(
            sql.contains("status = $2") && sql.contains("name ILIKE $6") && sql.contains("(created_at, id) > ($7, $8)"),
            "{sql}"
        );
        let q = ListQuery::default().with(Cond::Contains(Col::Search, "abc".into()));
        let (sql, _) = select(Dialect::Postgres, Table::Events, "id", "tm_1", &q);
        assert!(
            sql.contains(
                "request_id IN (SELECT id FROM requests WHERE project_id = $1 AND (encode(body, 'escape') ILIKE $2"
            ),
            "{sql}"
        );
        let (sql, _) = count(Dialect::Sqlite, Table::Requests, "tm_1", &q.conds);
        assert!(sql.contains("(CAST(body AS TEXT) LIKE ?2 ESCAPE '\\' OR headers LIKE ?2"), "{sql}");
        let (sql, _) = count(Dialect::Sqlite, Table::Requests, "tm_1", &[Cond::In(Col::Id, vec![])]);
        assert!(sql.ends_with(" AND 1 = 0"), "{sql}");
    }
}
