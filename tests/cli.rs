//! The CLI's contract, checked on the built binary: JSON fields and their order, identifier
//! and timestamp forms, exit codes, the quota and name uniqueness under concurrent processes,
//! saved private keys against the real `adb`, and no private key at rest in the store.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Barrier;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::BoxedUint;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use serde_json::Value;

use adbkeys::keys::AdbPublicKey;

const CASE_PRIVATE_KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cli/adbkey");
const CASE_PUBLIC_KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cli/adbkey.pub");
const CASE_OPENSSH_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/cli/adbkey.pub.openssh"
);
/// The fingerprints of adbkey.pub, as tests/data/cli/README.md gives them.
const CASE_MD5: &str = "10:57:97:18:C7:7C:68:7E:70:97:99:32:E8:42:1A:5A";
const CASE_SHA256: &str = "SHA256:3YLpHFMEwHuy3l6tWgCxMOEUFQiXlZxVkaapfp9+bVI";

// ---------------------------------------------------------------------------------------------
// Running the binary

/// A temporary store and a temporary HOME, so that nothing outside the test is touched.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("creates a temporary directory");
        fs::create_dir(dir.path().join("home")).expect("creates the temporary HOME");
        Self { dir }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_adbkeys"));
        command
            .arg("--store")
            .arg(self.store())
            .args(args)
            .env_remove("ADBKEYS_STORE")
            .env_remove("ADBKEYS_TENANT")
            .env_remove("ADBKEYS_CLIPBOARD")
            .env("HOME", self.dir.path().join("home"))
            .env("XDG_DATA_HOME", self.dir.path().join("home/data"))
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("runs adbkeys"))
    }

    fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        run_with_stdin(self.command(args), input)
    }

    /// Runs `create NAME --save-private PATH`, without --json.
    fn create_saved_to(&self, name: &str, path: &Path) -> Run {
        self.run(&[
            "create",
            name,
            "--save-private",
            path.to_str().expect("UTF-8"),
        ])
    }

    /// Checks that no key pair was created in tenant `default`.
    #[track_caller]
    fn assert_no_key_pair_created(&self) {
        assert!(
            self.all_ids("default").is_empty(),
            "no key pair was created"
        );
    }

    /// Imports a public key line through stdin; the run's outcome, whatever it is.
    fn import_line(&self, tenant: &str, name: &str, line: &str) -> Run {
        self.run_with_stdin(
            &[
                "--json",
                "--tenant",
                tenant,
                "import",
                name,
                "--public-key",
                "-",
            ],
            line.as_bytes(),
        )
    }

    /// Imports, running again while the store is busy (exit 7: nothing was written), as a
    /// script would; gives up after 5 busy answers.
    fn import_line_until_not_busy(&self, tenant: &str, name: &str, line: &str) -> Run {
        let mut busy = 0;
        loop {
            let run = self.import_line(tenant, name, line);
            if run.code != 7 || busy == 5 {
                return run;
            }
            busy += 1;
            eprintln!(
                "store busy for '{name}' (attempt {busy}): {}",
                run.stdout.trim()
            );
        }
    }

    /// Imports and expects success; the new KeyPairId.
    fn import_ok(&self, tenant: &str, name: &str, line: &str) -> String {
        let run = self.import_line(tenant, name, line);
        run.assert_exit(0);
        run.key_pair_id()
    }

    /// Every KeyPairId of a tenant, following NextToken.
    fn all_ids(&self, tenant: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut token = String::new();
        loop {
            let mut args = vec!["--json", "--tenant", tenant, "list", "--max-results", "100"];
            if !token.is_empty() {
                args.extend(["--next-token", token.as_str()]);
            }
            let run = self.run(&args);
            run.assert_exit(0);
            let json = run.json();
            for item in json["Data"].as_array().expect("Data is a list") {
                ids.push(item["KeyPairId"].as_str().expect("KeyPairId").to_owned());
            }
            token = json["NextToken"].as_str().expect("NextToken").to_owned();
            if token.is_empty() {
                return ids;
            }
        }
    }
}

fn run_with_stdin(mut command: Command, input: &[u8]) -> Run {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts adbkeys");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input)
        .expect("writes stdin");
    Run::from(child.wait_with_output().expect("waits for adbkeys"))
}

/// One finished run of the binary.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output
                .status
                .code()
                .expect("adbkeys exited, not killed by a signal"),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }
}

impl Run {
    fn assert_exit(&self, code: i32) {
        assert_eq!(
            self.code, code,
            "exit code\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
    }

    /// The KeyPairId in the `Data` of a create or import answer.
    #[track_caller]
    fn key_pair_id(&self) -> String {
        self.json()["Data"]["KeyPairId"]
            .as_str()
            .expect("KeyPairId is a string")
            .to_owned()
    }

    /// Checks a successful run: exit code 0, and stdout's JSON keys are `keys`, in that order.
    #[track_caller]
    fn assert_ok_with_keys(&self, keys: &[&str]) {
        self.assert_exit(0);
        assert_eq!(keys_in_order(&self.stdout), keys);
    }

    /// stdout as exactly one JSON document.
    fn json(&self) -> Value {
        assert!(
            self.stdout.ends_with('\n') && self.stdout.trim_end().lines().count() == 1,
            "stdout is one JSON line: {:?}",
            self.stdout
        );
        serde_json::from_str(&self.stdout).expect("stdout is one JSON document")
    }

    /// Checks a JSON error: keys RequestId, Code, Message in that order, the code and exit code.
    fn assert_error(&self, code: &str, exit: i32) -> String {
        self.assert_exit(exit);
        assert_eq!(
            keys_in_order(&self.stdout),
            ["RequestId", "Code", "Message"]
        );
        let json = self.json();
        assert_request_id(json["RequestId"].as_str().expect("RequestId"));
        assert_eq!(json["Code"], code, "{}", self.stdout);
        let message = json["Message"].as_str().expect("Message").to_owned();
        assert!(!message.is_empty() && !message.contains('\n'), "{message}");
        message
    }
}

// ---------------------------------------------------------------------------------------------
// Checking forms

/// Every object key of a JSON text, in document order (nested keys where they appear). serde's
/// maps do not keep order, so the order is read from the text itself.
fn keys_in_order(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut keys = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '"' {
            i += 1;
            continue;
        }
        let mut string = String::new();
        i += 1;
        while chars[i] != '"' {
            if chars[i] == '\\' {
                i += 1;
            }
            string.push(chars[i]);
            i += 1;
        }
        i += 1;
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        if j < chars.len() && chars[j] == ':' {
            keys.push(string);
        }
    }
    keys
}

/// `kp-` and 17 characters of [a-z0-9].
fn assert_key_pair_id(id: &str) {
    let rest = id
        .strip_prefix("kp-")
        .unwrap_or_else(|| panic!("'{id}' starts with kp-"));
    assert_eq!(rest.len(), 17, "'{id}'");
    assert!(
        rest.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "'{id}'"
    );
}

/// An upper-case UUID v4: 8-4-4-4-12 hex digits, version 4, variant 10xx.
fn assert_request_id(id: &str) {
    let groups: Vec<&str> = id.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
    assert_eq!(lengths, [8, 4, 4, 4, 12], "'{id}'");
    assert!(
        id.chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('A'..='F').contains(&c)),
        "'{id}' is upper-case hex"
    );
    assert!(groups[2].starts_with('4'), "'{id}' is version 4");
    assert!(
        groups[3].starts_with(['8', '9', 'A', 'B']),
        "'{id}' has the RFC 4122 variant"
    );
}

/// `2024-06-30 08:45:09.0`, in UTC: within a minute of now.
fn assert_gmt_created(text: &str) {
    let shape: String = text
        .chars()
        .map(|c| if c.is_ascii_digit() { 'd' } else { c })
        .collect();
    assert_eq!(shape, "dddd-dd-dd dd:dd:dd.d", "'{text}'");
    let time = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap_or_else(|error| panic!("'{text}' is a time: {error}"));
    let age = chrono::Utc::now().naive_utc() - time;
    assert!(
        age >= chrono::Duration::seconds(-1) && age < chrono::Duration::seconds(120),
        "'{text}' is the current UTC time"
    );
}

/// Checks the answer to a create or an import of a key pair named `name`: a well-formed
/// KeyPairId, the name, the current time as GmtCreated and a well-formed RequestId. Gives the
/// answer.
#[track_caller]
fn assert_new_key_pair(run: &Run, name: &str) -> Value {
    let json = run.json();
    assert_key_pair_id(json["Data"]["KeyPairId"].as_str().expect("KeyPairId"));
    assert_eq!(json["Data"]["KeyPairName"], name);
    assert_gmt_created(json["Data"]["GmtCreated"].as_str().expect("GmtCreated"));
    assert_request_id(json["RequestId"].as_str().expect("RequestId"));
    json
}

// ---------------------------------------------------------------------------------------------
// Keys made in the test

/// A distinct, well-formed ADB public key line: a random odd 2048-bit modulus with exponent
/// 65537, encoded by the crate. The quota counts distinct public keys, and making real RSA keys
/// for a thousand imports would take minutes; the store never factors a modulus.
fn random_public_key_line(label: &str) -> String {
    let mut modulus = [0u8; 256];
    getrandom::fill(&mut modulus).expect("the OS gives random bytes");
    modulus[0] |= 0x80;
    modulus[255] |= 1;
    let n = BoxedUint::from_be_slice(&modulus, 2048).expect("256 bytes fit 2048 bits");
    let key = rsa::PublicKey::new(n, BoxedUint::from(65537u32)).expect("a valid public key");
    AdbPublicKey::from_rsa(&key)
        .expect("a 2048-bit key with e=65537 encodes")
        .to_line(label)
}

fn read_case(path: &str) -> String {
    fs::read_to_string(path).expect("reads a test key file")
}

/// The permission bits of the file at `path`.
fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

// ---------------------------------------------------------------------------------------------
// Subcommands: JSON shapes

#[test]
fn create_returns_its_fields_in_order_and_a_pem_private_key() {
    let sandbox = Sandbox::new();

    let run = sandbox.run(&["--json", "create", "web-01"]);

    run.assert_ok_with_keys(&[
        "Data",
        "KeyPairId",
        "KeyPairName",
        "PrivateKeyBody",
        "GmtCreated",
        "RequestId",
    ]);
    let json = assert_new_key_pair(&run, "web-01");

    let pem = json["Data"]["PrivateKeyBody"]
        .as_str()
        .expect("PrivateKeyBody");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    assert!(pem.ends_with("-----END PRIVATE KEY-----\n"), "{pem}");
    assert!(!pem.contains('\r'));
    let body: Vec<&str> = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    assert!(body[..body.len() - 1].iter().all(|line| line.len() == 64));
    let key = rsa::PrivateKey::from_pkcs8_pem(pem).expect("PKCS#8 PEM parses");
    assert_eq!(key.n().bit_width(), 2048);
    assert_eq!(key.e(), &BoxedUint::from(65537u32));
}

#[test]
fn create_without_json_prints_only_the_pem_on_stdout() {
    let sandbox = Sandbox::new();

    let run = sandbox.run(&["create", "web-01"]);

    run.assert_exit(0);
    assert!(
        run.stdout.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.ends_with("-----END PRIVATE KEY-----\n"));
    assert!(run.stderr.contains("'web-01'"), "{}", run.stderr);
    rsa::PrivateKey::from_pkcs8_pem(&run.stdout).expect("stdout is the PEM alone");
}

#[test]
fn import_and_show_give_the_adb_keygen_key_and_its_fingerprints() {
    let sandbox = Sandbox::new();
    let line = read_case(CASE_PUBLIC_KEY);

    let run = sandbox.run(&[
        "--json",
        "import",
        "laptop",
        "--public-key",
        CASE_PUBLIC_KEY,
    ]);

    run.assert_ok_with_keys(&[
        "Data",
        "KeyPairId",
        "KeyPairName",
        "GmtCreated",
        "RequestId",
    ]);
    let json = assert_new_key_pair(&run, "laptop");
    let id = json["Data"]["KeyPairId"].as_str().expect("KeyPairId");

    let show = sandbox.run(&["--json", "show", id]);
    show.assert_ok_with_keys(&[
        "Data",
        "KeyPairId",
        "KeyPairName",
        "GmtCreated",
        "Source",
        "PublicKeyBody",
        "FingerprintMd5",
        "FingerprintSha256",
        "RequestId",
    ]);
    let detail = show.json();
    assert_eq!(detail["Data"]["KeyPairId"], id);
    assert_eq!(detail["Data"]["KeyPairName"], "laptop");
    assert_eq!(detail["Data"]["GmtCreated"], json["Data"]["GmtCreated"]);
    assert_eq!(detail["Data"]["Source"], "Imported");
    assert_eq!(detail["Data"]["PublicKeyBody"], line.as_str());
    assert_eq!(detail["Data"]["FingerprintMd5"], CASE_MD5);
    assert_eq!(detail["Data"]["FingerprintSha256"], CASE_SHA256);
    assert_request_id(detail["RequestId"].as_str().expect("RequestId"));
}

#[test]
fn import_of_a_private_key_from_stdin_keeps_its_public_half() {
    let sandbox = Sandbox::new();
    let pem = fs::read(CASE_PRIVATE_KEY).expect("reads adbkey");
    let base64_part = read_case(CASE_PUBLIC_KEY)
        .split(' ')
        .next()
        .expect("a base64 part")
        .to_owned();

    let run = sandbox.run_with_stdin(&["--json", "import", "laptop", "--private-key", "-"], &pem);

    run.assert_exit(0);
    let id = run.key_pair_id();
    let detail = sandbox.run(&["--json", "show", &id]).json();
    let body = detail["Data"]["PublicKeyBody"]
        .as_str()
        .expect("PublicKeyBody");
    assert_eq!(body.split(' ').next(), Some(base64_part.as_str()));
    assert_eq!(detail["Data"]["FingerprintMd5"], CASE_MD5);
}

#[test]
fn list_pages_oldest_first_with_tokens_and_counts_every_match() {
    let sandbox = Sandbox::new();
    let names = ["web-01", "web-02", "db-01", "web-03"];
    let ids: Vec<String> = names
        .iter()
        .map(|name| sandbox.import_ok("default", name, &random_public_key_line("t@h")))
        .collect();

    let first = sandbox.run(&["--json", "list", "--max-results", "2"]);
    first.assert_ok_with_keys(&[
        "NextToken",
        "Data",
        "KeyPairId",
        "KeyPairName",
        "GmtCreated",
        "KeyPairId",
        "KeyPairName",
        "GmtCreated",
        "TotalCount",
        "RequestId",
    ]);
    let first = first.json();
    assert_eq!(first["TotalCount"], 4);
    assert_eq!(first["Data"][0]["KeyPairId"], ids[0].as_str());
    assert_eq!(first["Data"][1]["KeyPairId"], ids[1].as_str());
    assert_gmt_created(first["Data"][0]["GmtCreated"].as_str().expect("GmtCreated"));
    assert_request_id(first["RequestId"].as_str().expect("RequestId"));
    let token = first["NextToken"].as_str().expect("NextToken");
    assert!(!token.is_empty());

    let second = sandbox.run(&[
        "--json",
        "list",
        "--max-results",
        "2",
        "--next-token",
        token,
    ]);
    second.assert_exit(0);
    let second = second.json();
    assert_eq!(second["Data"][0]["KeyPairId"], ids[2].as_str());
    assert_eq!(second["Data"][1]["KeyPairId"], ids[3].as_str());
    assert_eq!(second["NextToken"], "");
    assert_eq!(second["TotalCount"], 4);

    let default_page = sandbox.run(&["--json", "list"]).json();
    assert_eq!(default_page["Data"].as_array().map(Vec::len), Some(4));
    assert_eq!(default_page["NextToken"], "");

    let glob = sandbox.run(&["--json", "list", "--name", "web-*"]).json();
    assert_eq!(glob["TotalCount"], 3);
    let exact = sandbox.run(&["--json", "list", "--name", "web-0"]).json();
    assert_eq!(exact["TotalCount"], 0);
    let by_id = sandbox
        .run(&["--json", "list", "--id", &ids[3], "--id", &ids[0]])
        .json();
    assert_eq!(by_id["TotalCount"], 2);
    assert_eq!(by_id["Data"][0]["KeyPairId"], ids[0].as_str());
}

#[test]
fn list_refuses_tokens_it_did_not_issue_and_page_sizes_out_of_range() {
    let sandbox = Sandbox::new();
    for name in ["a1", "a2", "a3"] {
        sandbox.import_ok("default", name, &random_public_key_line("t@h"));
    }
    let token = sandbox
        .run(&["--json", "list", "--max-results", "1"])
        .json()["NextToken"]
        .as_str()
        .expect("NextToken")
        .to_owned();

    let mut tampered: Vec<char> = token.chars().collect();
    tampered[4] = if tampered[4] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    for bad in ["garbage", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", tampered.as_str()] {
        let run = sandbox.run(&["--json", "list", "--next-token", bad]);
        run.assert_error("InvalidParameter.NextToken", 3);
    }
    let other_tenant = sandbox.run(&[
        "--json",
        "--tenant",
        "other",
        "list",
        "--next-token",
        &token,
    ]);
    other_tenant.assert_error("InvalidParameter.NextToken", 3);
    let other_filter = sandbox.run(&["--json", "list", "--name", "a*", "--next-token", &token]);
    other_filter.assert_error("InvalidParameter.NextToken", 3);

    for bad in ["0", "101", "-1", "99999999999"] {
        let run = sandbox.run(&["--json", "list", "--max-results", bad]);
        run.assert_error("InvalidParameter.MaxResults", 3);
    }
    for good in ["1", "100"] {
        sandbox
            .run(&["--json", "list", "--max-results", good])
            .assert_exit(0);
    }
}

#[test]
fn list_without_json_shows_every_match_as_a_table() {
    let sandbox = Sandbox::new();
    let ids: Vec<String> = (0..12)
        .map(|i| {
            sandbox.import_ok(
                "default",
                &format!("node-{i:02}"),
                &random_public_key_line("t@h"),
            )
        })
        .collect();

    let run = sandbox.run(&["list"]);

    run.assert_exit(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 13, "a header and 12 rows: {}", run.stdout);
    assert!(lines[0].starts_with("ID"), "{}", lines[0]);
    for (line, id) in lines[1..].iter().zip(&ids) {
        assert!(line.starts_with(id.as_str()), "{line}");
    }
}

#[test]
fn delete_is_all_or_nothing_and_needs_yes_without_a_terminal() {
    let sandbox = Sandbox::new();
    let first = sandbox.import_ok("default", "one", &random_public_key_line("t@h"));
    let second = sandbox.import_ok("default", "two", &random_public_key_line("t@h"));

    let unconfirmed = sandbox.run(&["--json", "delete", &first]);
    unconfirmed.assert_exit(2);
    assert!(unconfirmed.stdout.is_empty());
    assert!(
        unconfirmed.stderr.contains("--yes"),
        "{}",
        unconfirmed.stderr
    );

    let unknown = "kp-00000000000000000";
    let partial = sandbox.run(&["--json", "delete", "--yes", &first, unknown]);
    let message = partial.assert_error("InvalidKeyPairId.NotFound", 4);
    assert!(message.contains(unknown), "{message}");
    assert_eq!(sandbox.all_ids("default"), [first.clone(), second.clone()]);

    let run = sandbox.run(&["--json", "delete", "--yes", &first, &second]);
    run.assert_ok_with_keys(&["RequestId"]);
    assert_request_id(run.json()["RequestId"].as_str().expect("RequestId"));
    assert!(sandbox.all_ids("default").is_empty());
}

#[test]
fn rename_changes_the_name_and_keeps_names_unique() {
    let sandbox = Sandbox::new();
    let first = sandbox.import_ok("default", "one", &random_public_key_line("t@h"));
    sandbox.import_ok("default", "two", &random_public_key_line("t@h"));

    let run = sandbox.run(&["--json", "rename", &first, "uno"]);
    run.assert_ok_with_keys(&["RequestId"]);
    assert_eq!(
        sandbox.run(&["--json", "show", &first]).json()["Data"]["KeyPairName"],
        "uno"
    );

    let taken = sandbox.run(&["--json", "rename", &first, "two"]);
    taken.assert_error("InvalidKeyPairName.Duplicate", 6);
    let invalid = sandbox.run(&["--json", "rename", &first, "1st"]);
    invalid.assert_error("InvalidParameter.KeyPairName", 3);
    let unknown = sandbox.run(&["--json", "rename", "kp-00000000000000000", "three"]);
    unknown.assert_error("InvalidKeyPairId.NotFound", 4);
}

#[test]
fn tenants_lists_each_tenant_with_its_count_and_quota() {
    let sandbox = Sandbox::new();
    sandbox.import_ok("alpha", "one", &random_public_key_line("t@h"));
    sandbox.import_ok("alpha", "two", &random_public_key_line("t@h"));
    sandbox.import_ok("beta.team", "one", &random_public_key_line("t@h"));

    let run = sandbox.run(&["--json", "tenants"]);

    run.assert_ok_with_keys(&[
        "Data",
        "Tenant",
        "KeyPairCount",
        "Quota",
        "Tenant",
        "KeyPairCount",
        "Quota",
        "RequestId",
    ]);
    let json = run.json();
    assert_eq!(json["Data"][0]["Tenant"], "alpha");
    assert_eq!(json["Data"][0]["KeyPairCount"], 2);
    assert_eq!(json["Data"][0]["Quota"], 500);
    assert_eq!(json["Data"][1]["Tenant"], "beta.team");
    assert_eq!(json["Data"][1]["KeyPairCount"], 1);
    assert_request_id(json["RequestId"].as_str().expect("RequestId"));
}

#[test]
fn export_writes_the_adb_keys_file_of_the_tenant() {
    let sandbox = Sandbox::new();
    let lines: Vec<String> = (0..3)
        .map(|i| random_public_key_line(&format!("u{i}@h")))
        .collect();
    let ids: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| sandbox.import_ok("default", &format!("k{i}"), line))
        .collect();
    sandbox.import_ok("other", "elsewhere", &random_public_key_line("o@h"));

    let all = sandbox.run(&["export-adb-keys"]);
    all.assert_exit(0);
    assert_eq!(
        all.stdout,
        format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2])
    );

    let some = sandbox.run(&["export-adb-keys", "--id", &ids[2], "--id", &ids[0]]);
    assert_eq!(some.stdout, format!("{}\n{}\n", lines[0], lines[2]));

    let file = sandbox.path("adb_keys");
    let written = sandbox.run(&["export-adb-keys", "--output", file.to_str().expect("UTF-8")]);
    written.assert_exit(0);
    assert_eq!(
        fs::read_to_string(&file).expect("reads adb_keys"),
        all.stdout
    );

    let again = sandbox.run(&[
        "--json",
        "export-adb-keys",
        "--output",
        file.to_str().expect("UTF-8"),
    ]);
    again.assert_exit(2);
    assert!(again.stdout.is_empty());
    let forced = sandbox.run(&[
        "--json",
        "export-adb-keys",
        "--force",
        "--id",
        &ids[1],
        "--output",
        file.to_str().expect("UTF-8"),
    ]);
    forced.assert_ok_with_keys(&["Data", "KeyPairCount", "AdbKeys", "RequestId"]);
    assert_eq!(forced.json()["Data"]["KeyPairCount"], 1);
    assert_eq!(
        fs::read_to_string(&file).expect("reads adb_keys"),
        format!("{}\n", lines[1])
    );

    let unknown = sandbox.run(&["--json", "export-adb-keys", "--id", "kp-00000000000000000"]);
    unknown.assert_error("InvalidKeyPairId.NotFound", 4);
}

#[test]
fn find_names_the_key_pairs_of_a_private_key_in_one_or_all_tenants() {
    let sandbox = Sandbox::new();
    let line = read_case(CASE_PUBLIC_KEY);
    let in_alpha = sandbox.import_ok("alpha", "laptop", &line);
    let in_beta = sandbox.import_ok("beta", "old-laptop", &line);
    sandbox.import_ok("alpha", "other", &random_public_key_line("t@h"));

    let one = sandbox.run(&[
        "--json",
        "--tenant",
        "alpha",
        "find",
        "--private-key",
        CASE_PRIVATE_KEY,
    ]);
    one.assert_ok_with_keys(&["Data", "Tenant", "KeyPairId", "KeyPairName", "RequestId"]);
    let one = one.json();
    assert_eq!(one["Data"][0]["Tenant"], "alpha");
    assert_eq!(one["Data"][0]["KeyPairId"], in_alpha.as_str());
    assert_eq!(one["Data"][0]["KeyPairName"], "laptop");

    let all = sandbox.run(&[
        "--json",
        "find",
        "--all-tenants",
        "--private-key",
        CASE_PRIVATE_KEY,
    ]);
    all.assert_exit(0);
    let found: BTreeSet<(String, String)> = all.json()["Data"]
        .as_array()
        .expect("Data is a list")
        .iter()
        .map(|item| {
            (
                item["Tenant"].as_str().expect("Tenant").to_owned(),
                item["KeyPairId"].as_str().expect("KeyPairId").to_owned(),
            )
        })
        .collect();
    let expected = BTreeSet::from([("alpha".to_owned(), in_alpha), ("beta".to_owned(), in_beta)]);
    assert_eq!(found, expected);

    let none = sandbox.run(&["--json", "find", "--private-key", CASE_PRIVATE_KEY]);
    none.assert_exit(0);
    assert_eq!(none.json()["Data"], Value::Array(Vec::new()));

    let not_private = sandbox.run(&["--json", "find", "--private-key", CASE_PUBLIC_KEY]);
    not_private.assert_error("InvalidParameter.PublicKeyBody", 3);
}

// ---------------------------------------------------------------------------------------------
// Error codes and exit codes

#[test]
fn each_invalid_parameter_has_its_code_and_exit_code_3() {
    let sandbox = Sandbox::new();

    let name = sandbox.run(&["--json", "create", "1st-key"]);
    let message = name.assert_error("InvalidParameter.KeyPairName", 3);
    assert!(message.contains('1'), "names the position: {message}");

    let tenant = sandbox.run(&["--json", "--tenant", ".hidden", "list"]);
    tenant.assert_error("InvalidParameter.Tenant", 3);

    let openssh = sandbox.run(&["--json", "import", "ssh", "--public-key", CASE_OPENSSH_KEY]);
    let message = openssh.assert_error("InvalidParameter.PublicKeyBody", 3);
    assert!(message.contains("adb pubkey"), "{message}");

    let missing = sandbox.run(&[
        "--json",
        "import",
        "gone",
        "--public-key",
        "/nonexistent/key.pub",
    ]);
    let message = missing.assert_error("InvalidParameter.PublicKeyBody", 3);
    assert!(message.contains("/nonexistent/key.pub"), "{message}");
}

#[test]
fn duplicates_are_refused_with_exit_code_6() {
    let sandbox = Sandbox::new();
    let line = random_public_key_line("t@h");
    let id = sandbox.import_ok("default", "first", &line);

    let same_name = sandbox.import_line("default", "first", &random_public_key_line("t@h"));
    same_name.assert_error("InvalidKeyPairName.Duplicate", 6);
    let same_name_create = sandbox.run(&["--json", "create", "first"]);
    same_name_create.assert_error("InvalidKeyPairName.Duplicate", 6);

    let same_key = sandbox.import_line("default", "second", &line);
    let message = same_key.assert_error("InvalidPublicKey.Duplicate", 6);
    assert!(
        message.contains(&id),
        "names the existing KeyPairId: {message}"
    );

    sandbox.import_ok("other-tenant", "first", &line);
}

#[test]
fn unknown_ids_are_not_found_with_exit_code_4() {
    let sandbox = Sandbox::new();

    let run = sandbox.run(&["--json", "show", "kp-abcdefghij0123456"]);

    let message = run.assert_error("InvalidKeyPairId.NotFound", 4);
    assert!(message.contains("kp-abcdefghij0123456"), "{message}");
}

#[test]
fn a_held_store_is_busy_after_five_seconds_with_exit_code_7() {
    let sandbox = Sandbox::new();
    sandbox.run(&["--json", "tenants"]).assert_exit(0);
    let holder = sled::open(sandbox.store()).expect("the test holds the store");

    let started = std::time::Instant::now();
    let run = sandbox.run(&["--json", "list"]);

    run.assert_error("StoreBusy", 7);
    assert!(started.elapsed() >= std::time::Duration::from_secs(5));
    drop(holder);
}

#[test]
fn a_store_that_cannot_be_opened_is_an_internal_error_with_exit_code_1() {
    let sandbox = Sandbox::new();
    fs::write(sandbox.store(), b"not a directory").expect("puts a file where the store goes");

    let run = sandbox.run(&["--json", "list"]);

    let message = run.assert_error("InternalError", 1);
    assert_eq!(
        message,
        format!(
            "list: store '{}': not a directory",
            sandbox.store().display()
        )
    );
}

#[test]
fn usage_errors_exit_2_with_the_message_on_stderr() {
    let sandbox = Sandbox::new();

    for args in [
        &["--json", "list", "--max-results", "many"][..],
        &["--json", "import", "x"],
        &[
            "--json",
            "import",
            "x",
            "--public-key",
            "a",
            "--private-key",
            "b",
        ],
        &["--json", "frobnicate"],
        &["--json", "create"],
    ] {
        let run = sandbox.run(args);
        run.assert_exit(2);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(!run.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn errors_without_json_are_one_line_on_stderr() {
    let sandbox = Sandbox::new();

    let run = sandbox.run(&["show", "kp-abcdefghij0123456"]);

    run.assert_exit(4);
    assert!(run.stdout.is_empty());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("adbkeys: "), "{}", run.stderr);
}

// ---------------------------------------------------------------------------------------------
// The quota and uniqueness, also across processes

const QUOTA: usize = 500;

/// Eight workers, each on a thread of its own, that start together: each makes its input with
/// `prepare`, then they wait for each other, and `race` runs in all of them at once. Both are
/// given the worker's number; gives what `race` gave in each, in worker order.
fn eight_at_once<I, T: Send>(
    prepare: impl Fn(usize) -> I + Sync,
    race: impl Fn(usize, I) -> T + Sync,
) -> Vec<T> {
    const WORKERS: usize = 8;
    let barrier = Barrier::new(WORKERS);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|worker| {
                let (barrier, prepare, race) = (&barrier, &prepare, &race);
                scope.spawn(move || {
                    let input = prepare(worker);
                    barrier.wait();
                    race(worker, input)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a worker thread finished"))
            .collect()
    })
}

#[test]
fn the_501st_import_exceeds_the_quota() {
    let sandbox = Sandbox::new();

    for i in 0..QUOTA {
        sandbox.import_ok("default", &format!("k{i}"), &random_public_key_line("t@h"));
    }
    let over = sandbox.import_line("default", "k500", &random_public_key_line("t@h"));
    over.assert_error("QuotaExceeded.KeyPair", 5);
    let create = sandbox.run(&["--json", "create", "k501"]);
    create.assert_error("QuotaExceeded.KeyPair", 5);

    assert_eq!(sandbox.all_ids("default").len(), QUOTA);
    let tenants = sandbox.run(&["--json", "tenants"]).json();
    assert_eq!(tenants["Data"][0]["KeyPairCount"], QUOTA);
    sandbox.import_ok("second", "k0", &random_public_key_line("t@h"));
}

#[test]
fn eight_processes_importing_at_once_store_exactly_the_quota() {
    const PER_PROCESS: usize = 70;
    let sandbox = Sandbox::new();

    let outcomes: Vec<Vec<Run>> = eight_at_once(
        |_| -> Vec<String> {
            (0..PER_PROCESS)
                .map(|_| random_public_key_line("t@h"))
                .collect()
        },
        |worker, lines| {
            let mut outcomes = Vec::new();
            for (i, line) in lines.iter().enumerate() {
                let name = format!("w{worker}-k{i}");
                outcomes.push(sandbox.import_line_until_not_busy("default", &name, line));
            }
            outcomes
        },
    );

    let mut succeeded = BTreeSet::new();
    for run in outcomes.iter().flatten() {
        match run.code {
            0 => {
                let id = run.key_pair_id();
                assert!(succeeded.insert(id.clone()), "'{id}' reported twice");
            }
            _ => {
                run.assert_error("QuotaExceeded.KeyPair", 5);
            }
        }
    }
    assert_eq!(succeeded.len(), QUOTA);
    let stored: BTreeSet<String> = sandbox.all_ids("default").into_iter().collect();
    assert_eq!(
        stored, succeeded,
        "every reported success is stored, and nothing else"
    );
}

#[test]
fn eight_processes_importing_one_name_at_once_leave_one_winner() {
    let sandbox = Sandbox::new();

    let runs: Vec<Run> = eight_at_once(
        |_| random_public_key_line("t@h"),
        |_, line| sandbox.import_line_until_not_busy("default", "contested", &line),
    );

    let winners: Vec<&Run> = runs.iter().filter(|run| run.code == 0).collect();
    assert_eq!(winners.len(), 1, "exactly one import wins");
    for run in runs.iter().filter(|run| run.code != 0) {
        run.assert_error("InvalidKeyPairName.Duplicate", 6);
    }
    let winner = winners[0].key_pair_id();
    assert_eq!(sandbox.all_ids("default"), [winner]);
}

// ---------------------------------------------------------------------------------------------
// Private keys: never at rest in the store, saved files that adb reads

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("lists a store directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = fs::read(&path).expect("reads a store file");
                found.push((path, bytes));
            }
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// The byte strings that would betray a private key: each base64 line of its PEM, the DER of
/// the whole key, its private exponent big- and little-endian, and every 32-byte window of the
/// exponent at 16-byte steps.
fn secret_needles(pem: &str) -> Vec<(String, Vec<u8>)> {
    let key = rsa::PrivateKey::from_pkcs8_pem(pem).expect("the private key parses");
    let d = key.d().to_be_bytes_trimmed_vartime().to_vec();
    let der: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();

    let mut needles = Vec::new();
    for line in pem
        .lines()
        .filter(|line| line.len() >= 16 && !line.starts_with("-----"))
    {
        needles.push((format!("PEM line '{line}'"), line.as_bytes().to_vec()));
    }
    needles.push((
        "the PKCS#8 DER".into(),
        BASE64.decode(der).expect("PEM body is base64"),
    ));
    needles.push(("d, big-endian".into(), d.clone()));
    needles.push(("d, little-endian".into(), d.iter().rev().copied().collect()));
    for start in (0..d.len().saturating_sub(32)).step_by(16) {
        needles.push((
            format!("d[{start}..{}]", start + 32),
            d[start..start + 32].to_vec(),
        ));
    }
    needles
}

#[test]
fn no_private_key_is_at_rest_in_the_store() {
    let sandbox = Sandbox::new();
    let mut pems = Vec::new();
    let mut public_bodies = Vec::new();
    for name in ["alpha", "beta", "gamma"] {
        let json = sandbox.run(&["--json", "create", name]).json();
        pems.push(
            json["Data"]["PrivateKeyBody"]
                .as_str()
                .expect("PEM")
                .to_owned(),
        );
        let id = json["Data"]["KeyPairId"].as_str().expect("KeyPairId");
        let detail = sandbox.run(&["--json", "show", id]).json();
        public_bodies.push(
            detail["Data"]["PublicKeyBody"]
                .as_str()
                .expect("body")
                .to_owned(),
        );
    }
    let saved = sandbox.path("saved");
    sandbox.create_saved_to("delta", &saved).assert_exit(0);
    pems.push(fs::read_to_string(&saved).expect("reads the saved key"));
    sandbox
        .run(&["import", "imported", "--private-key", CASE_PRIVATE_KEY])
        .assert_exit(0);
    pems.push(read_case(CASE_PRIVATE_KEY));

    let files = files_under(&sandbox.store());
    let store_bytes: Vec<u8> = files.iter().flat_map(|(_, bytes)| bytes.clone()).collect();
    for body in &public_bodies {
        let base64_part = body.split(' ').next().expect("base64");
        assert!(
            contains(&store_bytes, base64_part.as_bytes()),
            "the search reads the store's records (public key not found)"
        );
    }
    for pem in &pems {
        for (what, needle) in secret_needles(pem) {
            for (path, bytes) in &files {
                assert!(!contains(bytes, &needle), "{} holds {what}", path.display());
            }
        }
    }
}

/// The real adb, which the test command installs.
fn adb() -> Command {
    let found = Command::new("adb").arg("version").output();
    assert!(
        found.is_ok_and(|output| output.status.success()),
        "the real adb client is needed: run ./scripts/test or `apt-get install -y adb`"
    );
    Command::new("adb")
}

#[test]
fn a_saved_private_key_is_what_adb_pubkey_reads_as_the_stored_key() {
    let sandbox = Sandbox::new();
    let file = sandbox.path("phone-a.adb_key");
    let file_arg = file.to_str().expect("UTF-8");

    let run = sandbox
        .command(&["--json", "create", "phone-a", "--save-private", file_arg])
        .env("LOGNAME", "tester")
        .env("HOSTNAME", "testhost")
        .output()
        .map(Run::from)
        .expect("runs adbkeys");
    run.assert_exit(0);
    let json = run.json();
    let id = json["Data"]["KeyPairId"].as_str().expect("KeyPairId");
    let saved = fs::read_to_string(&file).expect("reads the private key");
    assert_eq!(saved, json["Data"]["PrivateKeyBody"].as_str().expect("PEM"));
    assert_eq!(mode_of(&file), 0o600, "the private key file is mode 0600");

    let pubkey = adb()
        .arg("pubkey")
        .arg(&file)
        .env("HOME", sandbox.path("home"))
        .env("LOGNAME", "tester")
        .env("HOSTNAME", "testhost")
        .output()
        .expect("runs adb pubkey");
    assert!(
        pubkey.status.success(),
        "{}",
        String::from_utf8_lossy(&pubkey.stderr)
    );
    let adb_line = String::from_utf8(pubkey.stdout).expect("adb prints text");

    let stored = sandbox.run(&["--json", "show", id]).json()["Data"]["PublicKeyBody"]
        .as_str()
        .expect("PublicKeyBody")
        .to_owned();
    assert_eq!(
        adb_line,
        format!("{stored}\n"),
        "adb pubkey prints the stored line"
    );
    assert!(stored.ends_with(" tester@testhost"), "{stored}");
    let public_file = fs::read_to_string(sandbox.path("phone-a.adb_key.pub")).expect("reads .pub");
    assert_eq!(
        public_file, stored,
        "FILE.pub is the line, without a newline, as adb keygen"
    );
}

#[test]
fn save_private_refuses_existing_files_without_force() {
    let sandbox = Sandbox::new();
    let file = sandbox.path("adbkey");
    let file_arg = file.to_str().expect("UTF-8");
    fs::write(&file, "keep me").expect("seeds an existing key file");

    let refused = sandbox.run(&["--json", "create", "phone-a", "--save-private", file_arg]);
    refused.assert_exit(2);
    assert!(refused.stdout.is_empty());
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(fs::read_to_string(&file).expect("reads"), "keep me");
    sandbox.assert_no_key_pair_created();

    let other = sandbox.path("other");
    fs::write(sandbox.path("other.pub"), "keep me too").expect("seeds an existing .pub");
    let refused = sandbox.create_saved_to("phone-b", &other);
    refused.assert_exit(2);
    assert!(!other.exists());
    sandbox.assert_no_key_pair_created();

    let forced = sandbox.run(&[
        "--json",
        "create",
        "phone-a",
        "--save-private",
        file_arg,
        "--force",
    ]);
    forced.assert_exit(0);
    let pem = forced.json()["Data"]["PrivateKeyBody"]
        .as_str()
        .expect("PEM")
        .to_owned();
    assert_eq!(fs::read_to_string(&file).expect("reads"), pem);
    assert_eq!(mode_of(&file), 0o600);

    let human = sandbox.create_saved_to("phone-c", &other);
    human.assert_exit(2);
    let fresh = sandbox.path("fresh");
    let human = sandbox.create_saved_to("phone-c", &fresh);
    human.assert_exit(0);
    assert!(
        !human.stdout.contains("PRIVATE KEY"),
        "a saved key is not printed"
    );
    let leftovers: Vec<_> = fs::read_dir(sandbox.dir.path())
        .expect("lists")
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file is left: {leftovers:?}"
    );
}

/// `command` run through `sh` with the umask at 022, the usual default of a login shell.
fn under_umask_022(command: &Command) -> Command {
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(r#"umask 022 && exec "$@""#)
        .arg("sh")
        .arg(command.get_program())
        .args(command.get_args())
        .stdin(Stdio::null());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => shell.env(key, value),
            None => shell.env_remove(key),
        };
    }
    shell
}

/// The modes of FILE and FILE.pub: both of `adbkeys create --save-private FILE` and of
/// `adb keygen FILE`, run under the usual umask 022 (adbkeys sets 077 itself, which must not
/// narrow the `.pub`).
#[test]
fn saved_files_have_the_modes_adb_keygen_gives_them() {
    let sandbox = Sandbox::new();
    let ours = sandbox.path("ours.adb_key");
    let theirs = sandbox.path("theirs.adb_key");
    let modes = |file: &Path| {
        [
            file.to_path_buf(),
            PathBuf::from(format!("{}.pub", file.display())),
        ]
        .map(|path| mode_of(&path))
    };

    let mut keygen = adb();
    keygen
        .arg("keygen")
        .arg(&theirs)
        .env("HOME", sandbox.path("home"));
    let keygen = under_umask_022(&keygen).output().expect("runs adb keygen");
    assert!(
        keygen.status.success(),
        "{}",
        String::from_utf8_lossy(&keygen.stderr)
    );
    let mut create = sandbox.command(&["create", "phone-a", "--save-private"]);
    create.arg(&ours);
    Run::from(under_umask_022(&create).output().expect("runs adbkeys")).assert_exit(0);

    assert_eq!(modes(&theirs), [0o600, 0o644], "what adb keygen writes");
    assert_eq!(modes(&ours), modes(&theirs));

    let exported = sandbox.path("adb_keys");
    sandbox
        .run(&[
            "export-adb-keys",
            "--output",
            exported.to_str().expect("UTF-8"),
        ])
        .assert_exit(0);
    assert_eq!(
        mode_of(&exported),
        0o644,
        "an adb_keys file is public, as the .pub"
    );
}

#[test]
fn a_directory_as_the_file_is_a_usage_error_even_with_force() {
    let sandbox = Sandbox::new();
    let directory = sandbox.path("keys");
    fs::create_dir(&directory).expect("makes a directory");
    let directory_arg = directory.to_str().expect("UTF-8");

    for args in [
        vec![
            "create",
            "phone-a",
            "--save-private",
            directory_arg,
            "--force",
        ],
        vec!["export-adb-keys", "--output", directory_arg, "--force"],
    ] {
        let refused = sandbox.run(&args);
        refused.assert_exit(2);
        assert!(
            refused.stderr.contains(&format!(
                "'{directory_arg}' is a directory; give the path of a file"
            )),
            "{args:?}: {}",
            refused.stderr
        );
    }
    sandbox.assert_no_key_pair_created();
    assert_eq!(fs::read_dir(&directory).expect("lists").count(), 0);
}

#[test]
fn the_console_without_a_terminal_says_so_and_writes_nothing_to_stdout() {
    let sandbox = Sandbox::new();
    for args in [&["--json"][..], &[], &["tui"]] {
        // stdin is /dev/null and stdout a pipe: no terminal to draw on.
        let output = sandbox.command(args).output().expect("runs adbkeys");

        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            output.stdout.is_empty(),
            "{args:?}: stdout holds {:?}",
            String::from_utf8_lossy(&output.stdout)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            "adbkeys: the console needs a terminal; use a subcommand, see --help\n",
            "{args:?}"
        );
    }
    assert!(
        !sandbox.store().exists(),
        "the console must not open the store"
    );
}
