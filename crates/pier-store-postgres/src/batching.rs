//! What the batchers (ingest, attempts) share: taking the next batch off their channel; and a
//! connection of its own for the ingest batcher.

use crate::pool_err;
use deadpool_postgres::{Object, Pool};
use pier_store::StoreError;
use tokio::sync::mpsc::UnboundedReceiver;

/// A batcher's own connection: taken from the pool once and kept, so every batch goes to the
/// same backend, warm in PostgreSQL's caches and the CPU's, where the pool (FIFO) would send each
/// to the backend used longest ago: ingest 19-26 % faster on one node, 16-22 % on three
/// (docs/BENCHMARKS.md, tenth session). The attempts batcher measured worse with one (e2e p99),
/// so only ingest uses it. A closed connection is replaced before the next batch, and one whose
/// batch failed is given up.
pub(crate) struct OwnConnection {
    pool: Pool,
    held: Option<Object>,
}

/// Run once on the batcher's connection: its backend allocates and frees one 8 MB value. glibc
/// serves an allocation that large with `mmap`, and freeing it raises the process's thresholds
/// for `mmap` and for trimming the heap to that size and twice it (glibc's dynamic threshold).
/// Without it a backend running the batch statement may shrink its heap after a statement and
/// grow it again at the next, a `brk` pair each time: seen with 2,708 calls in ~895
/// statements, where the kernel time cost what the statement saved (docs/BENCHMARKS.md,
/// thirteenth and fourteenth sessions). The value is built from 1,000-byte pieces and only its
/// size is read, so it costs about 15 ms once (60 ms for `length(repeat('x', 8000000))`, which
/// copies byte by byte and counts characters), and leaves the backend at most 16 MB of free
/// heap it keeps instead of returning.
const RAISE_TRIM_THRESHOLD: &str = "SELECT octet_length(repeat(repeat('x', 1000), 8000))";

impl OwnConnection {
    pub(crate) fn new(pool: Pool) -> OwnConnection {
        OwnConnection { pool, held: None }
    }

    /// The connection, from the pool when there is none (or it was closed).
    pub(crate) async fn get(&mut self) -> Result<&Object, StoreError> {
        let client = match self.held.take() {
            Some(c) if !c.is_closed() => c,
            _ => {
                let c = self.pool.get().await.map_err(pool_err)?;
                c.simple_query(RAISE_TRIM_THRESHOLD).await.map_err(crate::map_err)?;
                c
            }
        };
        Ok(self.held.insert(client))
    }

    /// Give the connection up (after an error: the next batch takes another).
    pub(crate) fn give_up(&mut self) {
        self.held = None;
    }
}

/// The first item of the next batch: the one the last batch left over, or the next to arrive
/// (`None` once every sender is gone).
pub(crate) async fn next_first<T>(carried: &mut Option<T>, rx: &mut UnboundedReceiver<T>) -> Option<T> {
    match carried.take() {
        Some(p) => Some(p),
        None => rx.recv().await,
    }
}

/// Fill `batch` with `first` and what already waits, up to `max` items that `admits` takes.
/// `admits` sees every item in order, `first` included (which goes in whatever it answers);
/// the first item it refuses is returned, to start the next batch.
pub(crate) fn gather<T>(
    first: T,
    rx: &mut UnboundedReceiver<T>,
    batch: &mut Vec<T>,
    max: usize,
    mut admits: impl FnMut(&T) -> bool,
) -> Option<T> {
    admits(&first);
    batch.push(first);
    while batch.len() < max {
        let Ok(p) = rx.try_recv() else { return None };
        if !admits(&p) {
            return Some(p);
        }
        batch.push(p);
    }
    None
}
