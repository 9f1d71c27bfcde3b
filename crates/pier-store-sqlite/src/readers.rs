//! A small pool of read-only connections (WAL lets them read while the writer writes).
//! Reads run on tokio's blocking threads.

use parking_lot::Mutex;
use pier_store::StoreError;
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Reads at once: more would only queue on 2 cores, and each connection keeps a page cache.
    slots: tokio::sync::Semaphore,
}

/// At most this many read connections (each with a page cache of [`READ_CACHE_KIB`]).
const MAX_READERS: usize = 8;
const READ_CACHE_KIB: i64 = 2048;

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Arc<Readers> {
        Arc::new(Readers { path, idle: Mutex::new(Vec::new()), slots: tokio::sync::Semaphore::new(MAX_READERS) })
    }

    /// Run `f` with a read connection on a blocking thread.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let this = self.clone();
        let _slot = self.slots.acquire().await.map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let conn = match this.idle.lock().pop() {
                Some(c) => c,
                None => {
                    let c = crate::open_connection(&this.path, true).map_err(crate::map_err)?;
                    c.execute_batch(&format!("PRAGMA cache_size=-{READ_CACHE_KIB};")).map_err(crate::map_err)?;
                    // The claim loads alone come in 15 shapes (see `padded`); room for the rest.
                    c.set_prepared_statement_cache_capacity(64);
                    c
                }
            };
            let r = f(&conn);
            let mut idle = this.idle.lock();
            if idle.len() < MAX_READERS {
                idle.push(conn);
            }
            r
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }
}
