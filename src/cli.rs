//! The scriptable command line: clap definitions, one function per subcommand, and the JSON
//! and exit-code contract (docs/cli.md).

mod commands;
mod output;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::error::ApiError;
use crate::rules::DEFAULT_TENANT;
use crate::store::Store;
use crate::tui::{ClipboardMode, ConsoleOptions};

/// The exit code of a usage error (clap uses it too).
pub const EXIT_USAGE: u8 = 2;

/// adbkeys: ADB key pairs for cloud phones, per tenant, with the cloud API's rules.
///
/// Without a subcommand it opens the console.
#[derive(Debug, Parser)]
#[command(name = "adbkeys", version, max_term_width = 100)]
pub struct Cli {
    /// The store directory [default: $XDG_DATA_HOME/adbkeys]
    #[arg(long, global = true, env = "ADBKEYS_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,

    /// The tenant to work in
    #[arg(
        long,
        global = true,
        env = "ADBKEYS_TENANT",
        default_value = DEFAULT_TENANT,
        value_name = "NAME"
    )]
    pub tenant: String,

    /// Print exactly one JSON document on stdout, also for errors
    #[arg(long, global = true)]
    pub json: bool,

    /// How the console copies to the clipboard: auto, osc52, system or off
    #[arg(
        long,
        global = true,
        env = "ADBKEYS_CLIPBOARD",
        default_value = "auto",
        value_name = "MODE"
    )]
    pub clipboard: ClipboardMode,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands, one per API operation (and the console).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a key pair (CreateKeyPair); the private key is shown or saved once, never stored
    Create(CreateArgs),
    /// Import a public key made elsewhere, e.g. by `adb keygen` (ImportKeyPair)
    Import(ImportArgs),
    /// List key pairs, oldest first (DescribeKeyPairs)
    List(ListArgs),
    /// Show one key pair with its public key and fingerprints
    Show {
        /// The KeyPairId
        id: String,
    },
    /// Delete key pairs, all or none (DeleteKeyPairs)
    Delete {
        /// The KeyPairIds
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
        /// Delete without asking (required when stdin is not a terminal)
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Rename a key pair (ModifyKeyPairName)
    Rename {
        /// The KeyPairId
        id: String,
        /// The new KeyPairName
        new_name: String,
    },
    /// List the tenants with their key-pair counts and quota
    Tenants,
    /// Write the tenant's public keys as an adb_keys file, as a phone's adbd reads it
    ExportAdbKeys(ExportArgs),
    /// Find the key pairs whose public key belongs to a private key file
    Find(FindArgs),
    /// Open the console (the default)
    Tui,
}

impl Command {
    /// The subcommand as typed, which starts its error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Create(_) => "create",
            Self::Import(_) => "import",
            Self::List(_) => "list",
            Self::Show { .. } => "show",
            Self::Delete { .. } => "delete",
            Self::Rename { .. } => "rename",
            Self::Tenants => "tenants",
            Self::ExportAdbKeys(_) => "export-adb-keys",
            Self::Find(_) => "find",
            Self::Tui => "tui",
        }
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The KeyPairName
    pub name: String,
    /// Also write the private key to FILE (mode 0600) and its public key to FILE.pub
    #[arg(long, value_name = "FILE")]
    pub save_private: Option<PathBuf>,
    /// Let --save-private replace FILE and FILE.pub
    #[arg(long, requires = "save_private")]
    pub force: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("key").required(true).args(["public_key", "private_key"])))]
pub struct ImportArgs {
    /// The KeyPairName
    pub name: String,
    /// An adbkey.pub file ('-' for stdin)
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// A private key PEM file ('-' for stdin); only its public half is kept
    #[arg(long, value_name = "FILE")]
    pub private_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this KeyPairName, or a glob when it contains '*'
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Only this KeyPairId (repeatable)
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// Key pairs per page, 1-100 [default: 10 with --json, every match without]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub max_results: Option<i64>,
    /// The NextToken of the previous page
    #[arg(long, value_name = "TOKEN")]
    pub next_token: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to FILE atomically instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Let --output replace an existing FILE
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Only this KeyPairId (repeatable)
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct FindArgs {
    /// The private key PEM file ('-' for stdin); it is only read
    #[arg(long, value_name = "FILE")]
    pub private_key: PathBuf,
    /// Search every tenant, not only --tenant
    #[arg(long)]
    pub all_tenants: bool,
}

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// An API error: reported as JSON with --json, exit code by its code.
    Api(ApiError),
    /// A usage error found after parsing (e.g. an existing file without --force): a message on
    /// stderr and exit code 2, like clap's own usage errors.
    Usage(String),
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

/// Runs a parsed command line: a subcommand, or the console when there is none.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        None | Some(Command::Tui) => run_console(&cli),
        Some(ref command) => {
            let outcome = store_path(&cli)
                .and_then(|path| open_store(command, &path))
                .and_then(|store| commands::run(&cli, command, store));
            match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(failure) => output::report_failure(cli.json, failure),
            }
        }
    }
}

/// Runs the console; without a terminal on stdin and stdout (a pipe, a file, /dev/null) it
/// does not start, so nothing meant for a screen reaches a script's output.
fn run_console(cli: &Cli) -> ExitCode {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        eprintln!("adbkeys: the console needs a terminal; use a subcommand, see --help");
        return ExitCode::from(2);
    }

    let store = match store_path(cli) {
        Ok(store) => store,
        Err(failure) => return output::report_failure(false, failure),
    };

    let options = ConsoleOptions {
        store,
        tenant: cli.tenant.clone(),
        clipboard: cli.clipboard,
    };
    match crate::tui::run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("adbkeys: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--store`, else `$ADBKEYS_STORE` (clap reads both), else `$XDG_DATA_HOME/adbkeys`.
fn store_path(cli: &Cli) -> Result<PathBuf, Failure> {
    if let Some(path) = &cli.store {
        return Ok(path.clone());
    }
    Store::default_path().ok_or_else(|| {
        Failure::Usage(
            "no data directory found for the store (is HOME set?); pass --store DIR".to_owned(),
        )
    })
}

fn open_store(command: &Command, path: &std::path::Path) -> Result<Store, Failure> {
    Store::new(path).map_err(|error| {
        Failure::Api(ApiError::new(
            crate::error::ErrorCode::InternalError,
            format!("{}: {error}", command.name()),
        ))
    })
}
