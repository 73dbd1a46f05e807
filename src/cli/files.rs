//! The CLI's files: reading key input (a file or stdin), and writing files atomically (a
//! temporary file in the same directory, fsync, then a rename or a link that refuses to
//! replace an existing file).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

/// The most a key input may hold; a key file is a few kilobytes.
pub const INPUT_LIMIT: u64 = 1024 * 1024;

/// Why key input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read '{}': {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("'{}' is larger than 1 MiB; a key file is a few kilobytes", path.display())]
    TooLarge { path: PathBuf },
}

/// Reads a key file, or stdin for `-`, into zeroizing memory (it may be a private key).
pub fn read_input(path: &Path) -> Result<Zeroizing<Vec<u8>>, InputError> {
    let read_error = |source| InputError::Read {
        path: path.to_owned(),
        source,
    };

    // Room for the whole input up front, so that no reallocation leaves a copy behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(INPUT_LIMIT as usize + 1));
    if path == Path::new("-") {
        io::stdin()
            .lock()
            .take(INPUT_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
    } else {
        File::open(path)
            .and_then(|file| file.take(INPUT_LIMIT + 1).read_to_end(&mut bytes))
            .map_err(read_error)?;
    }

    if bytes.len() as u64 > INPUT_LIMIT {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

/// Whether something (a file, a directory, even a dangling symlink) is at `path`.
pub fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("'{}' already exists; pass --force to replace it", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write '{}': {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// A file written and flushed under a temporary name beside its target, not yet in place.
/// Dropping it without [`StagedFile::commit`] removes the temporary file.
#[derive(Debug)]
pub struct StagedFile {
    temp: Option<PathBuf>,
    target: PathBuf,
}

impl StagedFile {
    /// Writes `contents` to a new temporary file in the target's directory with `mode`, and
    /// fsyncs it.
    pub fn write(target: &Path, contents: &[u8], mode: u32) -> Result<Self, WriteError> {
        let io_error = |source| WriteError::Io {
            path: target.to_owned(),
            source,
        };

        let (temp, mut file) = create_temp(target, mode).map_err(io_error)?;
        let staged = Self {
            temp: Some(temp),
            target: target.to_owned(),
        };
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .map_err(io_error)?;
        Ok(staged)
    }

    /// Moves the file into place: with `replace`, over any existing file (rename); without,
    /// only if nothing is there (a hard link, which fails on an existing target). Then fsyncs
    /// the directory so that the new name is durable.
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

        sync_directory(&self.target).map_err(io_error)
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

/// A new file beside `target`, named `.NAME.PID.NANOS.tmp`, created exclusively with `mode`.
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
        let mut temp_name = std::ffi::OsString::from(".");
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

fn sync_directory(target: &Path) -> io::Result<()> {
    File::open(parent_directory(target))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn staged_file_lands_with_its_mode_and_leaves_no_temp() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("adbkey");

        StagedFile::write(&target, b"secret", 0o600)
            .and_then(|staged| staged.commit(false))
            .expect("write");

        assert_eq!(fs::read(&target).expect("read back"), b"secret");
        let mode = fs::metadata(&target)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    #[test]
    fn commit_without_replace_refuses_an_existing_file_and_keeps_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("adbkey");
        fs::write(&target, b"old").expect("seed");

        let staged = StagedFile::write(&target, b"new", 0o600).expect("stage");
        let error = staged.commit(false).expect_err("must refuse");

        assert!(matches!(error, WriteError::Exists { .. }), "{error}");
        assert_eq!(fs::read(&target).expect("read back"), b"old");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    #[test]
    fn commit_with_replace_replaces() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("adb_keys");
        fs::write(&target, b"old").expect("seed");

        StagedFile::write(&target, b"new", 0o644)
            .and_then(|staged| staged.commit(true))
            .expect("replace");

        assert_eq!(fs::read(&target).expect("read back"), b"new");
    }

    #[test]
    fn dropped_stage_removes_its_temp_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let staged = StagedFile::write(&dir.path().join("x"), b"data", 0o600).expect("stage");
        drop(staged);
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 0);
    }
}
