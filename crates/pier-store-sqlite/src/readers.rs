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
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Arc<Readers> {
        Arc::new(Readers { path, idle: Mutex::new(Vec::new()) })
    }

    /// Run `f` with a read connection on a blocking thread.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match this.idle.lock().pop() {
                Some(c) => c,
                None => crate::open_connection(&this.path, true).map_err(crate::map_err)?,
            };
            let r = f(&conn);
            let mut idle = this.idle.lock();
            if idle.len() < 16 {
                idle.push(conn);
            }
            r
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }
}
