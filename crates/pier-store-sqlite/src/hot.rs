//! The writer's hot statements: prepared once on its connection and kept for its lifetime,
//! found by the address of their `'static` text. rusqlite's statement cache hashes a
//! statement's whole text when it is taken and again when it is given back — for the three
//! statements of an ingest some 8,000 instructions, 4 % of what the ingest costs.

use crate::map_err;
use pier_store::StoreError;
use rusqlite::{Connection, Statement};

pub(crate) struct Hot<'c> {
    conn: &'c Connection,
    /// (the text's address, its statement): a handful, so a scan beats a hash.
    stmts: Vec<(usize, Statement<'c>)>,
}

impl<'c> Hot<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Hot<'c> {
        Hot { conn, stmts: Vec::new() }
    }

    /// The statement of `sql`, prepared on first use. Only for a fixed set of `'static`
    /// texts (each is kept until the writer stops).
    pub(crate) fn stmt(&mut self, sql: &'static str) -> Result<&mut Statement<'c>, StoreError> {
        let key = sql.as_ptr() as usize;
        let at = match self.stmts.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                let st = self.conn.prepare(sql).map_err(map_err)?;
                self.stmts.push((key, st));
                self.stmts.len() - 1
            }
        };
        Ok(&mut self.stmts[at].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_is_prepared_once_and_reused() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
        const INSERT: &str = "INSERT INTO t (v) VALUES (?1)";
        const COUNT: &str = "SELECT COUNT(*) FROM t";
        let mut hot = Hot::new(&conn);
        for v in 0..3 {
            hot.stmt(INSERT).unwrap().execute([v]).unwrap();
        }
        let n: i64 = hot.stmt(COUNT).unwrap().query_row([], |r| r.get(0)).unwrap();
        assert_eq!(n, 3);
        assert_eq!(hot.stmts.len(), 2, "one statement per text");
        assert!(hot.stmt("SELECT nonsense FROM nowhere").is_err());
        assert_eq!(hot.stmts.len(), 2, "a failed prepare is not kept");
    }
}
