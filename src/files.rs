//! Files that the CLI and the console read and write for the user: key input read into
//! zeroizing memory, and key files written atomically with an exact mode, never over an
//! existing file unless the caller says so.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

/// The most key input may hold: a 4096-bit PEM private key is about 3 KiB, an `adbkey.pub`
/// 720 bytes.
pub const KEY_INPUT_LIMIT: u64 = 64 * 1024;

/// The mode of a saved private key, as `adb keygen` writes it.
pub const PRIVATE_KEY_MODE: u32 = 0o600;

/// The mode of public files (a `.pub`, an `adb_keys` export), as `adb keygen` writes its
/// `.pub`: nothing in them is secret, and a phone's `adb_keys` must be readable by adbd.
pub const PUBLIC_FILE_MODE: u32 = 0o644;

/// Why key input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read '{}': {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("'{}' is larger than 64 KiB; a key file is a few kilobytes", path.display())]
    TooLarge { path: PathBuf },
}

/// Reads key input: the file at `path`, or stdin when `path` is `-`.
///
/// # Errors
/// As [`read_key_file`].
pub fn read_key_input(path: &Path) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    if path == Path::new("-") {
        read_limited(path, io::stdin().lock())
    } else {
        read_key_file(path)
    }
}

/// Reads a key file into zeroizing memory (it may be a private key).
///
/// # Errors
/// [`ReadError::Io`] naming the path, or [`ReadError::TooLarge`] past [`KEY_INPUT_LIMIT`].
pub fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    let file = File::open(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    read_limited(path, file)
}

fn read_limited(path: &Path, reader: impl Read) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    // Room for the whole input up front, so that no reallocation leaves a copy behind.
    let limit = usize::try_from(KEY_INPUT_LIMIT).unwrap_or(usize::MAX);
    let mut bytes = Zeroizing::new(Vec::with_capacity(limit + 1));
    reader
        .take(KEY_INPUT_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;

    if bytes.len() > limit {
        return Err(ReadError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

/// Whether something (a file, a directory, even a dangling symlink) is at `path`.
pub fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// The path of a key's `.pub` beside it: `phone.adb_key` gives `phone.adb_key.pub`.
pub fn public_key_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Expands a leading `~/`, as typed into the console, to the home directory.
pub fn expand_home(text: &str) -> PathBuf {
    if let Some(rest) = text.strip_prefix("~/")
        && let Some(home) = directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_owned())
    {
        return home.join(rest);
    }
    PathBuf::from(text)
}

/// Why a file could not be written. Each message names the path.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("'{}' already exists", path.display())]
    Exists { path: PathBuf },
    #[error("'{}' is a directory; give the path of a file", path.display())]
    Directory { path: PathBuf },
    #[error("cannot write '{}': {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// Refuses a path that names a directory (an existing one, or any path ending in `/`), before
/// anything is written.
///
/// # Errors
/// [`WriteError::Directory`] naming the path as given.
pub fn refuse_directory(path: &Path) -> Result<(), WriteError> {
    if path.is_dir() || path.as_os_str().as_encoded_bytes().ends_with(b"/") {
        return Err(WriteError::Directory {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// Writes `contents` to `path` with exactly `mode`, atomically and durably. Without
/// `overwrite`, an existing `path` is refused by the final link itself, so no other writer
/// can slip in between a check and the write.
///
/// # Errors
/// [`WriteError::Exists`], [`WriteError::Directory`], or the I/O error with its path.
pub fn write_atomic(
    path: &Path,
    contents: &[u8],
    mode: u32,
    overwrite: bool,
) -> Result<(), WriteError> {
    StagedFile::write(path, contents, mode)?.commit(overwrite)
}

/// A file written and flushed under a temporary name beside its target, not yet in place, so
/// that several files can be written first and put in place together. Dropping it without
/// [`StagedFile::commit`] removes the temporary file.
#[derive(Debug)]
pub struct StagedFile {
    temp: Option<PathBuf>,
    target: PathBuf,
}

impl StagedFile {
    /// Writes `contents` to a new temporary file in the target's directory, gives it exactly
    /// `mode` (whatever the umask) and fsyncs it.
    ///
    /// # Errors
    /// [`WriteError::Directory`] when the target names a directory, else the I/O error with
    /// the target's path.
    pub fn write(target: &Path, contents: &[u8], mode: u32) -> Result<Self, WriteError> {
        refuse_directory(target)?;
        let io_error = |source| WriteError::Io {
            path: target.to_owned(),
            source,
        };

        let (temp, mut file) = create_temp(target, mode).map_err(io_error)?;
        let staged = Self {
            temp: Some(temp),
            target: target.to_owned(),
        };
        file.set_permissions(Permissions::from_mode(mode))
            .and_then(|()| file.write_all(contents))
            .and_then(|()| file.sync_all())
            .map_err(io_error)?;
        Ok(staged)
    }

    /// Moves the file into place: with `replace`, over any existing file (a rename); without,
    /// only if nothing is there (a hard link, which fails on an existing target). Then fsyncs
    /// the directory, so that the new name is durable.
    ///
    /// # Errors
    /// [`WriteError::Exists`] when the target exists and `replace` is false, else the I/O
    /// error with the target's path. The temporary file is removed either way.
    pub fn commit(mut self, replace: bool) -> Result<(), WriteError> {
        let Some(temp) = self.temp.take() else {
            return Ok(());
        };
        let io_error = |source| WriteError::Io {
            path: self.target.clone(),
            source,
        };

        let placed = if replace {
            fs::rename(&temp, &self.target)
        } else {
            place_without_replacing(&temp, &self.target)
        };
        if let Err(error) = placed {
            let _ = fs::remove_file(&temp);
            return Err(if error.kind() == io::ErrorKind::AlreadyExists {
                WriteError::Exists {
                    path: self.target.clone(),
                }
            } else {
                io_error(error)
            });
        }

        File::open(parent_directory(&self.target))
            .and_then(|directory| directory.sync_all())
            .map_err(io_error)
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = fs::remove_file(temp);
        }
    }
}

/// Links `temp` to `target` (failing if `target` exists) and removes `temp`. Where the file
/// system has no hard links, falls back to a rename after a check, which leaves a short window
/// in which a file created by someone else could be replaced.
fn place_without_replacing(temp: &Path, target: &Path) -> io::Result<()> {
    match fs::hard_link(temp, target) {
        Ok(()) => fs::remove_file(temp),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Err(error),
        Err(_) if exists(target) => Err(io::Error::from(io::ErrorKind::AlreadyExists)),
        Err(_) => fs::rename(temp, target),
    }
}

/// A new file beside `target`, named `.NAME.PID.NANOS.N.tmp`, created exclusively with `mode`
/// (which the umask may narrow until the caller sets it).
fn create_temp(target: &Path, mode: u32) -> io::Result<(PathBuf, File)> {
    let file_name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let directory = parent_directory(target);

    let mut attempt = 0;
    loop {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let mut temp_name = OsString::from(".");
        temp_name.push(file_name);
        temp_name.push(format!(".{}.{nanos}.{attempt}.tmp", std::process::id()));
        let temp = directory.join(temp_name);

        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)
        {
            Ok(file) => return Ok((temp, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => {
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

fn parent_directory(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    fn entries(directory: &Path) -> usize {
        fs::read_dir(directory).expect("list").count()
    }

    #[test]
    fn a_written_file_has_its_exact_mode() {
        let dir = tempfile::tempdir().expect("temp dir");
        let private = dir.path().join("adbkey");
        let public = public_key_path(&private);

        write_atomic(&private, b"secret", PRIVATE_KEY_MODE, false).expect("private key");
        write_atomic(&public, b"line", PUBLIC_FILE_MODE, false).expect("public key");

        assert_eq!(mode_of(&private), 0o600);
        assert_eq!(mode_of(&public), 0o644);
        assert_eq!(fs::read(&private).expect("read back"), b"secret");
        assert_eq!(entries(dir.path()), 2, "no temporary file is left");
    }

    #[test]
    fn without_overwrite_an_existing_file_is_refused_and_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("adbkey");
        fs::write(&target, b"old").expect("seed");

        let error = write_atomic(&target, b"new", PRIVATE_KEY_MODE, false).expect_err("refused");

        assert!(matches!(error, WriteError::Exists { .. }), "{error}");
        assert_eq!(
            error.to_string(),
            format!("'{}' already exists", target.display())
        );
        assert_eq!(fs::read(&target).expect("read back"), b"old");
        assert_eq!(entries(dir.path()), 1, "no temporary file is left");
    }

    #[test]
    fn with_overwrite_an_existing_file_is_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("adb_keys");
        fs::write(&target, b"old").expect("seed");

        write_atomic(&target, b"new", PUBLIC_FILE_MODE, true).expect("replace");

        assert_eq!(fs::read(&target).expect("read back"), b"new");
        assert_eq!(mode_of(&target), 0o644);
    }

    #[test]
    fn a_directory_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = write_atomic(dir.path(), b"x", PRIVATE_KEY_MODE, true).expect_err("refused");
        assert!(matches!(error, WriteError::Directory { .. }), "{error}");

        let slash = dir.path().join("new/");
        let error = write_atomic(&slash, b"x", PRIVATE_KEY_MODE, true).expect_err("refused");
        assert!(
            error
                .to_string()
                .ends_with("is a directory; give the path of a file")
        );
        assert_eq!(entries(dir.path()), 0);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("missing").join("k");
        let error = write_atomic(&path, b"x", PRIVATE_KEY_MODE, false).expect_err("must fail");
        assert!(error.to_string().contains("missing/k"), "{error}");
    }

    #[test]
    fn a_dropped_stage_removes_its_temporary_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let staged = StagedFile::write(&dir.path().join("x"), b"data", 0o600).expect("stage");
        assert_eq!(entries(dir.path()), 1);
        drop(staged);
        assert_eq!(entries(dir.path()), 0);
    }

    #[test]
    fn key_input_past_the_limit_is_refused_naming_the_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let limit = usize::try_from(KEY_INPUT_LIMIT).expect("fits");
        let at_limit = dir.path().join("at-limit");
        let past_limit = dir.path().join("past-limit");
        fs::write(&at_limit, vec![b'A'; limit]).expect("seed");
        fs::write(&past_limit, vec![b'A'; limit + 1]).expect("seed");

        assert_eq!(read_key_file(&at_limit).expect("read").len(), limit);
        let error = read_key_file(&past_limit).expect_err("refused");
        assert_eq!(
            error.to_string(),
            format!(
                "'{}' is larger than 64 KiB; a key file is a few kilobytes",
                past_limit.display()
            )
        );
    }

    #[test]
    fn a_missing_key_file_is_an_error_naming_it() {
        let error = read_key_file(Path::new("/nonexistent/adbkey.pub")).expect_err("missing");
        assert!(
            error
                .to_string()
                .starts_with("cannot read '/nonexistent/adbkey.pub': "),
            "{error}"
        );
    }
}
