//! One function per subcommand: build the request, call the service, print the answer.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;

use serde::Serialize;

use super::output::{self, DataDocument, PageDocument, RequestDocument, print_json};
use super::{Cli, Command, CreateArgs, ExportArgs, Failure, FindArgs, ImportArgs, ListArgs};
use crate::error::{ApiError, ErrorCode};
use crate::files::{
    self, PRIVATE_KEY_MODE, PUBLIC_FILE_MODE, StagedFile, WriteError, public_key_path,
};
use crate::keys::import::ImportInput;
use crate::service::{
    CreateKeyPairRequest, CreatedKeyPair, DescribeKeyPairsRequest, ImportKeyPairRequest,
    KeyPairService, KeyPairSummary,
};
use crate::store::Store;

/// The page size used to gather every match for a table.
const TABLE_PAGE_SIZE: u32 = 100;

/// Runs one subcommand against the store.
pub fn run(cli: &Cli, command: &Command, store: Store) -> Result<(), Failure> {
    let service = KeyPairService::new(store);
    let result = match command {
        Command::Create(args) => create(cli, &service, args),
        Command::Import(args) => import(cli, &service, args),
        Command::List(args) => list(cli, &service, args),
        Command::Show { id } => show(cli, &service, id),
        Command::Delete { ids, yes } => delete(cli, &service, ids, *yes),
        Command::Rename { id, new_name } => rename(cli, &service, id, new_name),
        Command::Tenants => tenants(cli, &service),
        Command::ExportAdbKeys(args) => export_adb_keys(cli, &service, args),
        Command::Find(args) => find(cli, &service, args),
        Command::Tui => Err(Failure::Usage(
            "tui: the console is not a batch command".to_owned(),
        )),
    };

    // The command is done: close the store now rather than leave it to the exit.
    service.store().release();
    result
}

fn create(cli: &Cli, service: &KeyPairService, args: &CreateArgs) -> Result<(), Failure> {
    let request = CreateKeyPairRequest {
        tenant: cli.tenant.clone(),
        key_pair_name: args.name.clone(),
    };
    let created = match &args.save_private {
        None => service.create_key_pair(&request)?,
        Some(path) => create_and_save(service, &request, path, args.force)?,
    };

    if cli.json {
        return print_json(&DataDocument::new(&created));
    }
    let summary = format!(
        "created key pair '{}' ({}) in tenant '{}'\n",
        created.key_pair_name, created.key_pair_id, cli.tenant
    );
    match &args.save_private {
        Some(path) => {
            let path = path.display();
            output::write_stdout(
                format!(
                    "{summary}private key: '{path}' (mode 0600)\npublic key:  '{path}.pub'\n\
                     connect with: ADB_VENDOR_KEYS='{path}' adb connect HOST:PORT\n"
                )
                .as_bytes(),
            )
        }
        None => {
            eprintln!("{summary}the private key follows; it is shown once and not stored");
            output::write_stdout(created.private_key_body.as_bytes())
        }
    }
}

/// Creates a key pair and saves it as FILE and FILE.pub. The private key is written to a
/// temporary file before the key pair is stored, and both files are put in place after; if
/// that fails, the key pair is deleted again, so a stored key never lacks its private half.
fn create_and_save(
    service: &KeyPairService,
    request: &CreateKeyPairRequest,
    path: &Path,
    force: bool,
) -> Result<CreatedKeyPair, Failure> {
    let public_path = public_key_path(path);
    for target in [path, public_path.as_path()] {
        files::refuse_directory(target).map_err(|error| write_failure("create", error))?;
        if !force && files::exists(target) {
            return Err(write_failure(
                "create",
                WriteError::Exists {
                    path: target.to_owned(),
                },
            ));
        }
    }

    let generated = service.precheck_and_generate(request)?;
    let private_file = StagedFile::write(path, generated.private_pem.as_bytes(), PRIVATE_KEY_MODE)
        .map_err(|error| write_failure("create", error))?;

    let created = service.create_key_pair_with(request, generated)?;
    let placed = StagedFile::write(
        &public_path,
        created.public_key_line.as_bytes(),
        PUBLIC_FILE_MODE,
    )
    .and_then(|public_file| {
        private_file.commit(force)?;
        public_file.commit(force).inspect_err(|_| {
            let _ = std::fs::remove_file(path);
        })
    });
    match placed {
        Ok(()) => Ok(created),
        Err(error) => Err(roll_back_create(service, request, &created, error)),
    }
}

/// Deletes a key pair whose private key could not be saved, and says what happened.
fn roll_back_create(
    service: &KeyPairService,
    request: &CreateKeyPairRequest,
    created: &CreatedKeyPair,
    error: WriteError,
) -> Failure {
    let ids = [created.key_pair_id.clone()];
    match service.delete_key_pairs(&request.tenant, &ids) {
        Ok(()) => match error {
            WriteError::Io { .. } => Failure::Api(ApiError::new(
                ErrorCode::InternalError,
                format!("create: {error}; the key pair was not kept"),
            )),
            WriteError::Exists { .. } | WriteError::Directory { .. } => {
                write_failure("create", error)
            }
        },
        Err(delete_error) => Failure::Api(ApiError::new(
            ErrorCode::InternalError,
            format!(
                "create: {error}; key pair '{}' was stored but its private key is lost, and \
                 deleting it failed: {}",
                created.key_pair_id, delete_error.message
            ),
        )),
    }
}

/// An existing file (the caller did not pass --force) or a directory given as a file is a
/// usage error; any other failure to write is an internal error.
fn write_failure(operation: &str, error: WriteError) -> Failure {
    match error {
        WriteError::Exists { .. } => {
            Failure::Usage(format!("{operation}: {error}; pass --force to replace it"))
        }
        WriteError::Directory { .. } => Failure::Usage(format!("{operation}: {error}")),
        WriteError::Io { .. } => Failure::Api(ApiError::new(
            ErrorCode::InternalError,
            format!("{operation}: {error}"),
        )),
    }
}

fn import(cli: &Cli, service: &KeyPairService, args: &ImportArgs) -> Result<(), Failure> {
    let (input, path) = match (&args.public_key, &args.private_key) {
        (Some(path), None) => (ImportInput::PublicKey, path),
        (None, Some(path)) => (ImportInput::PrivateKey, path),
        _ => {
            return Err(Failure::Usage(
                "import: give exactly one of --public-key FILE and --private-key FILE".to_owned(),
            ));
        }
    };
    let body = files::read_key_input(path).map_err(|error| {
        ApiError::new(ErrorCode::InvalidPublicKeyBody, format!("import: {error}"))
    })?;

    let request = ImportKeyPairRequest {
        tenant: cli.tenant.clone(),
        key_pair_name: args.name.clone(),
        input,
        body,
    };
    let imported = service.import_key_pair(&request)?;
    drop(request);

    if cli.json {
        return print_json(&DataDocument::new(&imported));
    }
    output::write_stdout(
        format!(
            "imported key pair '{}' ({}) into tenant '{}'\n",
            imported.key_pair_name, imported.key_pair_id, cli.tenant
        )
        .as_bytes(),
    )
}

fn list(cli: &Cli, service: &KeyPairService, args: &ListArgs) -> Result<(), Failure> {
    let max_results = args
        .max_results
        .map(|n| {
            u32::try_from(n).map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidMaxResults,
                    format!("list: max results '{n}' is not between 1 and 100"),
                )
            })
        })
        .transpose()?;
    let mut request = DescribeKeyPairsRequest {
        tenant: cli.tenant.clone(),
        key_pair_name: args.name.clone(),
        key_pair_ids: args.ids.clone(),
        max_results,
        next_token: args.next_token.clone(),
    };

    if cli.json {
        let page = service.describe_key_pairs(&request)?;
        return print_json(&PageDocument {
            next_token: page.next_token,
            data: page.data,
            total_count: page.total_count,
            request_id: crate::rules::new_request_id(),
        });
    }

    // A person sees every match, unless they asked for one page.
    let one_page = args.max_results.is_some() || args.next_token.is_some();
    if !one_page {
        request.max_results = Some(TABLE_PAGE_SIZE);
    }
    let mut rows: Vec<KeyPairSummary> = Vec::new();
    let next_token = loop {
        let page = service.describe_key_pairs(&request)?;
        rows.extend(page.data);
        if one_page || page.next_token.is_empty() {
            break page.next_token;
        }
        request.next_token = Some(page.next_token);
    };

    if rows.is_empty() {
        eprintln!("no key pairs match in tenant '{}'", cli.tenant);
    } else {
        let rows: Vec<Vec<String>> = rows
            .into_iter()
            .map(|row| vec![row.key_pair_id, row.key_pair_name, row.gmt_created])
            .collect();
        output::write_stdout(output::table(&["ID", "NAME", "CREATED"], &rows).as_bytes())?;
    }
    if !next_token.is_empty() {
        eprintln!("more key pairs follow: --next-token {next_token}");
    }
    Ok(())
}

fn show(cli: &Cli, service: &KeyPairService, id: &str) -> Result<(), Failure> {
    let detail = service.show_key_pair(&cli.tenant, id)?;
    if cli.json {
        return print_json(&DataDocument::new(&detail));
    }

    let text = format!(
        "KeyPairId          {}\nKeyPairName        {}\nGmtCreated         {}\n\
         Source             {}\nFingerprintMd5     {}\nFingerprintSha256  {}\n\
         PublicKeyBody      {}\n",
        detail.key_pair_id,
        detail.key_pair_name,
        detail.gmt_created,
        detail.source,
        detail.fingerprint_md5,
        detail.fingerprint_sha256,
        detail.public_key_body,
    );
    output::write_stdout(text.as_bytes())
}

fn delete(cli: &Cli, service: &KeyPairService, ids: &[String], yes: bool) -> Result<(), Failure> {
    let mut unique_ids: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique_ids.contains(id) {
            unique_ids.push(id.clone());
        }
    }

    if !yes {
        confirm_delete(cli, service, &unique_ids)?;
    }
    service.delete_key_pairs(&cli.tenant, &unique_ids)?;

    if cli.json {
        return print_json(&RequestDocument::new());
    }
    output::write_stdout(
        format!(
            "deleted {} key pair(s) from tenant '{}'\n",
            unique_ids.len(),
            cli.tenant
        )
        .as_bytes(),
    )
}

/// Asks the person at the terminal; without a terminal, refuses (a script must say --yes).
fn confirm_delete(cli: &Cli, service: &KeyPairService, ids: &[String]) -> Result<(), Failure> {
    if !io::stdin().is_terminal() {
        return Err(Failure::Usage(
            "delete: stdin is not a terminal, so the deletion cannot be confirmed; pass --yes \
             to delete without asking"
                .to_owned(),
        ));
    }

    let details = service.list_details(&cli.tenant)?;
    let mut lines = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(detail) = details.iter().find(|detail| &detail.key_pair_id == id) else {
            return Err(Failure::Api(ApiError::new(
                ErrorCode::KeyPairNotFound,
                format!("delete: no key pair '{id}' in tenant '{}'", cli.tenant),
            )));
        };
        lines.push(format!(
            "  {}  '{}'\n",
            detail.key_pair_id, detail.key_pair_name
        ));
    }

    let mut stderr = io::stderr().lock();
    let _ = write!(
        stderr,
        "delete {} key pair(s) from tenant '{}'?\n{}phones that trust them will refuse their \
         keys once their adb_keys is updated [y/N] ",
        ids.len(),
        cli.tenant,
        lines.concat()
    );
    let _ = stderr.flush();

    let mut answer = String::new();
    let _ = io::stdin().lock().read_line(&mut answer);
    let answer = answer.trim().to_ascii_lowercase();
    if answer == "y" || answer == "yes" {
        Ok(())
    } else {
        Err(Failure::Usage(
            "delete: not confirmed; nothing was deleted".to_owned(),
        ))
    }
}

fn rename(cli: &Cli, service: &KeyPairService, id: &str, new_name: &str) -> Result<(), Failure> {
    service.modify_key_pair_name(&cli.tenant, id, new_name)?;

    if cli.json {
        return print_json(&RequestDocument::new());
    }
    output::write_stdout(format!("renamed key pair {id} to '{new_name}'\n").as_bytes())
}

fn tenants(cli: &Cli, service: &KeyPairService) -> Result<(), Failure> {
    let tenants = service.tenants()?;
    if cli.json {
        return print_json(&DataDocument::new(&tenants));
    }

    if tenants.is_empty() {
        eprintln!("no tenants yet: the store holds no key pairs");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = tenants
        .into_iter()
        .map(|tenant| {
            vec![
                tenant.tenant,
                tenant.key_pair_count.to_string(),
                tenant.quota.to_string(),
            ]
        })
        .collect();
    output::write_stdout(output::table(&["TENANT", "KEY PAIRS", "QUOTA"], &rows).as_bytes())
}

/// export-adb-keys' `Data` with --json.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ExportedAdbKeys {
    key_pair_count: usize,
    adb_keys: String,
}

fn export_adb_keys(cli: &Cli, service: &KeyPairService, args: &ExportArgs) -> Result<(), Failure> {
    if let Some(path) = &args.output {
        files::refuse_directory(path).map_err(|error| write_failure("export-adb-keys", error))?;
        if !args.force && files::exists(path) {
            return Err(write_failure(
                "export-adb-keys",
                WriteError::Exists { path: path.clone() },
            ));
        }
    }

    let adb_keys = service.export_adb_keys(&cli.tenant, &args.ids)?;
    let key_pair_count = adb_keys.lines().count();
    if let Some(path) = &args.output {
        files::write_atomic(path, adb_keys.as_bytes(), PUBLIC_FILE_MODE, args.force)
            .map_err(|error| write_failure("export-adb-keys", error))?;
    }

    if cli.json {
        return print_json(&DataDocument::new(ExportedAdbKeys {
            key_pair_count,
            adb_keys,
        }));
    }
    match &args.output {
        Some(path) => output::write_stdout(
            format!(
                "wrote {key_pair_count} public key(s) of tenant '{}' to '{}'\n",
                cli.tenant,
                path.display()
            )
            .as_bytes(),
        ),
        None => output::write_stdout(adb_keys.as_bytes()),
    }
}

/// find's `Data` entries.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FoundKeyPair {
    tenant: String,
    key_pair_id: String,
    key_pair_name: String,
}

fn find(cli: &Cli, service: &KeyPairService, args: &FindArgs) -> Result<(), Failure> {
    let pem = files::read_key_input(&args.private_key).map_err(|error| {
        ApiError::new(ErrorCode::InvalidPublicKeyBody, format!("find: {error}"))
    })?;
    let tenant = (!args.all_tenants).then_some(cli.tenant.as_str());
    let records = service.find_by_private_key(tenant, &pem)?;
    drop(pem);

    let found: Vec<FoundKeyPair> = records
        .into_iter()
        .map(|record| FoundKeyPair {
            tenant: record.tenant,
            key_pair_id: record.key_pair_id,
            key_pair_name: record.key_pair_name,
        })
        .collect();
    if cli.json {
        return print_json(&DataDocument::new(&found));
    }

    if found.is_empty() {
        match tenant {
            Some(tenant) => eprintln!("no key pair in tenant '{tenant}' holds this key"),
            None => eprintln!("no key pair in any tenant holds this key"),
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = found
        .into_iter()
        .map(|found| vec![found.tenant, found.key_pair_id, found.key_pair_name])
        .collect();
    output::write_stdout(output::table(&["TENANT", "ID", "NAME"], &rows).as_bytes())
}
