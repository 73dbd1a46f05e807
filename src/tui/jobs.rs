//! Background work, run on a blocking thread: each [`Job`] becomes one service call, one key
//! generation or one file write, and one [`JobResult`].

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::files::{
    self, PRIVATE_KEY_MODE, PUBLIC_FILE_MODE, StagedFile, WriteError, public_key_path,
    refuse_directory,
};
use crate::keys::generate_key_pair;
use crate::keys::import::ImportInput;
use crate::service::{CreateKeyPairRequest, ImportKeyPairRequest, KeyPairService};
use crate::tui::event::{ImportSource, Job, JobResult, NewKeyPair, WriteOutcome};

/// Runs one job to completion. Blocking: call it from a blocking thread.
pub fn perform(service: &KeyPairService, job: Job) -> JobResult {
    match job {
        Job::List { tenant, request } => {
            let result = service.list_details(&tenant);
            JobResult::Listed {
                tenant,
                request,
                result,
            }
        }
        Job::Tenants => JobResult::Tenants(service.tenants()),
        Job::Generate { generation } => JobResult::Generated {
            generation,
            result: generate_key_pair().map(Box::new),
        },
        Job::Create {
            generation,
            tenant,
            name,
            key,
        } => {
            let request = CreateKeyPairRequest {
                tenant,
                key_pair_name: name,
            };
            JobResult::Created {
                generation,
                result: service.create_key_pair_with(&request, *key).map(NewKeyPair),
            }
        }
        Job::Import {
            tenant,
            name,
            source,
        } => JobResult::Imported(import(service, tenant, name, source)),
        Job::Rename {
            tenant,
            key_pair_id,
            old_name,
            new_name,
        } => {
            let result = service.modify_key_pair_name(&tenant, &key_pair_id, &new_name);
            JobResult::Renamed {
                old_name,
                new_name,
                result,
            }
        }
        Job::Delete {
            tenant,
            key_pair_ids,
        } => JobResult::Deleted {
            count: key_pair_ids.len(),
            result: service.delete_key_pairs(&tenant, &key_pair_ids),
        },
        Job::SavePrivateKey {
            path,
            pem,
            public_line,
            overwrite,
        } => JobResult::SavedPrivateKey(save_private_key(
            &path,
            pem.expose(),
            &public_line,
            overwrite,
        )),
        Job::Export {
            tenant,
            key_pair_ids,
            path,
            overwrite,
        } => JobResult::Exported(export(service, &tenant, &key_pair_ids, &path, overwrite)),
    }
}

fn import(
    service: &KeyPairService,
    tenant: String,
    name: String,
    source: ImportSource,
) -> Result<crate::service::KeyPairSummary, String> {
    let body: Zeroizing<Vec<u8>> = match source {
        ImportSource::Pasted(text) => Zeroizing::new(text.expose().as_bytes().to_vec()),
        ImportSource::File(path) => {
            files::read_key_file(&path).map_err(|error| error.to_string())?
        }
    };
    let input = if looks_like_private_key(&body) {
        ImportInput::PrivateKey
    } else {
        ImportInput::PublicKey
    };
    let request = ImportKeyPairRequest {
        tenant,
        key_pair_name: name,
        input,
        body,
    };
    service
        .import_key_pair(&request)
        .map_err(|error| error.message)
}

/// Whether import input is a private key PEM rather than an `adbkey.pub` text.
pub fn looks_like_private_key(body: &[u8]) -> bool {
    body.windows(b"PRIVATE KEY-----".len())
        .any(|window| window == b"PRIVATE KEY-----")
}

fn save_private_key(
    path: &Path,
    pem: &str,
    public_line: &str,
    overwrite: bool,
) -> Result<WriteOutcome, String> {
    let public_path = public_key_path(path);
    for candidate in [path, public_path.as_path()] {
        refuse_directory(candidate).map_err(|error| error.to_string())?;
    }
    if !overwrite {
        let existing: Vec<PathBuf> = [path, public_path.as_path()]
            .into_iter()
            .filter(|candidate| files::exists(candidate))
            .map(Path::to_path_buf)
            .collect();
        if !existing.is_empty() {
            return Ok(WriteOutcome::Exists(existing));
        }
    }

    // Both files are written before either is put in place, so that a failure to write leaves
    // neither. The `.pub` line has no final newline, as `adb keygen` and the CLI's
    // `create --save-private` write it.
    let private_file = StagedFile::write(path, pem.as_bytes(), PRIVATE_KEY_MODE)
        .map_err(|error| error.to_string())?;
    let public_file = StagedFile::write(&public_path, public_line.as_bytes(), PUBLIC_FILE_MODE)
        .map_err(|error| error.to_string())?;
    private_file.commit(overwrite).map_err(placing_failure)?;
    public_file.commit(overwrite).map_err(|error| {
        // The key is still on screen: its file goes again rather than stay without its `.pub`.
        let _ = std::fs::remove_file(path);
        placing_failure(error)
    })?;
    Ok(WriteOutcome::Written(vec![path.to_owned(), public_path]))
}

fn export(
    service: &KeyPairService,
    tenant: &str,
    key_pair_ids: &[String],
    path: &Path,
    overwrite: bool,
) -> Result<WriteOutcome, String> {
    refuse_directory(path).map_err(|error| error.to_string())?;
    if !overwrite && files::exists(path) {
        return Ok(WriteOutcome::Exists(vec![path.to_owned()]));
    }

    let text = service
        .export_adb_keys(tenant, key_pair_ids)
        .map_err(|error| error.message)?;
    write_or_exists(path, text.as_bytes(), PUBLIC_FILE_MODE, overwrite)?;
    Ok(WriteOutcome::Written(vec![path.to_owned()]))
}

fn write_or_exists(path: &Path, bytes: &[u8], mode: u32, overwrite: bool) -> Result<(), String> {
    files::write_atomic(path, bytes, mode, overwrite).map_err(placing_failure)
}

/// The message for a file that could not be put in place: one that appeared after the check
/// for existing files is said to have appeared.
fn placing_failure(error: WriteError) -> String {
    match error {
        WriteError::Exists { .. } => {
            format!("{error}; it appeared while saving, nothing was overwritten")
        }
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn private_key_pem_is_recognised_by_its_armour() {
        assert!(looks_like_private_key(b"-----BEGIN PRIVATE KEY-----\nMII"));
        assert!(looks_like_private_key(
            b"-----BEGIN RSA PRIVATE KEY-----\nMII"
        ));
        assert!(!looks_like_private_key(b"QAAAAFx1 user@host\n"));
    }

    #[test]
    fn saving_writes_both_files_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("k.adb_key");

        let first = save_private_key(&path, "PEM\n", "LINE c", false).expect("save");
        assert_eq!(
            first,
            WriteOutcome::Written(vec![path.clone(), dir.path().join("k.adb_key.pub")])
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("k.adb_key.pub")).expect("pub"),
            "LINE c"
        );

        let second = save_private_key(&path, "OTHER\n", "LINE d", false).expect("no error");
        assert_eq!(
            second,
            WriteOutcome::Exists(vec![path.clone(), public_key_path(&path)])
        );
        assert_eq!(fs::read_to_string(&path).expect("pem"), "PEM\n");

        save_private_key(&path, "OTHER\n", "LINE d", true).expect("overwrite");
        assert_eq!(fs::read_to_string(&path).expect("pem"), "OTHER\n");
    }
}
