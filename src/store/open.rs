//! Opening the sled database and holding it while the process is busy: the wait on another
//! process's lock, the release after 50 ms idle or as soon as another process waits, and the
//! mapping of sled's failures to [`StoreError`].

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::StoreError;

/// How long an operation waits for another process to release the store before `Busy`.
pub(crate) const BUSY_AFTER: Duration = Duration::from_secs(5);

/// How long a process keeps the store open after its last operation, so that a burst of
/// operations pays one open.
pub(crate) const IDLE_RELEASE: Duration = Duration::from_millis(50);

/// How often the closer of a held store looks for a process waiting its turn and for the end
/// of the idle time.
const CLOSER_POLL: Duration = Duration::from_millis(5);

/// The first pause between two attempts to open sled's database while its own lock is held.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(1);

/// The longest pause between two attempts to open sled's database; pauses double from the
/// first up to this. (Waiting for the store's lock files does not back off: see
/// [`TURN_RETRY_DELAY`].)
const LONGEST_RETRY_DELAY: Duration = Duration::from_millis(50);

/// The start of the message sled 0.34 gives when `flock` on its `db` file would block
/// (config.rs, `try_lock`). sled wraps it in an `io::ErrorKind::Other`, so the text is the
/// only thing that tells contention apart from a real I/O error.
const SLED_LOCK_MESSAGE: &str = "could not acquire lock on";

/// The file in the store directory whose lock makes one process at a time use the store.
const LOCK_FILE: &str = "adbkeys.lock";

/// The file a process holds while it waits for [`LOCK_FILE`], so that turns alternate.
const TURNSTILE_FILE: &str = "adbkeys.turnstile";

/// How the names of sled's snapshot files start (sled 0.34.7, pagecache/snapshot.rs).
const SNAPSHOT_PREFIX: &str = "snap.";

/// How the name of a snapshot file sled has not finished writing ends.
const INTERRUPTED_SNAPSHOT_SUFFIX: &str = ".generating";

/// The pause between two attempts to take the turnstile or the store's lock. It stays the same
/// however long a process has waited: with pauses that grew, a process that had waited long
/// slept through the moments the turnstile was free, and newcomers, still polling fast, took
/// it before it again and again (8 processes inserting at once saw waits of 0.6 to 1.1 s).
const TURN_RETRY_DELAY: Duration = Duration::from_millis(1);

/// The free space an operation needs on the store's file system. sled 0.34 leaves its log
/// unreadable when a write fails for want of space, and it writes while it opens, for reads
/// too; so the store is not opened when less than this is free (sled writes in segments of
/// 512 KiB).
const FREE_SPACE_NEEDED: u64 = 2 * 1024 * 1024;

/// The store of one directory as this process holds it: the open database (while held),
/// the count of opens, and what keeps it open. One per directory and process, shared by every
/// [`super::Store`] handle on that directory.
pub(crate) struct Holder {
    state: Mutex<HolderState>,
    opens: AtomicU64,
}

#[derive(Default)]
struct HolderState {
    held: Option<Held>,
    /// When the last operation ended.
    last_used: Option<Instant>,
    /// How many [`KeepOpenGuard`]s are alive: while any is, idleness does not close the store.
    kept_open: usize,
    /// Whether a closer thread is watching `held`.
    closer_running: bool,
}

/// An open database with the store's lock file held, and the turnstile file (not locked) to
/// see whether another process waits for its turn.
struct Held {
    // Fields drop in order: the database closes before the lock is released.
    db: sled::Db,
    _lock: File,
    turnstile: File,
}

impl std::fmt::Debug for Holder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Holder")
            .field("opens", &self.opens.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Every directory this process has made a store handle for, by canonical path.
static HOLDERS: Mutex<BTreeMap<PathBuf, Arc<Holder>>> = Mutex::new(BTreeMap::new());

impl Holder {
    /// The holder of the store at `path` (canonical, so that two spellings of one directory
    /// share it rather than wait for each other's lock).
    pub(crate) fn for_path(path: &Path) -> Arc<Self> {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let mut holders = HOLDERS.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(holders.entry(key).or_insert_with(|| {
            Arc::new(Self {
                state: Mutex::new(HolderState::default()),
                opens: AtomicU64::new(0),
            })
        }))
    }

    /// How many times this process has opened the database.
    pub(crate) fn open_count(&self) -> u64 {
        self.opens.load(Ordering::Relaxed)
    }

    /// Closes the database and releases the lock now, if held.
    pub(crate) fn release(&self) {
        let mut state = self.lock_state();
        state.held = None;
    }

    /// Keeps the database open, once an operation has opened it, until the guard is dropped,
    /// unless another process waits for its turn.
    pub(crate) fn keep_open(self: &Arc<Self>) -> KeepOpenGuard {
        self.lock_state().kept_open += 1;
        KeepOpenGuard {
            holder: Arc::clone(self),
        }
    }

    fn lock_state(&self) -> MutexGuard<'_, HolderState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Releases every store this process holds; for the end of a process, so that it closes its
/// databases itself rather than leave them to the exit.
pub(crate) fn release_all() {
    let holders: Vec<Arc<Holder>> = HOLDERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .values()
        .cloned()
        .collect();
    for holder in holders {
        holder.release();
    }
}

/// Keeps a store open between operations while alive (see [`super::Store::keep_open`]).
#[must_use = "the store is kept open only while the guard lives"]
pub struct KeepOpenGuard {
    holder: Arc<Holder>,
}

impl std::fmt::Debug for KeepOpenGuard {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("KeepOpenGuard")
            .finish_non_exhaustive()
    }
}

impl Drop for KeepOpenGuard {
    fn drop(&mut self) {
        let mut state = self.holder.lock_state();
        state.kept_open = state.kept_open.saturating_sub(1);
        state.last_used = Some(Instant::now());
    }
}

/// Runs `operation` on the store at `path`: on the database this process holds if it holds
/// it, else opened for it. Afterwards the database stays open for [`IDLE_RELEASE`] in case
/// another operation follows, unless another process waits for its turn or the operation
/// failed for a reason other than a refusal, in which case it is closed at once.
///
/// Waits while another process holds the store (or this process's previous handle is still
/// closing), for at most [`BUSY_AFTER`].
pub(crate) fn with_db<T>(
    holder: &Arc<Holder>,
    path: &Path,
    operation: impl FnOnce(&sled::Db) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut state = holder.lock_state();

    let held = match state.held.take() {
        Some(held) => {
            // The directory can have been replaced and the disk filled since the last
            // operation; both are checked before every operation, as before every open.
            check_directory(path)?;
            check_free_space(path)?;
            held
        }
        None => {
            let started = Instant::now();
            let (lock, turnstile) = lock_store(path, started)?;
            check_free_space(path)?;

            let db = open_waiting(path, started)?;
            holder.opens.fetch_add(1, Ordering::Relaxed);
            Held {
                db,
                _lock: lock,
                turnstile,
            }
        }
    };

    // sled 0.34 can panic on data it cannot make sense of rather than return an error; a
    // damaged store must give an error, so a panic inside the operation becomes `Corrupt`.
    let result = panic::catch_unwind(AssertUnwindSafe(|| operation(&held.db)))
        .unwrap_or_else(|panic| Err(panicked(path, panic.as_ref())));

    let healthy = match &result {
        Ok(_) => true,
        Err(error) => is_refusal(error),
    };
    if healthy && !someone_waits(&held.turnstile) && start_closer(holder, &mut state) {
        state.held = Some(held);
        state.last_used = Some(Instant::now());
    }
    result
}

/// Whether an error is the store refusing a request, which leaves the database as it was.
fn is_refusal(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::QuotaExceeded { .. }
            | StoreError::DuplicateName { .. }
            | StoreError::DuplicateKey { .. }
            | StoreError::NotFound { .. }
            | StoreError::InvalidRecord { .. }
    )
}

/// Whether another process holds the turnstile, that is, waits for the store's lock.
fn someone_waits(turnstile: &File) -> bool {
    match turnstile.try_lock() {
        Ok(()) => {
            let _ = turnstile.unlock();
            false
        }
        Err(TryLockError::WouldBlock) => true,
        // Unable to tell: let the other process have its turn rather than risk starving it.
        Err(TryLockError::Error(_)) => true,
    }
}

/// Makes sure a closer thread watches the held database; false when none can be started,
/// in which case the database must be closed after the operation as it is.
fn start_closer(holder: &Arc<Holder>, state: &mut HolderState) -> bool {
    if state.closer_running {
        return true;
    }

    let watched = Arc::clone(holder);
    let spawned = thread::Builder::new()
        .name("adbkeys-store-closer".to_string())
        .spawn(move || run_closer(&watched));
    state.closer_running = spawned.is_ok();
    state.closer_running
}

/// Closes the held database once it has been idle for [`IDLE_RELEASE`] (and no guard keeps
/// it open), or at once when another process waits for its turn. Ends when nothing is held.
///
/// The thread is never joined: a process that exits while holding the store does not wait
/// for it, and the kernel releases the locks of an ending process (every write was flushed
/// when it returned).
fn run_closer(holder: &Holder) {
    loop {
        thread::sleep(CLOSER_POLL);

        let mut state = holder.lock_state();
        let Some(held) = &state.held else {
            state.closer_running = false;
            return;
        };
        let idle = state.kept_open == 0
            && state
                .last_used
                .is_none_or(|last_used| last_used.elapsed() >= IDLE_RELEASE);
        if idle || someone_waits(&held.turnstile) {
            state.held = None;
            state.closer_running = false;
            return;
        }
    }
}

/// Takes the store's own lock file, waiting while another process holds it; returns it
/// locked, and the turnstile file unlocked.
///
/// sled locks its `db` file only after it has read (and, for a new store, written) its `conf`
/// file, so processes that open a new store at the same moment can read each other's half-written
/// `conf` and fail with "corrupt data". This lock, taken before sled is touched at all, makes the
/// whole open, the operations and the close one process's turn at a time.
///
/// Turns are taken through a turnstile: a waiter holds `adbkeys.turnstile` while it waits for
/// the lock, so a process that has just released the lock cannot take it straight back (it
/// must pass the turnstile first) and a waiting process gets the next turn instead of starving
/// behind a busy one. A process holding the store sees the locked turnstile and releases.
fn lock_store(path: &Path, started: Instant) -> Result<(File, File), StoreError> {
    check_directory(path)?;

    let turnstile = open_lock_file(&path.join(TURNSTILE_FILE))?;
    wait_for_lock(path, &turnstile, started)?;

    let lock = open_lock_file(&path.join(LOCK_FILE))?;
    wait_for_lock(path, &lock, started)?;

    turnstile.unlock().map_err(|source| StoreError::Io {
        path: path.join(TURNSTILE_FILE),
        source,
    })?;
    Ok((lock, turnstile))
}

/// Opens (creating if needed) one of the store's lock files.
fn open_lock_file(lock_path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path)
        .map_err(|source| StoreError::Io {
            path: lock_path.to_path_buf(),
            source,
        })
}

/// Locks `file`, retrying every [`TURN_RETRY_DELAY`]; `Busy` once [`BUSY_AFTER`] has passed
/// since `started`.
fn wait_for_lock(path: &Path, file: &File, started: Instant) -> Result<(), StoreError> {
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {
                if started.elapsed() >= BUSY_AFTER {
                    return Err(StoreError::Busy {
                        path: path.to_path_buf(),
                    });
                }
                thread::sleep(TURN_RETRY_DELAY);
            }
            Err(TryLockError::Error(source)) => {
                return Err(StoreError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
}

/// Opens the database, retrying with growing pauses while its lock is held elsewhere.
fn open_waiting(path: &Path, started: Instant) -> Result<sled::Db, StoreError> {
    remove_interrupted_snapshots(path)?;

    let config = sled::Config::new()
        .path(path)
        .mode(sled::Mode::LowSpace)
        .cache_capacity(8 * 1024 * 1024)
        .flush_every_ms(None);

    let mut delay = FIRST_RETRY_DELAY;
    loop {
        let attempt = panic::catch_unwind(AssertUnwindSafe(|| config.open()))
            .unwrap_or_else(|panic| Err(sled::Error::ReportableBug(panic_text(panic.as_ref()))));

        match attempt {
            Ok(db) => return Ok(db),
            Err(error) if is_lock_contention(&error) => {
                if started.elapsed() >= BUSY_AFTER {
                    return Err(StoreError::Busy {
                        path: path.to_path_buf(),
                    });
                }
                thread::sleep(delay);
                delay = (delay * 2).min(LONGEST_RETRY_DELAY);
            }
            Err(error) => return Err(from_sled(path, error)),
        }
    }
}

/// Removes the snapshot files whose writing was interrupted, so that sled recovers from its
/// last complete snapshot and the log instead of failing on them.
///
/// sled 0.34.7 writes a snapshot only while it opens: to `snap.LSN.generating`, then fsync,
/// then a rename to `snap.LSN`, then it removes the older snapshots. A process killed before
/// the rename leaves the `.generating` file empty, cut short or complete; yet sled reads it as
/// the newest snapshot (its list of snapshot files skips only `.in___motion` files), and an
/// empty or cut-short one makes every later open fail with "corrupt data" (sled issue 1527).
///
/// Removing it is safe: the previous complete snapshot is still there (older ones are removed
/// only after the rename), the interrupted open had not returned, so nothing was written
/// after it, and recovering from that snapshot and the log is what the interrupted open was
/// doing. Called with the store's lock file held, so no other open is writing a snapshot now.
fn remove_interrupted_snapshots(path: &Path) -> Result<(), StoreError> {
    let entries = std::fs::read_dir(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(SNAPSHOT_PREFIX) && name.ends_with(INTERRUPTED_SNAPSHOT_SUFFIX)) {
            continue;
        }

        let snapshot_path = entry.path();
        tracing::warn!(
            path = %snapshot_path.display(),
            "removing a snapshot file whose writing was interrupted"
        );
        std::fs::remove_file(&snapshot_path).map_err(|source| StoreError::Io {
            path: snapshot_path,
            source,
        })?;
    }
    Ok(())
}

/// Refuses to open the store, naming the path, when its file system has less than
/// [`FREE_SPACE_NEEDED`] free for this user.
fn check_free_space(path: &Path) -> Result<(), StoreError> {
    let stats = rustix::fs::statvfs(path).map_err(|error| StoreError::Io {
        path: path.to_path_buf(),
        source: io::Error::from(error),
    })?;
    let free = stats.f_bavail.saturating_mul(stats.f_frsize);
    if free >= FREE_SPACE_NEEDED {
        return Ok(());
    }
    Err(StoreError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(
            io::ErrorKind::StorageFull,
            format!(
                "No space left on device: {} KiB free, adbkeys needs {} KiB to open the store \
                 safely",
                free / 1024,
                FREE_SPACE_NEEDED / 1024
            ),
        ),
    })
}

/// Fails at once, naming the path, when the store directory is missing or is not a directory,
/// rather than letting sled create a fresh empty store in its place.
fn check_directory(path: &Path) -> Result<(), StoreError> {
    let metadata = std::fs::metadata(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if metadata.is_dir() {
        return Ok(());
    }
    Err(StoreError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
    })
}

/// Whether sled failed only because another handle holds the directory's lock.
fn is_lock_contention(error: &sled::Error) -> bool {
    match error {
        sled::Error::Io(io_error) => {
            io_error.kind() == io::ErrorKind::WouldBlock
                || io_error.to_string().starts_with(SLED_LOCK_MESSAGE)
        }
        _ => false,
    }
}

/// A sled failure as a store error naming the path.
pub(crate) fn from_sled(path: &Path, error: sled::Error) -> StoreError {
    let path = path.to_path_buf();
    match error {
        sled::Error::Io(source) => StoreError::Io { path, source },
        sled::Error::Corruption { at, .. } => StoreError::Corrupt {
            path,
            detail: match at {
                Some(pointer) => format!("the database log holds corrupt data at {pointer}"),
                None => "the database log holds corrupt data".to_string(),
            },
        },
        sled::Error::Unsupported(detail) | sled::Error::ReportableBug(detail) => {
            StoreError::Corrupt { path, detail }
        }
        sled::Error::CollectionNotFound(name) => StoreError::Corrupt {
            path,
            detail: format!("missing tree '{}'", String::from_utf8_lossy(&name)),
        },
    }
}

/// A transaction's failure as a store error: its own refusal, or sled's.
pub(crate) fn from_transaction(
    path: &Path,
    error: sled::transaction::TransactionError<StoreError>,
) -> StoreError {
    match error {
        sled::transaction::TransactionError::Abort(refusal) => refusal,
        sled::transaction::TransactionError::Storage(error) => from_sled(path, error),
    }
}

fn panicked(path: &Path, panic: &(dyn std::any::Any + Send)) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: format!(
            "the database failed while reading it: {}",
            panic_text(panic)
        ),
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown failure".to_string()
    }
}
