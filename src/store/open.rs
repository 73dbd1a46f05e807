//! Opening the sled database for one operation: the wait on another process's lock, and the
//! mapping of sled's failures to [`StoreError`].

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::StoreError;

/// How long an operation waits for another process to release the store before `Busy`.
pub(crate) const BUSY_AFTER: Duration = Duration::from_secs(5);

/// The first pause between two attempts to open a locked store.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(1);

/// The longest pause between two attempts; pauses double from the first up to this.
const LONGEST_RETRY_DELAY: Duration = Duration::from_millis(50);

/// The start of the message sled 0.34 gives when `flock` on its `db` file would block
/// (config.rs, `try_lock`). sled wraps it in an `io::ErrorKind::Other`, so the text is the
/// only thing that tells contention apart from a real I/O error.
const SLED_LOCK_MESSAGE: &str = "could not acquire lock on";

/// The file in the store directory whose lock makes one process at a time use the store.
const LOCK_FILE: &str = "adbkeys.lock";

/// The file a process holds while it waits for [`LOCK_FILE`], so that turns alternate.
const TURNSTILE_FILE: &str = "adbkeys.turnstile";

/// The longest pause of the process next in turn: short, as the turn is its own once the
/// holder's operation (a few milliseconds) ends.
const TURN_RETRY_DELAY: Duration = Duration::from_millis(1);

/// The free space an operation needs on the store's file system. sled 0.34 leaves its log
/// unreadable when a write fails for want of space, and it writes while it opens, for reads
/// too; so the store is not opened when less than this is free (sled writes in segments of
/// 512 KiB).
const FREE_SPACE_NEEDED: u64 = 2 * 1024 * 1024;

/// Serializes the operations of one process, so that its threads queue here rather than spin
/// on the file lock against each other. Held from the open until the database is dropped.
static PROCESS_GATE: Mutex<()> = Mutex::new(());

/// Runs `operation` on the store at `path` opened for it alone, then closes the store.
///
/// Waits while another process holds the store (or this process's previous handle is still
/// closing), for at most [`BUSY_AFTER`].
pub(crate) fn with_db<T>(
    path: &Path,
    operation: impl FnOnce(&sled::Db) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let _gate = PROCESS_GATE.lock().unwrap_or_else(PoisonError::into_inner);

    let started = Instant::now();
    let _lock = lock_store(path, started)?;
    check_free_space(path)?;

    let db = open_waiting(path, started)?;

    // sled 0.34 can panic on data it cannot make sense of rather than return an error; a
    // damaged store must give an error, so a panic inside the operation becomes `Corrupt`.
    let result = panic::catch_unwind(AssertUnwindSafe(|| operation(&db)))
        .unwrap_or_else(|panic| Err(panicked(path, panic.as_ref())));

    drop(db);
    result
}

/// Takes the store's own lock file, waiting while another process holds it.
///
/// sled locks its `db` file only after it has read (and, for a new store, written) its `conf`
/// file, so processes that open a new store at the same moment can read each other's half-written
/// `conf` and fail with "corrupt data". This lock, taken before sled is touched at all, makes the
/// whole open, operation and close one process's turn at a time.
///
/// Turns are taken through a turnstile: a waiter holds `adbkeys.turnstile` while it waits for
/// the lock, so a process that has just released the lock cannot take it straight back (it
/// must pass the turnstile first) and a waiting process gets the next turn instead of starving
/// behind a busy one.
fn lock_store(path: &Path, started: Instant) -> Result<File, StoreError> {
    check_directory(path)?;

    let turnstile = open_lock_file(&path.join(TURNSTILE_FILE))?;
    wait_for_lock(path, &turnstile, started, LONGEST_RETRY_DELAY)?;

    let lock = open_lock_file(&path.join(LOCK_FILE))?;
    wait_for_lock(path, &lock, started, TURN_RETRY_DELAY)?;

    drop(turnstile);
    Ok(lock)
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

/// Locks `file`, retrying with pauses that double up to `longest_delay`; `Busy` once
/// [`BUSY_AFTER`] has passed since `started`.
fn wait_for_lock(
    path: &Path,
    file: &File,
    started: Instant,
    longest_delay: Duration,
) -> Result<(), StoreError> {
    let mut delay = FIRST_RETRY_DELAY.min(longest_delay);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {
                if started.elapsed() >= BUSY_AFTER {
                    return Err(StoreError::Busy {
                        path: path.to_path_buf(),
                    });
                }
                thread::sleep(delay);
                delay = (delay * 2).min(longest_delay);
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
