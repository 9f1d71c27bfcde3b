//! The single writer thread and its group commit.
//!
//! Every write is a job sent over a channel. The thread keeps one transaction open and runs
//! each job in it as it arrives, and commits when the *syncer* (below) has nothing to do — or
//! when [`MAX_BATCH`] jobs wait for their commit — then answers each job once the commit is on
//! disk. The jobs that arrive while an fsync runs are run meanwhile, and the commit that follows
//! the fsync is one transaction for all of them (each B-tree page written once) instead of one
//! small transaction per wake-up; under no load a job is committed as soon as it has run. A job
//! that fails rolls back its own savepoint without harming the others; a failed commit fails
//! them all.
//!
//! Durability without an fsync on the writer's path: the writer commits without syncing (the
//! commit appends its frames to the WAL — in a few large writes, on the gathering VFS of
//! gathered_wal.rs, or with `synchronous=NORMAL` where that VFS is not available) and hands the
//! answers to a *syncer* thread, which calls `fdatasync` on the WAL file and only then answers.
//! One fsync covers every commit made before it started (the WAL is written in order), so while
//! one fsync runs, the writer goes on committing and the next fsync covers all of those: fewer
//! fsyncs under load, none waited for by the writer. A checkpoint still syncs the WAL before
//! copying it and the database after (SQLite's NORMAL), so a commit is on disk either in the
//! WAL or in the database file when its write returns. Readers may see a commit before its
//! fsync; nothing is acknowledged before it.
//!
//! Checkpoints off the writer's path: the writer does not checkpoint after its commits
//! (`wal_autocheckpoint=0`); a *checkpointer* thread, on its own connection, copies the WAL into
//! the database every [`CHECKPOINT_EVERY`] (a `PASSIVE` checkpoint, which never blocks the
//! writer or the readers), syncs the database file, and then asks the writer to finish the
//! round between two batches: that checkpoint only copies (and syncs) the frames committed
//! meanwhile, and leaves the WAL fully copied so
//! the next write starts it over from the beginning (the WAL stays small). A page written by many
//! commits is copied once per round instead of once per 1,000 frames.
//!
//! The hot writes (ingest, attempts) are *trusted*: they fail only when the database itself does,
//! or with `NotFound`/`Conflict` before writing anything. They run without savepoints (a
//! savepoint copies every page it touches into a sub-journal, the largest cost of a small
//! write); if one fails otherwise, the open transaction is rolled back at once and every job run
//! in it answered with the error.
//!
//! Jobs may use the writer's *hot statements* (hot.rs): the statements of ingest and of
//! attempts, prepared once on the writer's connection instead of taken from rusqlite's cache.

use crate::hot::Hot;
use parking_lot::Mutex;
use pier_store::StoreError;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 1024;

/// How often the checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

type Job = Box<dyn FnOnce(&Transaction<'_>, &mut Hot<'_>) -> Result<(), StoreError> + Send>;

struct Pending {
    job: Job,
    /// Runs without a savepoint; its failure rolls the batch back (see the module doc).
    trusted: bool,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// What the writer's channel carries: a job, or word that the syncer has nothing left to do.
enum Msg {
    Job(Pending),
    SyncerIdle,
}

#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Msg>,
}

/// Whether the syncer is busy, and whether the writer waits for it with a transaction open.
#[derive(Default)]
struct SyncState {
    busy: AtomicBool,
    waiting: AtomicBool,
}

impl SyncState {
    /// The writer's question before it commits: `true` (the syncer is busy; the writer waits,
    /// and [`SyncState::idle`] wakes it). Sequentially consistent with `idle`: of the writer's
    /// `waiting` and the syncer's `busy`, at least one side sees the other's store.
    fn writer_waits(&self) -> bool {
        if !self.busy.load(Ordering::SeqCst) {
            return false;
        }
        self.waiting.store(true, Ordering::SeqCst);
        self.busy.load(Ordering::SeqCst)
    }

    /// The syncer has nothing left: returns whether the writer waits for that word.
    fn idle(&self) -> bool {
        self.busy.store(false, Ordering::SeqCst);
        self.waiting.swap(false, Ordering::SeqCst)
    }
}

/// The syncer's side of [`SyncState`], with the way to wake the writer.
struct Idle {
    state: Arc<SyncState>,
    wake: mpsc::WeakUnboundedSender<Msg>,
}

/// The answers of one committed batch, sent once the WAL is synced.
type Answers = Vec<(oneshot::Sender<Result<(), StoreError>>, Result<(), StoreError>)>;

impl Writer {
    /// Start the writer on `conn` (the database file at `db_path`) and its syncer. `gathered`:
    /// `conn` is on the gathering VFS and set up for it (gathered_wal.rs), whose commits write
    /// their frames out without syncing them, as `synchronous=NORMAL` does.
    pub(crate) fn start(conn: Connection, db_path: PathBuf, gathered: bool) -> Writer {
        let (tx, rx) = mpsc::unbounded_channel();
        let (sync_tx, sync_rx) = std::sync::mpsc::channel::<Answers>();
        let state = Arc::new(SyncState::default());
        let idle = Idle { state: state.clone(), wake: tx.downgrade() };
        let mut wal = db_path.clone().into_os_string();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        // Only in WAL mode (a file system without it keeps FULL, and the syncer only answers).
        let in_wal = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
            .is_ok_and(|m| m.eq_ignore_ascii_case("wal"))
            && (gathered || conn.execute_batch("PRAGMA synchronous=NORMAL;").is_ok());
        // Set by the checkpointer after a round; the writer then finishes it.
        let finish = in_wal.then(|| start_checkpointer(&db_path)).flatten();
        if finish.is_some() {
            if let Err(e) = conn.execute_batch("PRAGMA wal_autocheckpoint=0;") {
                tracing::warn!(error = %e, "the writer keeps checkpointing after its commits");
            }
        }
        let started = std::thread::Builder::new()
            .name("pier-sqlite-sync".into())
            .spawn(move || sync(in_wal.then_some(wal), sync_rx, idle))
            .and_then(|_| {
                std::thread::Builder::new()
                    .name("pier-sqlite-writer".into())
                    .spawn(move || run(conn, rx, sync_tx, state, finish))
            });
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot start the sqlite writer threads");
        }
        Writer { tx }
    }

    /// Run `f` in the next group-committed transaction without a savepoint of its own;
    /// resolves after the commit. `f` must fail with `NotFound` or `Conflict` only before it
    /// wrote anything; any other error rolls the whole batch back (see the module doc).
    pub(crate) async fn write_trusted<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.send(move |tx, _| f(tx), true).await
    }

    /// [`Writer::write_trusted`] with the writer's hot statements (hot.rs).
    pub(crate) async fn write_trusted_hot<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, &mut Hot<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.send(f, true).await
    }

    /// Run `f` in the next group-committed transaction; resolves after the commit.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.send(move |tx, _| f(tx), false).await
    }

    /// [`Writer::write`] with the writer's hot statements (hot.rs).
    pub(crate) async fn write_hot<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, &mut Hot<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.send(f, false).await
    }

    async fn send<T, F>(&self, f: F, trusted: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, &mut Hot<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let slot: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
        let out = slot.clone();
        let job: Job = Box::new(move |tx, hot| {
            let v = f(tx, hot)?;
            *out.lock() = Some(v);
            Ok(())
        });
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Job(Pending { job, trusted, done }))
            .map_err(|_| StoreError::Unavailable("the sqlite writer has stopped".into()))?;
        wait.await.map_err(|_| StoreError::Unavailable("the sqlite writer has stopped".into()))??;
        let v = slot.lock().take();
        v.ok_or_else(|| StoreError::Internal("write finished without a value".into()))
    }
}

/// Start the checkpointer thread (see the module doc) on its own connection to `db_path`;
/// returns the flag it raises after each round. `None` (the writer checkpoints after its
/// commits, as SQLite does by default) when it cannot start.
fn start_checkpointer(db_path: &Path) -> Option<Arc<AtomicBool>> {
    let conn = match crate::open_connection(db_path, false) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open the checkpointer's connection");
            return None;
        }
    };
    // SQLite syncs the database file only after a checkpoint that copied the whole WAL, which
    // under load is the writer's finishing one: it would flush every page this thread copied
    // (milliseconds, with the writer stopped). Synced here after each pass instead, the
    // finishing checkpoint's sync covers only the few pages it copies itself.
    let db = std::fs::File::open(db_path).map_err(|e| tracing::warn!(error = %e, "cannot open the database file")).ok();
    let finish = Arc::new(AtomicBool::new(false));
    let flag = Arc::downgrade(&finish);
    std::thread::Builder::new()
        .name("pier-sqlite-ckpt".into())
        .spawn(move || loop {
            std::thread::sleep(CHECKPOINT_EVERY);
            // The writer is gone: so is the store.
            let Some(flag) = flag.upgrade() else { return };
            match passive_checkpoint(&conn) {
                Ok(copied) if copied > 0 => {
                    if let Some(Err(e)) = db.as_ref().map(std::fs::File::sync_data) {
                        tracing::warn!(error = %e, "syncing the database file failed; the writer's checkpoint syncs it");
                    }
                    flag.store(true, Ordering::Release)
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "checkpointing the WAL failed; retrying"),
            }
        })
        .map_err(|e| tracing::warn!(error = %e, "cannot start the checkpointer"))
        .ok()?;
    Some(finish)
}

/// A `PASSIVE` checkpoint; returns how many WAL frames are now copied into the database.
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(2))
}

/// The syncer: `fdatasync` the WAL (`None`: not in WAL mode, commits synced themselves), then
/// answer every batch committed before it started; when nothing more waits, tell the writer
/// (see the module doc).
fn sync(wal: Option<PathBuf>, rx: std::sync::mpsc::Receiver<Answers>, idle: Idle) {
    let mut file: Option<std::fs::File> = None;
    let mut next = rx.recv().ok();
    while let Some(first) = next.take() {
        idle.state.busy.store(true, Ordering::SeqCst);
        let mut answers = first;
        while let Ok(mut more) = rx.try_recv() {
            answers.append(&mut more);
        }
        let synced = match (&wal, &file) {
            (None, _) => Ok(()),
            (Some(_), Some(f)) => f.sync_data(),
            // The WAL exists from the first transaction on; kept open (same inode) from then on.
            (Some(path), None) => std::fs::File::open(path).and_then(|f| {
                let r = f.sync_data();
                file = Some(f);
                r
            }),
        };
        match synced {
            Ok(()) => {
                for (done, r) in answers {
                    let _ = done.send(r);
                }
            }
            Err(e) => {
                // Committed but maybe not on disk: the caller must not take it as durable.
                tracing::error!(error = %e, "syncing the WAL failed");
                file = None;
                for (done, r) in answers {
                    let _ = done.send(r.and(Err(StoreError::Unavailable(format!("syncing the database failed: {e}")))));
                }
            }
        }
        next = match rx.try_recv() {
            Ok(more) => Some(more),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => None,
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                if idle.state.idle() {
                    if let Some(writer) = idle.wake.upgrade() {
                        let _ = writer.send(Msg::SyncerIdle);
                    }
                }
                rx.recv().ok()
            }
        };
    }
}

/// The writer's open transaction and the answers of the jobs run in it so far.
struct Batch<'c> {
    tx: Transaction<'c>,
    answers: Answers,
}

impl<'c> Batch<'c> {
    fn begin(conn: &'c Connection) -> rusqlite::Result<Batch<'c>> {
        Ok(Batch { tx: Transaction::new_unchecked(conn, TransactionBehavior::Deferred)?, answers: Vec::new() })
    }

    /// Run one job. `Err`: the transaction is spoilt (a trusted job failed, or a savepoint
    /// could not be taken or ended); the caller fails the batch with the message.
    fn run_job(&mut self, p: Pending, hot: &mut Hot<'_>) -> Result<(), String> {
        let Pending { job, trusted, done } = p;
        if trusted {
            match job(&self.tx, hot) {
                Ok(()) => self.answers.push((done, Ok(()))),
                // Refused before writing anything: the others are not affected.
                Err(e @ (StoreError::NotFound | StoreError::Conflict(_))) => self.answers.push((done, Err(e))),
                Err(e) => {
                    tracing::error!(error = %e, jobs = self.answers.len() + 1, "a trusted write failed; the batch is rolled back");
                    self.answers.push((done, Ok(())));
                    return Err(format!("the write was rolled back: {e}"));
                }
            }
            return Ok(());
        }
        let step = |sql: &str| self.tx.prepare_cached(sql).and_then(|mut st| st.execute([])).map(|_| ());
        if let Err(e) = step("SAVEPOINT job") {
            self.answers.push((done, Ok(())));
            return Err(e.to_string());
        }
        let r = job(&self.tx, hot);
        let ended =
            if r.is_ok() { step("RELEASE job") } else { step("ROLLBACK TO job").and_then(|()| step("RELEASE job")) };
        self.answers.push((done, r));
        ended.map_err(|e| e.to_string())
    }

    /// Roll back and answer every job with `message` (nothing was committed: no sync to wait for).
    fn fail(self, message: &str) {
        let Batch { tx, answers } = self;
        if let Err(e) = tx.rollback() {
            tracing::error!(error = %e, "rolling back the batch failed");
        }
        for (done, _) in answers {
            let _ = done.send(Err(StoreError::Unavailable(message.to_string())));
        }
    }

    /// Commit and hand the answers to the syncer (busy from then on).
    fn commit(self, synced: &std::sync::mpsc::Sender<Answers>, state: &SyncState) {
        let Batch { tx, answers } = self;
        if let Err(e) = tx.commit() {
            tracing::error!(error = %e, jobs = answers.len(), "sqlite commit failed");
            for (done, _) in answers {
                let _ = done.send(Err(StoreError::Unavailable(e.to_string())));
            }
            return;
        }
        state.waiting.store(false, Ordering::SeqCst);
        state.busy.store(true, Ordering::SeqCst);
        if let Err(std::sync::mpsc::SendError(answers)) = synced.send(answers) {
            for (done, _) in answers {
                let _ = done.send(Err(StoreError::Unavailable("the sqlite syncer has stopped".into())));
            }
        }
    }
}

fn run(
    conn: Connection,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    synced: std::sync::mpsc::Sender<Answers>,
    state: Arc<SyncState>,
    finish: Option<Arc<AtomicBool>>,
) {
    let mut hot = Hot::new(&conn);
    let mut open: Option<Batch<'_>> = None;
    let stats = std::env::var("PIER_WRITER_STATS").is_ok();
    let (mut working, mut jobs, mut batches, mut since) =
        (std::time::Duration::ZERO, 0usize, 0usize, std::time::Instant::now());
    while let Some(first) = rx.blocking_recv() {
        let t0 = stats.then(std::time::Instant::now);
        // Run everything that has arrived (up to a full batch) in the open transaction.
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            if let Msg::Job(p) = msg {
                jobs += 1;
                if open.is_none() {
                    match Batch::begin(&conn) {
                        Ok(b) => open = Some(b),
                        Err(e) => {
                            tracing::error!(error = %e, "cannot begin a sqlite transaction");
                            let _ = p.done.send(Err(StoreError::Unavailable(e.to_string())));
                            next = rx.try_recv().ok();
                            continue;
                        }
                    }
                }
                if let Some(batch) = open.as_mut() {
                    if let Err(message) = batch.run_job(p, &mut hot) {
                        if let Some(b) = open.take() {
                            b.fail(&message);
                        }
                    }
                }
                if open.as_ref().is_some_and(|b| b.answers.len() >= MAX_BATCH) {
                    break;
                }
            }
            next = rx.try_recv().ok();
        }
        // Commit when the syncer takes it at once (or the batch is full); otherwise the
        // transaction stays open for what arrives until the syncer is done.
        let full = open.as_ref().is_some_and(|b| b.answers.len() >= MAX_BATCH);
        if open.is_some() && (full || !state.writer_waits()) {
            if let Some(b) = open.take() {
                b.commit(&synced, &state);
                batches += 1;
                if finish.as_ref().is_some_and(|f| f.swap(false, Ordering::Acquire)) {
                    if let Err(e) = passive_checkpoint(&conn) {
                        tracing::warn!(error = %e, "finishing the checkpoint failed");
                    }
                }
            }
        }
        if let Some(t0) = t0 {
            working += t0.elapsed();
            if since.elapsed() > std::time::Duration::from_secs(2) {
                eprintln!(
                    "writer: {batches} commits, {jobs} jobs, {:.1} jobs/commit, busy {:.0}%, {:.0} us/job",
                    jobs as f64 / batches.max(1) as f64,
                    working.as_secs_f64() * 100.0 / since.elapsed().as_secs_f64(),
                    working.as_secs_f64() * 1e6 / jobs.max(1) as f64
                );
                (working, jobs, batches, since) = (std::time::Duration::ZERO, 0, 0, std::time::Instant::now());
            }
        }
    }
    // Every writer is gone: commit what was run.
    if let Some(b) = open.take() {
        b.commit(&synced, &state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = crate::open_connection(&path, false).unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER PRIMARY KEY)").unwrap();
        // As the store runs it: on the gathering VFS.
        let (conn, gathered) = crate::writer_connection(&path, conn).unwrap();
        assert!(gathered);
        (dir, Writer::start(conn, path, gathered))
    }

    fn insert(v: i64) -> impl FnOnce(&Transaction<'_>) -> Result<(), StoreError> + Send + 'static {
        move |tx| tx.execute("INSERT INTO t (v) VALUES (?1)", [v]).map(|_| ()).map_err(crate::map_err)
    }

    async fn count(w: &Writer) -> i64 {
        w.write(|tx| tx.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).map_err(crate::map_err)).await.unwrap()
    }

    async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(20), f).await.expect("the writer answers")
    }

    #[tokio::test]
    async fn a_failing_job_spoils_only_itself_among_many_at_once() {
        within(async {
            let (_dir, w) = writer();
            // 200 jobs at once, so they share batches; every tenth one collides with another.
            let jobs = (0..200i64).map(|i| {
                let w = w.clone();
                async move { w.write(insert(if i % 10 == 9 { i - 1 } else { i })).await }
            });
            let results = futures::future::join_all(jobs).await;
            let failed = results.iter().filter(|r| r.is_err()).count();
            assert_eq!(failed, 20, "{results:?}");
            assert_eq!(count(&w).await, 180);
        })
        .await
    }

    #[tokio::test]
    async fn a_trusted_job_that_fails_rolls_its_batch_back_but_a_refusal_does_not() {
        within(async {
            let (_dir, w) = writer();
            let refused = w.write_trusted(|_| -> Result<(), StoreError> { Err(StoreError::NotFound) }).await;
            assert!(matches!(refused, Err(StoreError::NotFound)));
            w.write_trusted(insert(1)).await.unwrap();
            assert_eq!(count(&w).await, 1);
            // A trusted failure fails every job of its batch: what it did and the others.
            let sent = (2..50i64).map(|i| {
                let w = w.clone();
                async move {
                    if i == 25 {
                        w.write_trusted(|tx| {
                            tx.execute("INSERT INTO t (v) VALUES (1000)", []).map_err(crate::map_err)?;
                            Err(StoreError::Internal("boom".into()))
                        })
                        .await
                    } else {
                        w.write_trusted(insert(i)).await
                    }
                }
            });
            let results = futures::future::join_all(sent).await;
            let ok = results.iter().filter(|r| r.is_ok()).count() as i64;
            assert!(results[23].is_err());
            let n = count(&w).await;
            assert_eq!(n, 1 + ok, "exactly the answered writes are stored: {results:?}");
            let stray: i64 = w
                .write(|tx| {
                    tx.query_row("SELECT COUNT(*) FROM t WHERE v = 1000", [], |r| r.get(0)).map_err(crate::map_err)
                })
                .await
                .unwrap();
            assert_eq!(stray, 0, "the failed job's own write is rolled back");
        })
        .await
    }

    #[tokio::test]
    async fn every_answered_write_is_committed_when_answered() {
        within(async {
            let (dir, w) = writer();
            // Another connection, as the store's readers: it sees only committed rows.
            let reader = crate::open_connection(&dir.path().join("w.db"), true).unwrap();
            let reader = Arc::new(Mutex::new(reader));
            // Writes arrive spread out, so some run while the syncer is busy and wait, in the
            // open transaction, for its word.
            let jobs = (0..300i64).map(|i| {
                let (w, reader) = (w.clone(), reader.clone());
                async move {
                    tokio::time::sleep(Duration::from_micros((i as u64 % 50) * 200)).await;
                    w.write_trusted(insert(i)).await.unwrap();
                    let seen: i64 =
                        reader.lock().query_row("SELECT COUNT(*) FROM t WHERE v = ?1", [i], |r| r.get(0)).unwrap();
                    assert_eq!(seen, 1, "write {i} was answered before it was committed");
                }
            });
            futures::future::join_all(jobs).await;
            assert_eq!(count(&w).await, 300);
        })
        .await
    }

    #[tokio::test]
    async fn a_lone_write_is_answered_without_waiting_for_more() {
        within(async {
            let (_dir, w) = writer();
            for i in 0..100i64 {
                // Nothing else is sent until this answer: a writer that waited for company, or
                // for a word from the syncer that never comes, would never answer.
                tokio::time::timeout(Duration::from_secs(5), w.write_trusted(insert(i)))
                    .await
                    .expect("a lone write is answered")
                    .unwrap();
            }
            assert_eq!(count(&w).await, 100);
        })
        .await
    }

    #[tokio::test]
    async fn the_threads_stop_with_the_last_writer() {
        within(async {
            // The store threads by id (other tests in this binary run stores alongside).
            let threads = || -> std::collections::HashSet<String> {
                std::fs::read_dir("/proc/self/task")
                    .unwrap()
                    .filter_map(|t| {
                        let t = t.ok()?;
                        let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
                        comm.starts_with("pier-sqlite").then(|| t.file_name().to_string_lossy().into_owned())
                    })
                    .collect()
            };
            let before = threads();
            let (_dir, w) = writer();
            w.write(insert(1)).await.unwrap();
            let mine: Vec<String> = threads().difference(&before).cloned().collect();
            assert!(mine.len() >= 3, "writer, syncer and checkpointer run: {mine:?}");
            drop(w);
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            while mine.iter().any(|t| threads().contains(t)) {
                assert!(std::time::Instant::now() < deadline, "the store's threads are still running");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }
}
