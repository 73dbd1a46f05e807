//! Files the console writes for the user (a private key, its `.pub`, an `adb_keys` export):
//! atomically (temp file in the same directory, fsync, then link or rename) with a given mode,
//! and never over an existing file unless overwriting was confirmed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why a file could not be written. Messages name the path.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("'{}' already exists", path.display())]
    Exists { path: PathBuf },
    #[error("'{}' is a directory; type the path of a file", path.display())]
    Directory { path: PathBuf },
    #[error("cannot write '{}': {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Refuses a path that names a directory (an existing one, or any path ending in `/`), before
/// anything is written.
///
/// # Errors
/// [`WriteError::Directory`] naming the path as typed.
pub fn refuse_directory(path: &Path) -> Result<(), WriteError> {
    if path.is_dir() || path.as_os_str().as_encoded_bytes().ends_with(b"/") {
        return Err(WriteError::Directory {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// Writes `bytes` to `path` with `mode`, atomically. Without `overwrite`, an existing `path`
/// is refused (checked by the final hard link itself, so no other writer can slip in between).
///
/// # Errors
/// [`WriteError::Exists`] when `path` exists and `overwrite` is false,
/// [`WriteError::Directory`] when it names a directory, else the I/O error with the path it
/// concerns.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    overwrite: bool,
) -> Result<(), WriteError> {
    refuse_directory(path)?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| WriteError::Io {
            path: path.to_owned(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
        })?
        .to_string_lossy()
        .into_owned();

    let (temp_path, mut file) = create_temp(&directory, &file_name, mode)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_error(&temp_path));
    drop(file);
    if let Err(error) = written {
        let _ = fs::remove_file(&temp_path);
        return Err(error);
    }

    let placed = if overwrite {
        fs::rename(&temp_path, path)
    } else {
        fs::hard_link(&temp_path, path).and_then(|()| fs::remove_file(&temp_path))
    };
    if let Err(source) = placed {
        let _ = fs::remove_file(&temp_path);
        if source.kind() == io::ErrorKind::AlreadyExists {
            return Err(WriteError::Exists {
                path: path.to_owned(),
            });
        }
        return Err(WriteError::Io {
            path: path.to_owned(),
            source,
        });
    }

    File::open(&directory)
        .and_then(|handle| handle.sync_all())
        .map_err(io_error(&directory))
}

fn create_temp(
    directory: &Path,
    file_name: &str,
    mode: u32,
) -> Result<(PathBuf, File), WriteError> {
    let mut last_error = None;
    for attempt in 0..16_u32 {
        let suffix = format!("{:x}{attempt}", std::process::id());
        let temp_path = directory.join(format!(".{file_name}.{suffix}.tmp"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp_path)
        {
            Ok(file) => return Ok((temp_path, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last_error = Some(error),
            Err(source) => {
                return Err(WriteError::Io {
                    path: temp_path,
                    source,
                });
            }
        }
    }
    Err(WriteError::Io {
        path: directory.to_owned(),
        source: last_error.unwrap_or_else(|| io::Error::other("no free temporary name")),
    })
}

/// `path` with `suffix` appended to its file name: `key.adbkey` → `key.adbkey.pub`.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Expands a leading `~/` to the home directory.
pub fn expand_home(text: &str) -> PathBuf {
    if let Some(rest) = text.strip_prefix("~/")
        && let Some(home) = directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_owned())
    {
        return home.join(rest);
    }
    PathBuf::from(text)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn writes_with_the_mode_and_refuses_an_existing_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("k.adbkey");

        write_atomic(&path, b"one", 0o600, false).expect("first write");
        let mode = fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let refused = write_atomic(&path, b"two", 0o600, false);
        assert!(matches!(refused, Err(WriteError::Exists { .. })));
        assert_eq!(fs::read(&path).expect("read"), b"one");

        write_atomic(&path, b"two", 0o600, true).expect("overwrite");
        assert_eq!(fs::read(&path).expect("read"), b"two");

        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("missing").join("k");
        let error = write_atomic(&path, b"x", 0o600, false).expect_err("must fail");
        assert!(error.to_string().contains("missing"), "{error}");
    }
}
