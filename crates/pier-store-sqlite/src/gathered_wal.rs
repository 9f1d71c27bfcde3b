//! A SQLite VFS that hands each commit's WAL frames to the file in a few large writes.
//!
//! SQLite writes a WAL frame as two writes (its 24-byte header, then the page), so a commit of
//! 40 pages is 80 `pwrite`s, and an `fdatasync` after many small writes was measured several
//! times slower than after one write of the same bytes (docs/BENCHMARKS.md). This VFS wraps the
//! default one. Writes to a WAL file are gathered in memory while they follow one another, and
//! handed to the real file when the commit ends (in writes of at most [`WRITE_AT_MOST`] bytes) — and before anything that reads
//! the file, asks its size, truncates it, controls it or closes it, or when a write does not
//! follow the gathered ones (SQLite rewriting a frame), so the file always sees the same writes
//! in the same order.
//!
//! The end of a commit is its WAL sync. The writer's connection runs with `synchronous=FULL`
//! and `checkpoint_fullfsync=ON` (see [`configure`]), so a commit syncs the WAL with
//! `SQLITE_SYNC_NORMAL` and every other sync of the WAL (before a checkpoint copies frames into
//! the database, after a new WAL header) uses `SQLITE_SYNC_FULL`. A commit's sync writes the
//! gathered frames out and does not wait for the disk: the writer's syncer thread makes them
//! durable with one `fdatasync` for many commits before any of them is answered (writer.rs) —
//! as before this VFS, when the writer ran with `synchronous=NORMAL`, which does not sync at
//! commit at all. The other syncs write out and then sync for real. Readers see a commit only
//! once its frames are in the file: SQLite publishes a commit in the WAL index after its sync.
//!
//! Only the writer's connection uses this VFS, and only after the migrations (which commit on
//! their own connection, synced at commit). A WAL on a device without SQLite's
//! "powersafe overwrite" gets no gathering (SQLite may then write part of a commit's last frame
//! after its sync).

use rusqlite::ffi;
use std::ffi::{c_int, c_void};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::OnceLock;

/// The VFS's registered name.
pub(crate) const NAME: &str = "pier-gathered-wal";

/// Gathered bytes are written out before they pass this size.
const GATHER_LIMIT: usize = 8 << 20;

/// The largest write handed to the default VFS: its unix write path keeps only the low 17 bits
/// of a write's length (`nBuf &= 0x1ffff` in `seekAndWrite`), as SQLite itself never writes
/// more than a page and a frame header at once.
const WRITE_AT_MOST: usize = 0x1f000;

/// The default VFS this one wraps.
static REAL_VFS: AtomicPtr<ffi::sqlite3_vfs> = AtomicPtr::new(null_mut());

/// One open file: SQLite's part, then ours; the default VFS's file follows in the same
/// allocation (at [`REAL_AT`]).
#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    /// WAL files only (null otherwise: every call goes straight to the real file).
    gathered: *mut Gathered,
}

/// Bytes written and not yet handed to the real file, from `offset` on.
#[derive(Default)]
struct Gathered {
    bytes: Vec<u8>,
    offset: i64,
}

/// Where the default VFS's file starts in the allocation SQLite gives [`open`].
const REAL_AT: usize = std::mem::size_of::<File>().next_multiple_of(16);

/// Register the VFS (once per process); false when it cannot be, and connections then stay on
/// the default VFS.
pub(crate) fn register() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    // SAFETY: sqlite3_vfs_find and sqlite3_vfs_register are thread-safe; the VFS struct is
    // leaked, so it outlives every connection that uses it.
    *REGISTERED.get_or_init(|| unsafe {
        let real = ffi::sqlite3_vfs_find(null());
        if real.is_null() {
            return false;
        }
        let mut vfs: ffi::sqlite3_vfs = *real;
        vfs.szOsFile = (REAL_AT + (*real).szOsFile as usize) as c_int;
        vfs.zName = c"pier-gathered-wal".as_ptr();
        vfs.pNext = null_mut();
        vfs.xOpen = Some(open);
        REAL_VFS.store(real, Ordering::Release);
        ffi::sqlite3_vfs_register(Box::leak(Box::new(vfs)), 0) == ffi::SQLITE_OK
    })
}

/// The pragmas the gathering relies on (module doc): a commit syncs the WAL with
/// `SQLITE_SYNC_NORMAL`, everything else with `SQLITE_SYNC_FULL`.
pub(crate) fn configure(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA checkpoint_fullfsync=ON;")?;
    let on: i64 = conn.query_row("PRAGMA checkpoint_fullfsync", [], |r| r.get(0))?;
    if on != 1 {
        return Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_MISUSE),
            Some("PRAGMA checkpoint_fullfsync did not take".into()),
        ));
    }
    Ok(())
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let real_vfs = REAL_VFS.load(Ordering::Acquire);
    let real = file.cast::<u8>().add(REAL_AT).cast::<ffi::sqlite3_file>();
    (*file).pMethods = null();
    (*real).pMethods = null();
    let Some(real_open) = real_vfs.as_ref().and_then(|v| v.xOpen) else { return ffi::SQLITE_CANTOPEN };
    let rc = real_open(real_vfs, name, real, flags, out_flags);
    // SQLite closes a file whose methods are set even when its open failed.
    if (*real).pMethods.is_null() {
        return rc;
    }
    let powersafe = (*(*real).pMethods)
        .xDeviceCharacteristics
        .is_some_and(|d| d(real) & ffi::SQLITE_IOCAP_POWERSAFE_OVERWRITE != 0);
    let gathered = if rc == ffi::SQLITE_OK && flags & ffi::SQLITE_OPEN_WAL != 0 && powersafe {
        Box::into_raw(Box::<Gathered>::default())
    } else {
        null_mut()
    };
    file.cast::<File>().write(File { base: ffi::sqlite3_file { pMethods: &METHODS }, real, gathered });
    rc
}

/// The real file and its methods.
unsafe fn real(file: *mut ffi::sqlite3_file) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    let real = (*file.cast::<File>()).real;
    (real, &*(*real).pMethods)
}

/// Write out what was gathered; then the real file and its methods, or the write's error.
unsafe fn written_out(
    file: *mut ffi::sqlite3_file,
) -> Result<(*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods), c_int> {
    match write_out(file) {
        ffi::SQLITE_OK => Ok(real(file)),
        rc => Err(rc),
    }
}

/// Hand the gathered bytes to the real file.
unsafe fn write_out(file: *mut ffi::sqlite3_file) -> c_int {
    let g = (*file.cast::<File>()).gathered;
    if g.is_null() || (*g).bytes.is_empty() {
        return ffi::SQLITE_OK;
    }
    let (real, m) = real(file);
    let g = &mut *g;
    let mut rc = ffi::SQLITE_OK;
    let mut offset = g.offset;
    for chunk in g.bytes.chunks(WRITE_AT_MOST) {
        rc = m.xWrite.map_or(ffi::SQLITE_IOERR_WRITE, |w| w(real, chunk.as_ptr().cast(), chunk.len() as c_int, offset));
        if rc != ffi::SQLITE_OK {
            break;
        }
        offset += chunk.len() as i64;
    }
    // Written or failed, they are gone: SQLite answers a failed write by not publishing the
    // frames, and must not find them written later.
    g.bytes.clear();
    rc
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let written = write_out(file);
    let f = file.cast::<File>();
    if !(*f).gathered.is_null() {
        drop(Box::from_raw((*f).gathered));
        (*f).gathered = null_mut();
    }
    let (real, m) = real(file);
    let closed = m.xClose.map_or(ffi::SQLITE_OK, |c| c(real));
    if written != ffi::SQLITE_OK {
        written
    } else {
        closed
    }
}

unsafe extern "C" fn read(file: *mut ffi::sqlite3_file, buf: *mut c_void, amt: c_int, offset: i64) -> c_int {
    match written_out(file) {
        Ok((real, m)) => m.xRead.map_or(ffi::SQLITE_IOERR_READ, |r| r(real, buf, amt, offset)),
        Err(rc) => rc,
    }
}

unsafe extern "C" fn write(file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, offset: i64) -> c_int {
    let g = (*file.cast::<File>()).gathered;
    let n = amt.max(0) as usize;
    if !g.is_null() && n <= GATHER_LIMIT {
        let follows = (*g).offset + (*g).bytes.len() as i64 == offset;
        if !(*g).bytes.is_empty() && (!follows || (*g).bytes.len() + n > GATHER_LIMIT) {
            let rc = write_out(file);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        let g = &mut *g;
        if g.bytes.is_empty() {
            g.offset = offset;
        }
        g.bytes.extend_from_slice(std::slice::from_raw_parts(buf.cast::<u8>(), n));
        return ffi::SQLITE_OK;
    }
    match written_out(file) {
        Ok((real, m)) => m.xWrite.map_or(ffi::SQLITE_IOERR_WRITE, |w| w(real, buf, amt, offset)),
        Err(rc) => rc,
    }
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    match written_out(file) {
        Ok((real, m)) => m.xTruncate.map_or(ffi::SQLITE_IOERR_TRUNCATE, |t| t(real, size)),
        Err(rc) => rc,
    }
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    let (real, m) = match written_out(file) {
        Ok(r) => r,
        Err(rc) => return rc,
    };
    // A commit's sync of a gathered WAL: written out, made durable by the syncer (module doc).
    if !(*file.cast::<File>()).gathered.is_null() && flags & 0x0f != ffi::SQLITE_SYNC_FULL {
        return ffi::SQLITE_OK;
    }
    m.xSync.map_or(ffi::SQLITE_IOERR_FSYNC, |s| s(real, flags))
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    match written_out(file) {
        Ok((real, m)) => m.xFileSize.map_or(ffi::SQLITE_IOERR_FSTAT, |f| f(real, size)),
        Err(rc) => rc,
    }
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let (real, m) = real(file);
    m.xLock.map_or(ffi::SQLITE_IOERR_LOCK, |l| l(real, level))
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let (real, m) = real(file);
    m.xUnlock.map_or(ffi::SQLITE_IOERR_UNLOCK, |u| u(real, level))
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    let (real, m) = real(file);
    m.xCheckReservedLock.map_or(ffi::SQLITE_IOERR_CHECKRESERVEDLOCK, |c| c(real, out))
}

unsafe extern "C" fn file_control(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    match written_out(file) {
        Ok((real, m)) => m.xFileControl.map_or(ffi::SQLITE_NOTFOUND, |f| f(real, op, arg)),
        Err(rc) => rc,
    }
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    let (real, m) = real(file);
    m.xSectorSize.map_or(4096, |s| s(real))
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    let (real, m) = real(file);
    m.xDeviceCharacteristics.map_or(0, |d| d(real))
}

unsafe extern "C" fn shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let (real, m) = real(file);
    m.xShmMap.map_or(ffi::SQLITE_IOERR_SHMMAP, |s| s(real, page, size, extend, out))
}

unsafe extern "C" fn shm_lock(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    let (real, m) = real(file);
    m.xShmLock.map_or(ffi::SQLITE_IOERR_SHMLOCK, |s| s(real, offset, n, flags))
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    let (real, m) = real(file);
    if let Some(b) = m.xShmBarrier {
        b(real)
    }
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    let (real, m) = real(file);
    m.xShmUnmap.map_or(ffi::SQLITE_OK, |u| u(real, delete))
}

unsafe extern "C" fn fetch(file: *mut ffi::sqlite3_file, offset: i64, amt: c_int, out: *mut *mut c_void) -> c_int {
    match written_out(file) {
        Ok((real, m)) => match m.xFetch {
            Some(f) => f(real, offset, amt, out),
            None => {
                *out = null_mut();
                ffi::SQLITE_OK
            }
        },
        Err(rc) => rc,
    }
}

unsafe extern "C" fn unfetch(file: *mut ffi::sqlite3_file, offset: i64, p: *mut c_void) -> c_int {
    let (real, m) = real(file);
    m.xUnfetch.map_or(ffi::SQLITE_OK, |u| u(real, offset, p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    fn open(path: &std::path::Path) -> Connection {
        assert!(register(), "the VFS registers");
        let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), NAME).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;").unwrap();
        configure(&conn).unwrap();
        conn
    }

    /// A database with table `t`, its path, and the writer's connection to it.
    fn fresh() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let w = open(&path);
        w.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)").unwrap();
        (dir, path, w)
    }

    fn assert_intact(conn: &Connection) {
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
        assert_eq!(ok, "ok");
    }

    #[test]
    fn another_connection_reads_every_commit_at_once() {
        let (_dir, path, w) = fresh();
        let r = Connection::open(&path).unwrap();
        for i in 0..200i64 {
            // Large enough to span pages, so a commit is many frames.
            w.execute("INSERT INTO t (k, v) VALUES (?1, zeroblob(?2))", [i, 3000 + i * 7]).unwrap();
            let (n, last): (i64, i64) = r
                .query_row("SELECT COUNT(*), COALESCE(MAX(k), -1) FROM t", [], |row| Ok((row.get(0)?, row.get(1)?)))
                .unwrap();
            assert_eq!((n, last), (i + 1, i), "the reader sees commit {i} as soon as it returned");
        }
        // A checkpoint (synced for real) copies everything, and the database reads back whole.
        let (busy, _, _): (i64, i64, i64) = w
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap();
        assert_eq!(busy, 0);
        assert_intact(&r);
    }

    #[test]
    fn a_commit_of_megabytes_is_written_whole() {
        let (_dir, path, mut w) = fresh();
        let tx = w.transaction().unwrap();
        for i in 0..600i64 {
            tx.execute("INSERT INTO t (k, v) VALUES (?1, randomblob(3000))", [i]).unwrap();
        }
        tx.commit().unwrap();
        let r = Connection::open(&path).unwrap();
        let (n, bytes): (i64, i64) =
            r.query_row("SELECT COUNT(*), SUM(length(v)) FROM t", [], |row| Ok((row.get(0)?, row.get(1)?))).unwrap();
        assert_eq!((n, bytes), (600, 1_800_000));
        assert_intact(&r);
    }

    #[test]
    fn a_rolled_back_transaction_leaves_nothing_and_later_commits_survive_reopening() {
        let (_dir, path, mut w) = fresh();
        // A transaction big enough to spill frames into the WAL before it is rolled back.
        w.execute_batch("PRAGMA cache_size=10").unwrap();
        let tx = w.transaction().unwrap();
        for i in 0..300i64 {
            tx.execute("INSERT INTO t (k, v) VALUES (?1, zeroblob(4000))", [i]).unwrap();
        }
        tx.rollback().unwrap();
        for i in 1000..1050i64 {
            w.execute("INSERT INTO t (k, v) VALUES (?1, zeroblob(100))", [i]).unwrap();
        }
        drop(w);
        // Closed (the last connection checkpoints); reopened on the default VFS.
        let r = Connection::open(&path).unwrap();
        let (n, min): (i64, i64) =
            r.query_row("SELECT COUNT(*), MIN(k) FROM t", [], |row| Ok((row.get(0)?, row.get(1)?))).unwrap();
        assert_eq!((n, min), (50, 1000));
        assert_intact(&r);
    }

    // A recording stand-in for the default VFS's file, to see exactly what reaches it.
    thread_local! {
        static CALLS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    fn calls() -> Vec<String> {
        CALLS.with(|c| std::mem::take(&mut *c.borrow_mut()))
    }
    fn note(s: String) {
        CALLS.with(|c| c.borrow_mut().push(s));
    }
    unsafe extern "C" fn fake_write(_: *mut ffi::sqlite3_file, b: *const c_void, n: c_int, off: i64) -> c_int {
        let bytes = std::slice::from_raw_parts(b.cast::<u8>(), n as usize);
        note(format!("write {off} {}", String::from_utf8_lossy(bytes)));
        ffi::SQLITE_OK
    }
    unsafe extern "C" fn fake_sync(_: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
        note(format!("sync {flags}"));
        ffi::SQLITE_OK
    }
    unsafe extern "C" fn fake_read(_: *mut ffi::sqlite3_file, _: *mut c_void, n: c_int, off: i64) -> c_int {
        note(format!("read {off} {n}"));
        ffi::SQLITE_OK
    }
    unsafe extern "C" fn fake_close(_: *mut ffi::sqlite3_file) -> c_int {
        note("close".into());
        ffi::SQLITE_OK
    }
    static FAKE: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
        iVersion: 1,
        xClose: Some(fake_close),
        xRead: Some(fake_read),
        xWrite: Some(fake_write),
        xTruncate: None,
        xSync: Some(fake_sync),
        xFileSize: None,
        xLock: None,
        xUnlock: None,
        xCheckReservedLock: None,
        xFileControl: None,
        xSectorSize: None,
        xDeviceCharacteristics: None,
        xShmMap: None,
        xShmLock: None,
        xShmBarrier: None,
        xShmUnmap: None,
        xFetch: None,
        xUnfetch: None,
    };

    /// Our file over the recording fake `real`; a WAL (gathering) or not.
    fn over(real: &mut ffi::sqlite3_file, wal: bool) -> File {
        let gathered = if wal { Box::into_raw(Box::<Gathered>::default()) } else { null_mut() };
        File { base: ffi::sqlite3_file { pMethods: &METHODS }, real, gathered }
    }

    #[test]
    fn writes_that_follow_one_another_reach_the_file_as_one_and_in_order() {
        let mut real = ffi::sqlite3_file { pMethods: &FAKE };
        let mut f = over(&mut real, true);
        let file = (&mut f as *mut File).cast::<ffi::sqlite3_file>();
        let put = |s: &str, off: i64| unsafe { write(file, s.as_ptr().cast(), s.len() as c_int, off) };
        calls();
        unsafe {
            // A commit: header, page, header, page; its sync writes them out and does not sync.
            assert_eq!(put("h1", 32), ffi::SQLITE_OK);
            assert_eq!(put("page1", 34), ffi::SQLITE_OK);
            assert_eq!(put("h2", 39), ffi::SQLITE_OK);
            assert_eq!(put("page2", 41), ffi::SQLITE_OK);
            assert!(calls().is_empty(), "nothing reaches the file before the commit ends");
            assert_eq!(sync(file, ffi::SQLITE_SYNC_NORMAL), ffi::SQLITE_OK);
            assert_eq!(calls(), ["write 32 h1page1h2page2"]);
            // A checkpoint's sync (FULL) is a real one.
            assert_eq!(sync(file, ffi::SQLITE_SYNC_FULL), ffi::SQLITE_OK);
            assert_eq!(calls(), ["sync 3"]);
            // A rewrite elsewhere writes out what was gathered first, so the order holds.
            put("h3", 46);
            put("x", 34);
            put("y", 35);
            assert_eq!(calls(), ["write 46 h3"]);
            // A read writes out first.
            let mut buf = [0u8; 4];
            read(file, buf.as_mut_ptr().cast(), 4, 34);
            assert_eq!(calls(), ["write 34 xy", "read 34 4"]);
            put("tail", 48);
            assert_eq!(close(file), ffi::SQLITE_OK);
            assert_eq!(calls(), ["write 48 tail", "close"]);
        }
        assert!(f.gathered.is_null(), "close frees the gathered bytes");
    }

    #[test]
    fn a_large_commit_reaches_the_file_in_writes_the_default_vfs_takes_whole() {
        let mut real = ffi::sqlite3_file { pMethods: &FAKE };
        let mut f = over(&mut real, true);
        let file = (&mut f as *mut File).cast::<ffi::sqlite3_file>();
        let page = "p".repeat(4120);
        calls();
        unsafe {
            for i in 0..100i64 {
                write(file, page.as_ptr().cast(), page.len() as c_int, 32 + i * 4120);
            }
            sync(file, ffi::SQLITE_SYNC_NORMAL);
            close(file);
        }
        let writes: Vec<(i64, usize)> = calls()
            .iter()
            .filter_map(|c| {
                let mut w = c.strip_prefix("write ")?.splitn(2, ' ');
                Some((w.next()?.parse().ok()?, w.next()?.len()))
            })
            .collect();
        assert_eq!(writes.len(), (100 * 4120usize).div_ceil(WRITE_AT_MOST));
        assert!(writes.iter().all(|(_, n)| *n <= 0x1ffff), "{writes:?}");
        let mut at = 32;
        for (off, n) in &writes {
            assert_eq!(*off, at, "the writes follow one another");
            at += *n as i64;
        }
        assert_eq!(at, 32 + 100 * 4120);
    }

    #[test]
    fn a_file_that_is_not_a_wal_is_passed_straight_through() {
        let mut real = ffi::sqlite3_file { pMethods: &FAKE };
        let mut f = over(&mut real, false);
        let file = (&mut f as *mut File).cast::<ffi::sqlite3_file>();
        calls();
        unsafe {
            write(file, "abc".as_ptr().cast(), 3, 0);
            sync(file, ffi::SQLITE_SYNC_NORMAL);
        }
        assert_eq!(calls(), ["write 0 abc", "sync 2"]);
    }
}
