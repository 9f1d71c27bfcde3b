//! The single writer thread and its group commit.
//!
//! Every write is a job sent over a channel. The thread takes whatever jobs are waiting (up to
//! [`MAX_BATCH`]), runs each in its own savepoint inside one transaction, commits once (one
//! fsync for the batch), and only then answers each job. A job that fails rolls back its own
//! savepoint without harming the others; a failed commit fails them all.

use parking_lot::Mutex;
use pier_store::StoreError;
use rusqlite::{Connection, Transaction};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 1024;

type Job = Box<dyn FnOnce(&Transaction<'_>) -> Result<(), StoreError> + Send>;

struct Pending {
    job: Job,
    done: oneshot::Sender<Result<(), StoreError>>,
}

#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Pending>,
}

impl Writer {
    pub(crate) fn start(conn: Connection) -> Writer {
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("pier-sqlite-writer".into())
            .spawn(move || run(conn, rx))
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(error = %e, "cannot start the sqlite writer thread"));
        Writer { tx }
    }

    /// Run `f` in the next group-committed transaction; resolves after the commit.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let slot: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
        let out = slot.clone();
        let job: Job = Box::new(move |tx| {
            let v = f(tx)?;
            *out.lock() = Some(v);
            Ok(())
        });
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Pending { job, done })
            .map_err(|_| StoreError::Unavailable("the sqlite writer has stopped".into()))?;
        wait.await.map_err(|_| StoreError::Unavailable("the sqlite writer has stopped".into()))??;
        let v = slot.lock().take();
        v.ok_or_else(|| StoreError::Internal("write finished without a value".into()))
    }
}

fn run(mut conn: Connection, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let results = commit_batch(&mut conn, &mut batch);
        match results {
            Ok(results) => {
                for (p, r) in batch.drain(..).zip(results) {
                    let _ = p.done.send(r);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = batch.len(), "sqlite commit failed");
                for p in batch.drain(..) {
                    let _ = p.done.send(Err(StoreError::Unavailable(e.to_string())));
                }
            }
        }
    }
}

fn commit_batch(conn: &mut Connection, batch: &mut [Pending]) -> rusqlite::Result<Vec<Result<(), StoreError>>> {
    let tx = conn.transaction()?;
    let mut results = Vec::with_capacity(batch.len());
    let single = batch.len() == 1;
    for p in batch.iter_mut() {
        let job: Job = std::mem::replace(&mut p.job, Box::new(|_| Ok(())));
        if single {
            // One job: the transaction itself is its savepoint.
            results.push(job(&tx));
            continue;
        }
        tx.execute_batch("SAVEPOINT job")?;
        let r = job(&tx);
        if r.is_ok() {
            tx.execute_batch("RELEASE job")?;
        } else {
            tx.execute_batch("ROLLBACK TO job; RELEASE job")?;
        }
        results.push(r);
    }
    if single && results.first().is_some_and(|r| r.is_err()) {
        tx.rollback()?;
    } else {
        tx.commit()?;
    }
    Ok(results)
}
